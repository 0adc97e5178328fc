package account

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/crypto/bcrypt"
)

func TestHashRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", ArgonMemory, ArgonTime, ArgonThreads)) {
		t.Errorf("hash %q: not argon2id PHC with the Pi parameters", h)
	}
	if err := ParseHash(h); err != nil {
		t.Errorf("ParseHash(own hash): %v", err)
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct horsE": false, "": false, "correct horse ": false} {
		if ok, err := Verify(h, pw); ok != want || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	h2, _ := HashPassword("correct horse")
	if h2 == h {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("HashPassword(\"\") made a hash")
	}
}

// A hash made by Python's argon2-cffi / the reference implementation
// (argon2 CLI: echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32).
func TestArgonReferenceVector(t *testing.T) {
	const h = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	if ok, err := Verify(h, "password"); !ok || err != nil {
		t.Errorf("reference vector: %v, %v", ok, err)
	}
	if ok, err := Verify(h, "passwort"); ok || err != nil {
		t.Errorf("reference vector, wrong password: %v, %v", ok, err)
	}
}

func TestBcryptAccepted(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("hunter22"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		h := prefix + string(b[4:])
		if ok, err := Verify(h, "hunter22"); !ok || err != nil {
			t.Errorf("%s: Verify = %v, %v", prefix, ok, err)
		}
		if ok, err := Verify(h, "hunter23"); ok || err != nil {
			t.Errorf("%s wrong password: Verify = %v, %v", prefix, ok, err)
		}
	}
	hi, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	high := strings.Replace(string(hi), "$04$", "$15$", 1)
	if err := ParseHash(high); err == nil || !strings.Contains(err.Error(), "cost 15") {
		t.Errorf("bcrypt cost 15: %v", err)
	}
}

func TestMalformedHash(t *testing.T) {
	good, _ := HashPassword("password1")
	f := strings.Split(good, "$")
	tests := []struct{ hash, want string }{
		{"", "empty"},
		{"plaintext-password", "unknown scheme"},
		{"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$" + f[5], "only argon2id"},
		{"$argon2id$v=16$m=19456,t=2,p=1$" + f[4] + "$" + f[5], "version"},
		{"$argon2id$v=19$m=19456,t=2$" + f[4] + "$" + f[5], "m=KiB,t=N,p=N"},
		{"$argon2id$v=19$m=x,t=2,p=1$" + f[4] + "$" + f[5], "not a number"},
		{"$argon2id$v=19$m=4194304,t=2,p=1$" + f[4] + "$" + f[5], "out of range"},
		{"$argon2id$v=19$m=19456,t=0,p=1$" + f[4] + "$" + f[5], "t=0 out of range"},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + f[4] + "=$" + f[5], "salt"},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + f[4] + "$c2hvcnQ", "hash is not 16 to 64"},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + f[4], "of 6"},
		{"$2b$10$tooshort", "bcrypt hash does not parse"},
	}
	for _, tt := range tests {
		err := ParseHash(tt.hash)
		if err == nil || !errors.Is(err, ErrBadHash) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseHash(%q) = %v; want ErrBadHash mentioning %q", tt.hash, err, tt.want)
			continue
		}
		if len(f[5]) > 0 && strings.Contains(err.Error(), f[5]) || strings.Contains(err.Error(), "$argon2id$v=19$m=19456") {
			t.Errorf("ParseHash error %q echoes the hash", err)
		}
		if ok, verr := Verify(tt.hash, "password1"); ok || verr == nil {
			t.Errorf("Verify(%q) = %v, %v; want the parse error", tt.hash, ok, verr)
		}
	}
}

// countingVerify wraps Verify and counts the calls.
func countingVerify(n *atomic.Int32) func(string, string) (bool, error) {
	return func(h, p string) (bool, error) { n.Add(1); return Verify(h, p) }
}

func testStore(t *testing.T, clock clockwork.Clock, calls *atomic.Int32) *Store {
	t.Helper()
	ha, _ := HashPassword("alice-password")
	hb, _ := bcrypt.GenerateFromPassword([]byte("bob-password"), bcrypt.MinCost)
	s, err := NewStore([]User{{"alice", ha}, {"bob", string(hb)}}, StoreOptions{Clock: clock, Verify: countingVerify(calls)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreCheck(t *testing.T) {
	clock := clockwork.NewFakeClock()
	var calls atomic.Int32
	s := testStore(t, clock, &calls)
	if s.Open() || s.Len() != 2 || !s.Has("alice") || s.Has("carol") {
		t.Fatalf("Open %v Len %d", s.Open(), s.Len())
	}
	check := func(user, pw string, want bool, wantCalls int32) {
		t.Helper()
		calls.Store(0)
		if got := s.Check(user, pw); got != want {
			t.Errorf("Check(%s, %s) = %v, want %v", user, pw, got, want)
		}
		if got := calls.Load(); got != wantCalls {
			t.Errorf("Check(%s, %s): %d verifications, want %d", user, pw, got, wantCalls)
		}
	}
	check("alice", "wrong", false, 1)
	check("alice", "wrong", false, 1)          // failures are never cached
	check("carol", "alice-password", false, 1) // unknown user: one verification all the same
	check("", "x", false, 1)
	check("alice", "alice-password", true, 1)
	check("alice", "alice-password", true, 0) // cached
	check("bob", "bob-password", true, 1)
	check("bob", "alice-password", false, 1)
	check("alice", strings.Repeat("x", MaxPassword+1), false, 0)
	clock.Advance(5*time.Minute - time.Nanosecond)
	check("alice", "alice-password", true, 0)
	clock.Advance(time.Nanosecond)
	check("alice", "alice-password", true, 1) // cache expired
	// The cache key binds user and password: alice's password with
	// another split does not hit it.
	check("alic", "ealice-password", false, 1)
}

func TestStoreCacheBounded(t *testing.T) {
	var calls atomic.Int32
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	var users []User
	for i := range 10 {
		users = append(users, User{fmt.Sprintf("u%d", i), string(h)})
	}
	clock := clockwork.NewFakeClock()
	s, err := NewStore(users, StoreOptions{MaxCached: 4, Clock: clock, Verify: countingVerify(&calls)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		clock.Advance(time.Second)
		if !s.Check(fmt.Sprintf("u%d", i), "pw") {
			t.Fatal("check failed")
		}
	}
	if n := len(s.cache); n != 4 {
		t.Errorf("cache holds %d, want 4", n)
	}
	calls.Store(0)
	s.Check("u9", "pw")
	s.Check("u0", "pw")
	if calls.Load() != 1 {
		t.Errorf("%d verifications; want the newest cached, the oldest evicted", calls.Load())
	}
}

func TestNewStoreErrors(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	tests := []struct {
		users []User
		want  string
	}{
		{[]User{{"", string(h)}}, "users[0]: empty username"},
		{[]User{{"a b", string(h)}}, "only letters"},
		{[]User{{"a", string(h)}, {"a", string(h)}}, `users[1]: username "a" appears twice`},
		{[]User{{"a", "secret-plaintext"}}, "users[0] (a): password hash: unknown scheme"},
	}
	for _, tt := range tests {
		_, err := NewStore(tt.users, StoreOptions{})
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret-plaintext") {
			t.Errorf("NewStore(%v) = %v, want %q", tt.users, err, tt.want)
		}
	}
	var nilStore *Store
	if s, err := NewStore(nil, StoreOptions{}); err != nil || !s.Open() || !nilStore.Open() || s.Check("a", "b") {
		t.Errorf("empty store: %v", err)
	}
}

func TestSessions(t *testing.T) {
	clock := clockwork.NewFakeClock()
	s := NewSessions(SessionOptions{Clock: clock, IdleTimeout: time.Hour, MaxAge: 3 * time.Hour})
	a := s.Create("alice")
	if len(a.Token) != 43 || len(a.CSRF) != 43 || a.Token == a.CSRF || a.User != "alice" || !a.Expires.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("session %+v", a)
	}
	if _, ok := s.Lookup(a.Token + "x"); ok {
		t.Error("a wrong token found a session")
	}
	for range 5 { // used every 50 minutes: idle never runs out, the absolute bound does
		clock.Advance(50 * time.Minute)
		got, ok := s.Lookup(a.Token)
		if elapsed := clock.Since(a.Created); elapsed >= 3*time.Hour {
			if ok {
				t.Errorf("session alive %v after login, past MaxAge", elapsed)
			}
			break
		}
		if !ok || got.CSRF != a.CSRF || got.User != "alice" {
			t.Fatalf("Lookup after %v: %+v %v", clock.Since(a.Created), got, ok)
		}
	}
	b := s.Create("bob")
	clock.Advance(time.Hour - time.Nanosecond)
	if _, ok := s.Lookup(b.Token); !ok {
		t.Error("session gone before IdleTimeout")
	}
	clock.Advance(time.Hour)
	if _, ok := s.Lookup(b.Token); ok {
		t.Error("session alive after IdleTimeout unused")
	}
	c := s.Create("carol")
	s.Delete(c.Token)
	if _, ok := s.Lookup(c.Token); ok {
		t.Error("session alive after Delete")
	}
	// The map holds no token.
	d := s.Create("dave")
	for k := range s.m {
		if strings.Contains(string(k[:]), d.Token) {
			t.Error("token stored in the clear")
		}
	}
}

func TestSessionsBounded(t *testing.T) {
	clock := clockwork.NewFakeClock()
	s := NewSessions(SessionOptions{Clock: clock, MaxPerUser: 3, MaxTotal: 5})
	var alice []Session
	for range 4 {
		clock.Advance(time.Second)
		alice = append(alice, s.Create("alice"))
	}
	if _, ok := s.Lookup(alice[0].Token); ok {
		t.Error("alice's oldest session survived a fourth login (MaxPerUser 3)")
	}
	for _, a := range alice[1:] { // used in order: alice[1] least recently
		clock.Advance(time.Second)
		if _, ok := s.Lookup(a.Token); !ok {
			t.Error("a recent session of alice was evicted")
		}
	}
	clock.Advance(time.Second)
	var bob []Session
	for range 3 {
		clock.Advance(time.Second)
		bob = append(bob, s.Create("bob"))
	}
	if n := s.Len(); n != 5 {
		t.Errorf("Len = %d, want MaxTotal 5", n)
	}
	if _, ok := s.Lookup(alice[1].Token); ok {
		t.Error("least recently used session survived past MaxTotal")
	}
	for _, x := range append(alice[2:], bob...) {
		if _, ok := s.Lookup(x.Token); !ok {
			t.Errorf("session of %s evicted, not the least recently used", x.User)
		}
	}
}

func TestLimiter(t *testing.T) {
	clock := clockwork.NewFakeClock()
	l := NewLimiter(LimiterOptions{Clock: clock})
	const ip = "192.0.2.7"
	// Wrong tries in a row, each as soon as it is allowed.
	var waits []time.Duration
	for try := 1; try <= 10; try++ {
		ok, wait := l.Allow(ip, "alice")
		if !ok {
			waits = append(waits, wait)
			clock.Advance(wait)
			if ok, _ := l.Allow(ip, "alice"); !ok {
				t.Fatalf("try %d refused after waiting %v", try, wait)
			}
		}
		l.Failure(ip, "alice")
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("tries 7-10 waited %v, want %v", waits, want)
	}
	// The 11th at once: refused, 16 s to go.
	if ok, wait := l.Allow(ip, "alice"); ok || wait != 16*time.Second {
		t.Errorf("11th try at once: %v, %v; want refused for 16s", ok, wait)
	}
	// Another IP for the same user is refused too; another user from
	// the same IP as well.
	if ok, _ := l.Allow("198.51.100.1", "alice"); ok {
		t.Error("another IP, same user: allowed")
	}
	if ok, _ := l.Allow(ip, "bob"); ok {
		t.Error("same IP, another user: allowed")
	}
	if ok, _ := l.Allow("198.51.100.1", "bob"); !ok {
		t.Error("unrelated IP and user refused")
	}
	clock.Advance(16 * time.Second)
	l.Success(ip, "alice")
	if ok, _ := l.Allow(ip, "alice"); !ok {
		t.Error("refused after a success")
	}
	if n := l.Failure(ip, "alice"); n != 1 {
		t.Errorf("failures after a success = %d, want 1 (reset)", n)
	}
	// The backoff stops at Max.
	for range 40 {
		l.Failure("203.0.113.9", "mallory")
	}
	if _, wait := l.Allow("203.0.113.9", "x"); wait != time.Minute {
		t.Errorf("backoff after 40 failures = %v, want 60s", wait)
	}
}

// The tenth wrong try in a row, sent at once, is refused.
func TestLimiterTenthTryRefused(t *testing.T) {
	l := NewLimiter(LimiterOptions{Clock: clockwork.NewFakeClock()})
	refused := 0
	for try := 1; try <= 10; try++ {
		if ok, wait := l.Allow("192.0.2.1:5555", "alice"); !ok {
			refused++
			if try == 10 && wait <= 0 {
				t.Errorf("10th try refused without a Retry-After")
			}
			continue
		}
		l.Failure("192.0.2.1:5555", "alice")
	}
	if ok, _ := l.Allow("192.0.2.1", "alice"); ok || refused != 4 {
		t.Errorf("refused %d of tries 7-10, 10th allowed %v", refused, ok)
	}
}

func TestLimiterIPv6Prefix(t *testing.T) {
	l := NewLimiter(LimiterOptions{Free: 1, Clock: clockwork.NewFakeClock()})
	l.Failure("2001:db8:1:2::1", "a")
	l.Failure("2001:db8:1:2::ffff", "b")
	if ok, _ := l.Allow("2001:db8:1:2:abcd::9", "c"); ok {
		t.Error("another address of the same /64 allowed")
	}
	if ok, _ := l.Allow("2001:db8:1:3::1", "c"); !ok {
		t.Error("another /64 refused")
	}
}

func TestLimiterBounded(t *testing.T) {
	clock := clockwork.NewFakeClock()
	l := NewLimiter(LimiterOptions{Clock: clock, MaxKeys: 100, Free: 1})
	for i := range 1000 {
		clock.Advance(time.Millisecond)
		l.Failure(fmt.Sprintf("10.0.%d.%d", i/256, i%256), fmt.Sprintf("user%d", i))
	}
	if n := l.Len(); n > 100 {
		t.Errorf("Len = %d after 2000 keys, want ≤ 100", n)
	}
	l.Failure("10.9.9.9", "user999") // the newest keys are kept
	if ok, _ := l.Allow("10.1.1.1", "user999"); ok {
		t.Error("the newest user key was evicted")
	}
}
