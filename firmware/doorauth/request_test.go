package doorauth

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestParseOK(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    Request
	}{
		{`{"action":"open","code":"1234"}`, Request{Action: "open", Code: "1234"}},
		{" \n{\"code\":\"123456789012\", \"action\":\"open\"}\n", Request{Action: "open", Code: "123456789012"}},
		{`{"action":"open","device":"front-1","ts":1733456789,"nonce":"0123456789ABCDEF","mac":"` + strings.Repeat("ab", 32) + `"}`,
			Request{Action: "open", Device: "front-1", TS: 1733456789, Nonce: "0123456789ABCDEF", MAC: strings.Repeat("ab", 32)}},
	} {
		got, err := Parse([]byte(tc.payload))
		if err != nil || got != tc.want {
			t.Errorf("Parse(%s) = %+v, %v; want %+v", tc.payload, got.String(), err, tc.want.String())
		}
	}
}

func TestParseErrors(t *testing.T) {
	mac := strings.Repeat("0", 64)
	signed := func(extra string) string {
		return `{"action":"open","device":"front","ts":1733456789,"nonce":"0123456789abcdef","mac":"` + mac + `"` + extra + `}`
	}
	for _, tc := range []struct {
		payload  string
		sentinel error
		detail   string
	}{
		{strings.Repeat(" ", MaxPayload+1), ErrTooLarge, "payload of 1025 bytes, at most 1024"},
		{``, ErrMalformed, "empty payload; want a JSON object " + example},
		{`PRESS`, ErrMalformed, "not valid JSON; want a JSON object " + example},
		{`["open"]`, ErrMalformed, "not a JSON object; want one " + example},
		{`{"action":"open","code":"1234"`, ErrMalformed, "not valid JSON"},
		{`{"action":"open","code":"1234"}{}`, ErrMalformed, "data after the JSON object"},
		{`{}`, ErrMalformed, `no action; want "open"`},
		{`{"action":"open"}`, ErrMalformed, "neither a code nor a signature; want a JSON object " + example},
		{`{"action":"open","code":"1234","Code":"1"}`, ErrMalformed, `unknown field "Code"; allowed: action, code, device, ts, nonce, mac`},
		{`{"action":"open","code":"1234","action":"open"}`, ErrMalformed, `field "action" given twice`},
		{`{"action":"open","code":"1234","code":"5678"}`, ErrMalformed, `field "code" given twice`},
		{`{"action":"unlock","code":"1234"}`, ErrMalformed, `action "unlock": only "open" is allowed`},
		{`{"action":1,"code":"1234"}`, ErrMalformed, `action: want the string "open"`},
		{`{"action":"open","code":1234}`, ErrMalformed, "code: want a string of 4 to 12 digits, in quotes"},
		{`{"action":"open","code":null}`, ErrMalformed, "code: want a string of 4 to 12 digits, in quotes"},
		{`{"action":"open","code":"123"}`, ErrMalformed, "code: want 4 to 12 digits (0-9)"},
		{`{"action":"open","code":"1234567890123"}`, ErrMalformed, "code: want 4 to 12 digits (0-9)"},
		{`{"action":"open","code":"١٢٣٤"}`, ErrMalformed, "code: want 4 to 12 digits (0-9)"},
		{`{"action":"open","code":""}`, ErrMalformed, "code: want 4 to 12 digits (0-9)"},
		{`{"action":"open","code":"1234","ts":1}`, ErrMalformed, "both a code and signed fields (device, ts, nonce, mac): send one or the other"},
		{`{"action":"open","device":"front"}`, ErrMalformed, "signed request without ts, nonce, mac (it needs device, ts, nonce and mac)"},
		{strings.Replace(signed(""), `"front"`, `"Front Door"`, 1), ErrMalformed, `device "Front Door": want 1 to 64 characters from a-z, 0-9, _ and - (the doorbell's device.id)`},
		{strings.Replace(signed(""), `1733456789`, `"1733456789"`, 1), ErrMalformed, "ts: want a Unix time in whole seconds (a positive integer, not in quotes)"},
		{strings.Replace(signed(""), `1733456789`, `1733456789.5`, 1), ErrMalformed, "ts: want a Unix time in whole seconds (a positive integer, not in quotes)"},
		{strings.Replace(signed(""), `1733456789`, `-5`, 1), ErrMalformed, "ts: want a Unix time in whole seconds (a positive integer, not in quotes)"},
		{strings.Replace(signed(""), `1733456789`, `99999999999999999999`, 1), ErrMalformed, "ts: want a Unix time in whole seconds (a positive integer, not in quotes)"},
		{strings.Replace(signed(""), `0123456789abcdef`, `0123456789abcde`, 1), ErrMalformed, "nonce: want 16 to 64 hex digits"},
		{strings.Replace(signed(""), `0123456789abcdef`, `0123456789abcdeg`, 1), ErrMalformed, "nonce: want 16 to 64 hex digits"},
		{strings.Replace(signed(""), mac, strings.ToUpper(strings.Repeat("ab", 32)), 1), ErrMalformed, "mac: want 64 lowercase hex digits"},
		{strings.Replace(signed(""), mac, mac+"0", 1), ErrMalformed, "mac: want 64 lowercase hex digits"},
		{signed(`,"extra":true`), ErrMalformed, `unknown field "extra"; allowed: action, code, device, ts, nonce, mac`},
	} {
		_, err := Parse([]byte(tc.payload))
		if err == nil {
			t.Errorf("Parse(%s) accepted", tc.payload)
			continue
		}
		want := "doorauth: door command: " + tc.detail + ": " + tc.sentinel.Error()
		if !errors.Is(err, tc.sentinel) || err.Error() != want {
			t.Errorf("Parse(%s):\n got %v\nwant %s", tc.payload, err, want)
		}
	}
}

// A value that contains the code or the MAC is never shown, however it is
// smuggled in.
func TestParseNeverShowsSecrets(t *testing.T) {
	mac := strings.Repeat("9f", 32)
	for _, p := range []string{
		`{"action":"open","code":"8642","8642":1}`,
		`{"action":"open","code":"8642","x8642y":1}`,
		`{"action":"open","code":"8642","\u00018642":1}`,
		`{"action":"open","code":"0164","\u000164":1}`, // quoted as "\x0164": contains the code
		`{"action":"8642","code":"8642"}`,
		`{"action":"open86420","code":"8642"}`,
		`{"action":"open","code":"8642","code":"1357","1357":0}`,
		`{"action":"` + mac + `","device":"front","ts":1,"nonce":"0123456789abcdef","mac":"` + mac + `"}`,
		`{"action":"open","device":"front","ts":1,"nonce":"0123456789abcdef","mac":"` + mac + `","` + mac + `":1}`,
		`{"action":"open","code":"86420000000000"}`,
	} {
		_, err := Parse([]byte(p))
		if err == nil {
			t.Fatalf("Parse(%s) accepted", p)
		}
		for _, s := range []string{"8642", "1357", "0164", mac[:16]} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("Parse(%s): error %q shows %q", p, err, s)
			}
		}
		_, v := New(Options{DeviceID: "front", Key: testKey, PINHash: cheapHash("8642")}).Check([]byte(p), false)
		if v.OK || strings.Contains(v.Reason, "8642") || strings.Contains(v.Reason, mac[:16]) {
			t.Errorf("Check(%s): %+v", p, v)
		}
	}
}

func TestRequestNeverShowsCode(t *testing.T) {
	mac := strings.Repeat("7e", 32)
	for _, r := range []Request{
		{Action: "open", Code: "97531"},
		{Action: "open", Device: "front", TS: 5, Nonce: "0123456789abcdef", MAC: mac},
	} {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("door", "req", r, "ptr", &r)
		for _, s := range []string{
			fmt.Sprint(r), fmt.Sprintf("%v %+v %#v %s %q %x", r, r, r, r, r, r), fmt.Sprintf("%+v", &r),
			fmt.Sprint([]Request{r}), buf.String(),
		} {
			if strings.Contains(s, "97531") || strings.Contains(s, mac[:8]) {
				t.Errorf("%q shows a secret", s)
			}
		}
	}
	if s := (Request{Action: "open", Code: "97531"}).String(); s != "open (pin)" {
		t.Errorf("String %q", s)
	}
}

func TestSignRoundTrip(t *testing.T) {
	now := time.Unix(1733456789, 999e6)
	p := Sign(testKey, "front", now, "0123456789abcdef")
	want := `{"action":"open","device":"front","ts":1733456789,"nonce":"0123456789abcdef","mac":"` +
		testKey.Sign(Purpose, "front", "open", "1733456789", "0123456789abcdef") + `"}`
	if string(p) != want {
		t.Fatalf("Sign = %s\nwant %s", p, want)
	}
	r, err := Parse(p)
	if err != nil || r.Method() != MethodSigned || r.TS != 1733456789 {
		t.Fatalf("Parse(Sign(...)) = %v, %v", r, err)
	}
	// No key: a payload Parse refuses.
	if _, err := Parse(Sign(nil, "front", now, NewNonce())); err == nil || !strings.Contains(err.Error(), "mac: want 64") {
		t.Fatalf("Sign without a key parsed: %v", err)
	}
	a, b := NewNonce(), NewNonce()
	if a == b || !hexDigits(a, 32, 32, true) {
		t.Fatalf("nonces %q %q", a, b)
	}
}
