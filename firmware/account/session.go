package account

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// SessionOptions tune Sessions. The zero value of each is its default.
type SessionOptions struct {
	IdleTimeout time.Duration // unused this long, a session ends; default 7 days
	MaxAge      time.Duration // after login, a session ends; default 30 days
	MaxPerUser  int           // sessions kept per user; default 64
	MaxTotal    int           // sessions kept in all; default 1024
	Clock       clockwork.Clock
}

func (o *SessionOptions) ensureDefaults() {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 7 * 24 * time.Hour
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 30 * 24 * time.Hour
	}
	if o.MaxPerUser <= 0 {
		o.MaxPerUser = 64
	}
	if o.MaxTotal <= 0 {
		o.MaxTotal = 1024
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// Session is one login.
type Session struct {
	Token   string    // the cookie's value: 32 random bytes, base64url
	CSRF    string    // what state-changing requests send in X-CSRF-Token
	User    string    // the account
	Created time.Time // login
	Expires time.Time // the earlier of idle and absolute expiry, as of the last use
}

type session struct {
	csrf, user    string
	created, used time.Time
}

// Sessions are the logins, in memory. They are safe for concurrent use.
type Sessions struct {
	opts SessionOptions

	mu sync.Mutex
	m  map[[sha256.Size]byte]*session // by SHA-256 of the token
}

// NewSessions returns an empty set of sessions.
func NewSessions(opts SessionOptions) *Sessions {
	opts.ensureDefaults()
	return &Sessions{opts: opts, m: map[[sha256.Size]byte]*session{}}
}

// MaxAge is how long after login a session ends at the latest: a
// cookie's Max-Age.
func (s *Sessions) MaxAge() time.Duration { return s.opts.MaxAge }

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Create starts a session for user. When user has MaxPerUser sessions,
// or all users MaxTotal, the least recently used goes.
func (s *Sessions) Create(user string) Session {
	now := s.opts.Clock.Now()
	token := randomToken()
	e := &session{csrf: randomToken(), user: user, created: now, used: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	for _, only := range []string{user, ""} {
		limit := s.opts.MaxPerUser
		if only == "" {
			limit = s.opts.MaxTotal
		}
		for s.count(only) >= limit {
			s.evictOldest(only)
		}
	}
	s.m[sha256.Sum256([]byte(token))] = e
	return s.view(token, e)
}

// Lookup returns the session of token, and counts it as used. An unknown
// or expired token is false.
func (s *Sessions) Lookup(token string) (Session, bool) {
	if token == "" || len(token) > 128 {
		return Session{}, false
	}
	now := s.opts.Clock.Now()
	k := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[k]
	if e == nil {
		return Session{}, false
	}
	if s.expired(e, now) {
		delete(s.m, k)
		return Session{}, false
	}
	e.used = now
	return s.view(token, e), true
}

// Delete ends the session of token, if there is one.
func (s *Sessions) Delete(token string) {
	k := sha256.Sum256([]byte(token))
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// Len is the number of sessions held, expired ones not yet dropped
// included.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *Sessions) view(token string, e *session) Session {
	return Session{Token: token, CSRF: e.csrf, User: e.user, Created: e.created, Expires: s.expires(e)}
}

func (s *Sessions) expires(e *session) time.Time {
	idle, abs := e.used.Add(s.opts.IdleTimeout), e.created.Add(s.opts.MaxAge)
	if idle.Before(abs) {
		return idle
	}
	return abs
}

func (s *Sessions) expired(e *session, now time.Time) bool { return !now.Before(s.expires(e)) }

// expire drops the expired sessions. Called with mu held.
func (s *Sessions) expire(now time.Time) {
	for k, e := range s.m {
		if s.expired(e, now) {
			delete(s.m, k)
		}
	}
}

// count is the number of sessions of user, or of all when user is "".
// Called with mu held.
func (s *Sessions) count(user string) int {
	if user == "" {
		return len(s.m)
	}
	n := 0
	for _, e := range s.m {
		if e.user == user {
			n++
		}
	}
	return n
}

// evictOldest drops the least recently used session of user, or of all
// when user is "". Called with mu held.
func (s *Sessions) evictOldest(user string) {
	var oldest [sha256.Size]byte
	var at *session
	for k, e := range s.m {
		if (user == "" || e.user == user) && (at == nil || e.used.Before(at.used)) {
			oldest, at = k, e
		}
	}
	if at != nil {
		delete(s.m, oldest)
	}
}
