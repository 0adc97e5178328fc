package doorauth

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

func TestPINAccepted(t *testing.T) {
	// A real HashPassword hash (default argon2id parameters), once.
	h, err := account.HashPassword("13579")
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, func(o *Options) { o.PINHash = h })
	req, v := r.a.Check(pinPayload("13579"), false)
	if !v.OK || v.Method != MethodPIN || v.Class != Accepted {
		t.Fatalf("right pin: %+v", v)
	}
	if req.Code != "" || req.Action != ActionOpen {
		t.Fatalf("Check returned %#v with code %q, want action open and no code", req, req.Code)
	}
	r.want(pinPayload("13578"), false, false, WrongPIN, "wrong pin")
}

func TestPINLockout(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rate = 100 })
	for i := 1; i <= 4; i++ {
		r.want(pinPayload("1111"), false, false, WrongPIN, "wrong pin")
	}
	r.want(pinPayload("1111"), false, false, WrongPIN, "wrong pin (5 in a row); locked out for 1m0s")
	if s := r.a.Stats(); s.PINFailures != 5 || !s.LockedUntil.Equal(start.Add(time.Minute)) {
		t.Fatalf("stats after lockout: %+v", s)
	}
	// Locked: the right PIN too, without hashing; a signed request works.
	r.want(pinPayload(testPIN), false, false, LockedOut, "locked out for 1m0s")
	r.clk.Advance(59*time.Second + time.Millisecond)
	r.want(pinPayload(testPIN), false, false, LockedOut, "locked out for 1s")
	r.want(r.signed(0), false, true, Accepted, "")
	// After the lockout a wrong PIN locks again, twice as long.
	r.clk.Advance(time.Second)
	r.want(pinPayload("1111"), false, false, WrongPIN, "wrong pin (6 in a row); locked out for 2m0s")
	r.want(pinPayload(testPIN), false, false, LockedOut, "locked out for 2m0s")
	r.clk.Advance(2 * time.Minute)
	// The right PIN after it is accepted and resets the count.
	r.want(pinPayload(testPIN), false, true, Accepted, "")
	if s := r.a.Stats(); s.PINFailures != 0 || !s.LockedUntil.IsZero() {
		t.Fatalf("stats after a right pin: %+v", s)
	}
	for i := 1; i <= 4; i++ {
		r.want(pinPayload("1111"), false, false, WrongPIN, "wrong pin")
	}
	r.want(pinPayload("1111"), false, false, WrongPIN, "wrong pin (5 in a row); locked out for 1m0s")
}

func TestPINLockoutCapped(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rate = 100; o.Lockout = Lockout{After: 1, Base: time.Minute, Max: 5 * time.Minute} })
	for _, d := range []string{"1m0s", "2m0s", "4m0s", "5m0s", "5m0s"} {
		r.want(pinPayload("1111"), false, false, WrongPIN, "")
		if got := r.a.Stats().LockedUntil.Sub(r.clk.Now()).String(); got != d {
			t.Fatalf("lockout %s, want %s", got, d)
		}
		r.clk.Advance(time.Hour)
	}
}

func TestSigned(t *testing.T) {
	r := newRig(t, nil)
	req, v := r.a.Check(r.signed(0), false)
	if !v.OK || v.Method != MethodSigned || req.Device != testDevice || req.TS != start.Unix() {
		t.Fatalf("signed: %v %+v", req, v)
	}
	r.want(r.signed(-30*time.Second), false, true, Accepted, "")
	r.want(r.signed(30*time.Second), false, true, Accepted, "")
}

func TestSignedStale(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rate = 100 })
	r.want(r.signed(-31*time.Second), false, false, Stale, "stale (31 s old, at most 30 s)")
	r.want(r.signed(31*time.Second), false, false, Stale, "stale (31 s in the future, at most 30 s)")
	// A payload signed now, delivered 31 s later.
	p := r.signed(0)
	r.clk.Advance(31 * time.Second)
	r.want(p, false, false, Stale, "stale (31 s old, at most 30 s)")
}

func TestSignedReplay(t *testing.T) {
	r := newRig(t, nil)
	p := r.signed(0)
	r.want(p, false, true, Accepted, "")
	r.want(p, false, false, Replayed, "replayed nonce")
	r.clk.Advance(30 * time.Second)
	r.want(p, false, false, Replayed, "replayed nonce")
	r.clk.Advance(time.Second)
	r.want(p, false, false, Stale, "stale (31 s old, at most 30 s)")
	if n := r.a.Stats().Nonces; n != 1 {
		t.Fatalf("%d nonces remembered, want 1", n)
	}
}

// An authentic request refused by the rate limit must not open the door
// when replayed after the window has room again.
func TestSignedRateLimitedNotReplayable(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rate = 1; o.Per = 10 * time.Second })
	r.want(r.signed(0), false, true, Accepted, "")
	p := r.signed(0)
	r.want(p, false, false, RateLimited, ReasonRateLimited)
	r.clk.Advance(10 * time.Second)
	r.want(p, false, false, Replayed, "replayed nonce")
	r.want(r.signed(0), false, true, Accepted, "")
}

func TestSignedRefusals(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rate = 100 })
	now := r.clk.Now()
	other := ownerkey.Generate()

	r.want(Sign(testKey, "back", now, NewNonce()), false, false, OtherDevice, `other device ("back", this is "front")`)
	r.want(Sign(other, testDevice, now, NewNonce()), false, false, BadMAC, "bad mac")
	// A MAC made for another purpose.
	nonce := NewNonce()
	ts := strconv.FormatInt(now.Unix(), 10)
	mac := testKey.Sign("clipxfer-done", testDevice, ActionOpen, ts, nonce)
	r.want(signedJSON(testDevice, now.Unix(), nonce, mac), false, false, BadMAC, "bad mac")

	// Tampering with any signed field breaks the MAC.
	var m map[string]any
	json.Unmarshal(Sign(testKey, testDevice, now, nonce), &m)
	good := m["mac"].(string)
	r.want(signedJSON(testDevice, now.Unix()+1, nonce, good), false, false, BadMAC, "bad mac")
	r.want(signedJSON(testDevice, now.Unix(), NewNonce(), good), false, false, BadMAC, "bad mac")
	flipped := []byte(good)
	flipped[0] = "10"[b2i(flipped[0] == '1')]
	r.want(signedJSON(testDevice, now.Unix(), nonce, string(flipped)), false, false, BadMAC, "bad mac")
	// The untampered one is still good: refusals do not burn its nonce.
	r.want(signedJSON(testDevice, now.Unix(), nonce, good), false, true, Accepted, "")
}

func signedJSON(device string, ts int64, nonce, mac string) []byte {
	return []byte(fmt.Sprintf(`{"action":"open","device":%q,"ts":%d,"nonce":%q,"mac":%q}`, device, ts, nonce, mac))
}

func TestRetainedAndSize(t *testing.T) {
	r := newRig(t, nil)
	r.want(pinPayload(testPIN), true, false, Retained, "retained")
	r.want(r.signed(0), true, false, Retained, "retained")
	big := []byte(`{"action":"open","code":"` + testPIN + `","x":"` + strings.Repeat("a", MaxPayload) + `"}`)
	r.want(big, false, false, TooLarge, fmt.Sprintf("too large (%d bytes, at most 1024)", len(big)))
	// None of them used the rate limit.
	for i := 0; i < 3; i++ {
		r.want(pinPayload(testPIN), false, true, Accepted, "")
	}
}

func TestRateLimit(t *testing.T) {
	r := newRig(t, nil)
	r.want(pinPayload(testPIN), false, true, Accepted, "")
	r.clk.Advance(10 * time.Second)
	r.want(pinPayload("1111"), false, false, WrongPIN, "wrong pin")
	r.want(pinPayload(testPIN), false, true, Accepted, "")
	r.want(pinPayload(testPIN), false, false, RateLimited, ReasonRateLimited)
	// A PIN flood does not block the signed path.
	r.want(r.signed(0), false, true, Accepted, "")
	// The first attempt leaves the window after a minute.
	r.clk.Advance(50*time.Second - time.Millisecond)
	r.want(pinPayload(testPIN), false, false, RateLimited, "")
	r.clk.Advance(time.Millisecond)
	r.want(pinPayload(testPIN), false, true, Accepted, "")
	r.want(pinPayload(testPIN), false, false, RateLimited, "")
	r.clk.Advance(10 * time.Second)
	r.want(pinPayload(testPIN), false, true, Accepted, "")
}

func TestRateLimitSigned(t *testing.T) {
	r := newRig(t, nil)
	for i := 0; i < 3; i++ {
		r.want(r.signed(0), false, true, Accepted, "")
	}
	r.want(r.signed(0), false, false, RateLimited, ReasonRateLimited)
	// Forgeries do not count, and are told as such even when limited.
	r.want(Sign(ownerkey.Generate(), testDevice, r.clk.Now(), NewNonce()), false, false, BadMAC, "bad mac")
	r.clk.Advance(time.Minute)
	for i := 0; i < 10; i++ {
		r.want(Sign(ownerkey.Generate(), testDevice, r.clk.Now(), NewNonce()), false, false, BadMAC, "bad mac")
	}
	r.want(r.signed(0), false, true, Accepted, "")
}

func TestNotConfigured(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Key = nil; o.PINHash = "" })
	r.want(pinPayload(testPIN), false, false, NoPIN, "no pin configured")
	r.want(r.signed(0), false, false, NoKey, "no owner key on the device")

	r = newRig(t, func(o *Options) { o.PINHash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$x" })
	v := r.want(pinPayload(testPIN), false, false, Misconfigured, "")
	if !strings.HasPrefix(v.Reason, "pin hash unusable: password hash: ") || strings.Contains(v.Reason, testPIN) {
		t.Fatalf("reason %q", v.Reason)
	}
}

func TestValidate(t *testing.T) {
	if err := (Options{DeviceID: testDevice, Key: testKey, PINHash: cheapHash(testPIN)}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := (Options{DeviceID: "Front Door", Key: ownerkey.Key("short"), PINHash: "$argon2i$secret"}).Validate()
	if err == nil {
		t.Fatal("bad options validated")
	}
	for _, want := range []string{"pin hash: password hash: argon2i", "owner key of 5 bytes, want at least 32", `device id "Front Door"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "short") {
		t.Errorf("error %q shows the hash or the key", err)
	}
}

func TestNoncesFull(t *testing.T) {
	r := newRig(t, func(o *Options) { o.Rate = 100; o.MaxNonces = 2 })
	r.want(r.signed(0), false, true, Accepted, "")
	r.clk.Advance(10 * time.Second)
	r.want(r.signed(0), false, true, Accepted, "")
	r.want(r.signed(0), false, false, NoncesFull, "too many recent signed requests (2 nonces remembered)")
	// The first nonce expires 31 s after its ts; then there is room.
	r.clk.Advance(21 * time.Second)
	r.want(r.signed(0), false, true, Accepted, "")
	if n := r.a.Stats().Nonces; n != 2 {
		t.Fatalf("%d nonces, want 2", n)
	}
}

func TestMalformedVerdicts(t *testing.T) {
	r := newRig(t, nil)
	for _, tc := range []struct {
		payload, method, reason string
	}{
		{`{"action":"open","code":"2468","pin":"1"}`, MethodPIN, `malformed: unknown field "pin"; allowed: action, code, device, ts, nonce, mac`},
		{`{"action":"close","code":"2468"}`, MethodPIN, `malformed: action "close": only "open" is allowed`},
		{`{"action":"open","code":"24a8"}`, MethodPIN, `malformed: code: want 4 to 12 digits (0-9)`},
		{`{"action":"lock","device":"front"}`, MethodSigned, `malformed: action "lock": only "open" is allowed`},
		{`{"action":"open","code":"2468","mac":"00"}`, "", `malformed: both a code and signed fields (device, ts, nonce, mac): send one or the other`},
		{`PRESS`, "", "malformed: not valid JSON; want a JSON object " + example},
	} {
		_, v := r.a.Check([]byte(tc.payload), false)
		if v.OK || v.Class != Malformed || v.Method != tc.method || v.Reason != tc.reason {
			t.Errorf("Check(%s) = %+v; want method %q reason %q", tc.payload, v, tc.method, tc.reason)
		}
	}
	// None used the rate limit or counted as a wrong PIN.
	if s := r.a.Stats(); s.PINFailures != 0 || s.Refused[Malformed] != 6 {
		t.Fatalf("stats %+v", s)
	}
	for i := 0; i < 3; i++ {
		r.want(pinPayload(testPIN), false, true, Accepted, "")
	}
}

func TestStats(t *testing.T) {
	r := newRig(t, nil)
	r.want(pinPayload(testPIN), false, true, Accepted, "")
	r.want(r.signed(0), false, true, Accepted, "")
	r.want(r.signed(0), false, true, Accepted, "")
	r.want(pinPayload("1111"), false, false, WrongPIN, "")
	r.want(pinPayload("1111"), true, false, Retained, "")
	s := r.a.Stats()
	if s.Accepted[MethodPIN] != 1 || s.Accepted[MethodSigned] != 2 || s.Refused[WrongPIN] != 1 || s.Refused[Retained] != 1 || len(s.Refused) != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// Concurrent attempts: -race clean, and the limit holds exactly.
func TestConcurrent(t *testing.T) {
	r := newRig(t, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[Class]int{}
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := pinPayload(testPIN)
			if i%2 == 1 {
				p = r.signed(0)
			}
			_, v := r.a.Check(p, false)
			mu.Lock()
			got[v.Class]++
			mu.Unlock()
			r.a.Stats()
		}()
	}
	wg.Wait()
	if got[Accepted] != 6 || got[RateLimited] != 34 {
		t.Fatalf("verdicts %v, want 6 accepted (3 per method) and 34 rate limited", got)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
