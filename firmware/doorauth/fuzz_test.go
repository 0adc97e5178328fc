package doorauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"
)

// secretsOf returns every string value of a "code" or "mac" field at the
// top level of payload, read as far as it is valid JSON (duplicates and
// all: Parse must hide each).
func secretsOf(payload []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			return out
		}
		var s string
		if (tok == "code" || tok == "mac") && json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// shownSecret reports a secret s that could be found in text: a code of
// only digits, at least MinPIN of them (the shape of a real PIN; shorter or
// other strings can match the fixed wording by chance), or a longer MAC.
func shownSecret(text string, secrets []string) string {
	for _, s := range secrets {
		if digits(s, MinPIN, 1<<20) && strings.Contains(text, s) || len(s) >= 16 && strings.Contains(text, s) {
			return s
		}
	}
	return ""
}

func FuzzCheck(f *testing.F) {
	for _, p := range []string{
		`{"action":"open","code":"1234"}`,
		`{"action":"open","code":"24680","pin":"x"}`,
		`{"action":"open","code":"2468","24680":1}`,
		`{"action":"24680","code":"24680"}`,
		`{"action":"open","code":1234}`,
		`{"action":"open","device":"front","ts":1765015200,"nonce":"0123456789abcdef","mac":"` + strings.Repeat("ab", 32) + `"}`,
		`{"action":"open","device":"back","ts":1765015200,"nonce":"0123456789abcdef","mac":"` + strings.Repeat("ab", 32) + `"}`,
		`{"action":"open","device":"front","ts":1,"nonce":"0","mac":"1"}`,
		`{"action":"open","code":"1234","code":"5678"}`,
		`{"action":"open","code":"1234","ts":1}`,
		`[]`, `PRESS`, ``, `{"action":"open"}`, "{\"\xff\":1}",
	} {
		f.Add([]byte(p), false)
	}
	f.Add([]byte(`{"action":"open","code":"1234"}`), true)
	hash := cheapHash("000000098765") // never guessed: 12 digits
	f.Fuzz(func(t *testing.T, payload []byte, retained bool) {
		orig := bytes.Clone(payload)
		a := New(Options{DeviceID: testDevice, Key: testKey, PINHash: hash, Clock: clockwork.NewFakeClockAt(start)})
		req, v := a.Check(payload, retained)
		if !bytes.Equal(payload, orig) {
			t.Fatal("Check modified the payload")
		}
		if v.OK || v.Class == Accepted || v.Reason == "" {
			t.Fatalf("random payload %q: %+v", payload, v)
		}
		if req.Code != "" {
			t.Fatal("Check returned the code")
		}
		if !utf8.ValidString(v.Reason) || strings.ContainsAny(v.Reason, "\n\r\x00\x1b\x7f") || len(v.Reason) > 400 {
			t.Fatalf("reason not safe to log: %q", v.Reason)
		}
		_, perr := Parse(payload)
		if (perr != nil) != (v.Class == Malformed || v.Class == TooLarge) && !retained {
			t.Fatalf("Parse error %v, verdict %+v", perr, v)
		}
		if perr != nil {
			if errors.Is(perr, ErrTooLarge) == errors.Is(perr, ErrMalformed) {
				t.Fatalf("error %q wraps not exactly one sentinel", perr)
			}
			if msg := perr.Error(); !utf8.ValidString(msg) || strings.ContainsAny(msg, "\n\r\x00\x1b\x7f") || len(msg) > 400 {
				t.Fatalf("error not safe to log: %q", msg)
			}
		}
		// An oversize payload is never read: what it holds is not seen.
		if len(payload) > MaxPayload {
			return
		}
		secrets := secretsOf(payload)
		if s := shownSecret(v.Reason, secrets); s != "" {
			t.Fatalf("reason %q shows %q of payload %q", v.Reason, s, payload)
		}
		if perr != nil {
			if s := shownSecret(perr.Error(), secrets); s != "" {
				t.Fatalf("error %q shows %q of payload %q", perr, s, payload)
			}
		}
	})
}
