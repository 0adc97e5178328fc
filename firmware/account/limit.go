package account

import (
	"net/netip"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// LimiterOptions tune a Limiter. The zero value of each is its default.
type LimiterOptions struct {
	Free    int           // failures per key without backoff; default 5
	Base    time.Duration // backoff after the first failure over Free; default 1s
	Max     time.Duration // longest backoff; default 60s
	MaxKeys int           // keys (IPs and usernames) remembered; default 4096
	Clock   clockwork.Clock
}

func (o *LimiterOptions) ensureDefaults() {
	if o.Free <= 0 {
		o.Free = 5
	}
	if o.Base <= 0 {
		o.Base = time.Second
	}
	if o.Max <= 0 {
		o.Max = time.Minute
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 4096
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// Limiter slows down password guessing, per remote IP and per username.
// Ask Allow before checking a password, then tell Failure or Success.
// It is safe for concurrent use.
type Limiter struct {
	opts LimiterOptions

	mu   sync.Mutex
	keys map[string]*strikes
}

type strikes struct {
	failures int
	until    time.Time // refused before this
	last     time.Time // last failure: eviction order
}

// NewLimiter returns a limiter that remembers nothing yet.
func NewLimiter(opts LimiterOptions) *Limiter {
	opts.ensureDefaults()
	return &Limiter{opts: opts, keys: map[string]*strikes{}}
}

// keysOf are the limiter's keys for a try: the remote address (an IPv6
// one by its /64, which one host usually has whole) and the username.
func keysOf(remote, user string) [2]string {
	ip := remote
	a, err := netip.ParseAddr(remote)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(remote); perr == nil {
			a, err = ap.Addr(), nil
		}
	}
	if err == nil {
		a = a.Unmap()
		if a.Is6() {
			p, _ := a.Prefix(64)
			ip = p.String()
		} else {
			ip = a.String()
		}
	}
	if len(ip) > 64 {
		ip = ip[:64]
	}
	if len(user) > 64 {
		user = user[:64]
	}
	return [2]string{"ip " + ip, "user " + user}
}

// Allow reports whether a try from remote (an IP address, or IP:port) for user may
// be checked now; if not, how long until it may.
func (l *Limiter) Allow(remote, user string) (bool, time.Duration) {
	now := l.opts.Clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keysOf(remote, user) {
		if s := l.keys[k]; s != nil && now.Before(s.until) {
			wait = max(wait, s.until.Sub(now))
		}
	}
	return wait == 0, wait
}

// Failure counts a wrong password from remote for user and returns the
// longer of the two keys' failure counts.
func (l *Limiter) Failure(remote, user string) int {
	now := l.opts.Clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, k := range keysOf(remote, user) {
		s := l.keys[k]
		if s == nil {
			l.makeRoom()
			s = &strikes{}
			l.keys[k] = s
		}
		s.failures++
		s.last = now
		if over := s.failures - l.opts.Free; over > 0 {
			d := l.opts.Max
			if over <= 30 {
				d = min(l.opts.Base<<(over-1), l.opts.Max)
			}
			s.until = now.Add(d)
		}
		n = max(n, s.failures)
	}
	return n
}

// Success forgets the failures of remote and of user.
func (l *Limiter) Success(remote, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keysOf(remote, user) {
		delete(l.keys, k)
	}
}

// Len is the number of keys remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// makeRoom drops the key whose last failure is oldest when MaxKeys are
// held. Called with mu held.
func (l *Limiter) makeRoom() {
	if len(l.keys) < l.opts.MaxKeys {
		return
	}
	var oldest string
	var at *strikes
	for k, s := range l.keys {
		if at == nil || s.last.Before(at.last) {
			oldest, at = k, s
		}
	}
	delete(l.keys, oldest)
}
