package doorauth

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/crypto/argon2"

	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

// cheapHash is an argon2id PHC hash of pin with the smallest parameters
// account.ParseHash takes, so tests hash in microseconds. It is a real
// hash: account.Verify checks it as any other.
func cheapHash(pin string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pin), salt, 1, 8, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=8,t=1,p=1$%s$%s", argon2.Version, b64.EncodeToString(salt), b64.EncodeToString(key))
}

const (
	testPIN    = "2468"
	testDevice = "front"
)

var testKey = ownerkey.Key([]byte("0123456789abcdef0123456789abcdef"))

// start is the fake clock's start: a whole second, so ts arithmetic is
// exact.
var start = time.Date(2025, 12, 6, 10, 0, 0, 0, time.UTC)

type rig struct {
	t   *testing.T
	clk *clockwork.FakeClock
	a   *Authorizer
}

func newRig(t *testing.T, mod func(*Options)) *rig {
	t.Helper()
	clk := clockwork.NewFakeClockAt(start)
	o := Options{DeviceID: testDevice, Key: testKey, PINHash: cheapHash(testPIN), Clock: clk}
	if mod != nil {
		mod(&o)
	}
	return &rig{t: t, clk: clk, a: New(o)}
}

func pinPayload(code string) []byte {
	return []byte(`{"action":"open","code":"` + code + `"}`)
}

// signed returns a payload signed with testKey for testDevice at the
// clock's time plus skew, with a new nonce.
func (r *rig) signed(skew time.Duration) []byte {
	return Sign(testKey, testDevice, r.clk.Now().Add(skew), NewNonce())
}

// want checks one attempt's verdict.
func (r *rig) want(payload []byte, retained bool, ok bool, class Class, reason string) Verdict {
	r.t.Helper()
	_, v := r.a.Check(payload, retained)
	if v.OK != ok || v.Class != class || (reason != "" && v.Reason != reason) {
		r.t.Fatalf("Check(%s) = %+v; want OK=%v class %s reason %q", payload, v, ok, class, reason)
	}
	if v.OK != (v.Class == Accepted) || v.OK != (v.Reason == "") {
		r.t.Fatalf("inconsistent verdict %+v", v)
	}
	return v
}
