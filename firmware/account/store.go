package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// User is one account as the config holds it.
type User struct {
	Username     string
	PasswordHash string
}

// StoreOptions tune a Store. The zero value of each is its default.
type StoreOptions struct {
	// CacheTTL is how long a successful Check is remembered, so that
	// RTSP (credentials on every request) and Home Assistant's polling
	// do not hash each time. Default 5 minutes; negative disables.
	CacheTTL time.Duration
	// MaxCached bounds the remembered successes. Default 256.
	MaxCached int
	// MaxVerifying bounds the hashes computed at once: argon2id takes
	// 19 MiB each, and a flood of logins must not take the board's RAM.
	// The others wait. Default 2.
	MaxVerifying int
	// Clock times the cache. Default: the real clock.
	Clock clockwork.Clock
	// Verify checks a password against a hash. Default: package Verify.
	// Tests count calls through it.
	Verify func(hash, password string) (bool, error)
}

func (o *StoreOptions) ensureDefaults() {
	if o.CacheTTL == 0 {
		o.CacheTTL = 5 * time.Minute
	}
	if o.MaxCached <= 0 {
		o.MaxCached = 256
	}
	if o.MaxVerifying <= 0 {
		o.MaxVerifying = 2
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Verify == nil {
		o.Verify = Verify
	}
}

// Store is the set of accounts. It is safe for concurrent use. A nil
// *Store is a store without accounts.
type Store struct {
	opts   StoreOptions
	users  map[string]string // username → hash
	dummy  string            // hash an unknown user is checked against
	macKey []byte            // random per process: cache keys
	sem    chan struct{}

	mu    sync.Mutex
	cache map[[sha256.Size]byte]time.Time // HMAC(user, password) → expiry
}

// NewStore checks users (unique, non-empty names; hashes ParseHash
// takes) and builds the store. Errors name the user by position and
// name, never the hash.
func NewStore(users []User, opts StoreOptions) (*Store, error) {
	opts.ensureDefaults()
	s := &Store{
		opts:   opts,
		users:  make(map[string]string, len(users)),
		macKey: make([]byte, 32),
		sem:    make(chan struct{}, opts.MaxVerifying),
		cache:  map[[sha256.Size]byte]time.Time{},
	}
	rand.Read(s.macKey)
	for i, u := range users {
		if err := ValidUsername(u.Username); err != nil {
			return nil, fmt.Errorf("account: users[%d]: %w", i, err)
		}
		if _, dup := s.users[u.Username]; dup {
			return nil, fmt.Errorf("account: users[%d]: username %q appears twice", i, u.Username)
		}
		if err := ParseHash(u.PasswordHash); err != nil {
			return nil, fmt.Errorf("account: users[%d] (%s): %w", i, u.Username, err)
		}
		s.users[u.Username] = u.PasswordHash
		if i == 0 {
			s.dummy = u.PasswordHash
		}
	}
	return s, nil
}

// ValidUsername reports whether name can be a username: 1 to 64 bytes
// of letters, digits and . _ @ -, so it fits in a cookie log line, an
// RTSP URL and a YAML scalar without quoting.
func ValidUsername(name string) error {
	if name == "" {
		return errors.New("empty username")
	}
	if len(name) > 64 {
		return fmt.Errorf("username of %d bytes: at most 64", len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-') {
			return fmt.Errorf("username %q: only letters, digits and . _ @ - are allowed", name)
		}
	}
	return nil
}

// Open reports whether the store has no accounts: nothing asks for a
// password.
func (s *Store) Open() bool { return s == nil || len(s.users) == 0 }

// Len is the number of accounts.
func (s *Store) Len() int {
	if s == nil {
		return 0
	}
	return len(s.users)
}

// Has reports whether username is an account.
func (s *Store) Has(username string) bool {
	if s == nil {
		return false
	}
	_, ok := s.users[username]
	return ok
}

// Check reports whether password is username's. A success is remembered
// for CacheTTL; a failure is not. An unknown user costs one verification
// against a real hash too, so its answer takes as long as a wrong
// password's. In an open store nothing matches.
func (s *Store) Check(username, password string) bool {
	ok, _ := s.CheckContext(context.Background(), username, password)
	return ok
}

// CheckContext is Check that gives up waiting for a free verification
// slot (MaxVerifying) when ctx is done, with ctx's error.
func (s *Store) CheckContext(ctx context.Context, username, password string) (bool, error) {
	if s.Open() || len(password) > MaxPassword || len(username) > 64 {
		return false, nil
	}
	mac := s.mac(username, password)
	now := s.opts.Clock.Now()
	s.mu.Lock()
	exp, hit := s.cache[mac]
	s.mu.Unlock()
	if hit && now.Before(exp) {
		return true, nil
	}
	hash, known := s.users[username]
	if !known {
		hash = s.dummy
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("account: check %s: %w", username, ctx.Err())
	}
	ok, err := s.opts.Verify(hash, password)
	<-s.sem
	if err != nil || !ok || !known {
		return false, nil // hashes were checked in NewStore: err is not expected
	}
	if s.opts.CacheTTL > 0 {
		s.remember(mac, s.opts.Clock.Now().Add(s.opts.CacheTTL))
	}
	return true, nil
}

// mac is the cache key of a username and password: HMAC-SHA256 under a
// key that never leaves the process, so the cache holds nothing a
// guesser could test passwords against offline.
func (s *Store) mac(username, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, s.macKey)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(username)))
	m.Write(n[:])
	m.Write([]byte(username))
	m.Write([]byte(password))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

func (s *Store) remember(mac [sha256.Size]byte, exp time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= s.opts.MaxCached {
		now := s.opts.Clock.Now()
		var oldest [sha256.Size]byte
		var oldestExp time.Time
		for k, e := range s.cache {
			if !now.Before(e) {
				delete(s.cache, k)
				continue
			}
			if oldestExp.IsZero() || e.Before(oldestExp) {
				oldest, oldestExp = k, e
			}
		}
		if len(s.cache) >= s.opts.MaxCached {
			delete(s.cache, oldest)
		}
	}
	s.cache[mac] = exp
}
