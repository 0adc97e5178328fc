package ratelog

import (
	"sync"
	"time"
)

// Keys remembers, per key, when a line last went out and how many were
// held back since. It is safe for concurrent use.
type Keys struct {
	every time.Duration
	max   int

	mu       sync.Mutex
	seen     map[string]*entry
	overflow int // lines held back because no key was free
}

type entry struct {
	last       time.Time
	suppressed int
}

// MaxKey bounds the bytes of a key kept (longer keys are cut).
const MaxKey = 256

// New returns Keys letting one line per key through every interval
// (default a minute), remembering at most max keys (default 256).
func New(every time.Duration, max int) *Keys {
	if every <= 0 {
		every = time.Minute
	}
	if max <= 0 {
		max = 256
	}
	return &Keys{every: every, max: max, seen: map[string]*entry{}}
}

// Verdict is Allow's answer.
type Verdict struct {
	OK bool
	// Suppressed is how many lines for this key were held back since
	// its last one; Overflow how many for keys that could not be
	// remembered (all keys taken). Both only when OK.
	Suppressed, Overflow int
}

// Allow reports whether a line for key may go out at now.
func (k *Keys) Allow(now time.Time, key string) Verdict {
	if len(key) > MaxKey {
		key = key[:MaxKey]
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.seen[key]
	if e != nil && now.Sub(e.last) < k.every {
		e.suppressed++
		return Verdict{}
	}
	if e == nil {
		if len(k.seen) >= k.max {
			for key, e := range k.seen {
				if now.Sub(e.last) >= k.every {
					delete(k.seen, key)
				}
			}
		}
		if len(k.seen) >= k.max {
			k.overflow++
			return Verdict{}
		}
		e = &entry{}
		k.seen[key] = e
	}
	v := Verdict{OK: true, Suppressed: e.suppressed, Overflow: k.overflow}
	e.last, e.suppressed, k.overflow = now, 0, 0
	return v
}

// Len is how many keys are remembered.
func (k *Keys) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.seen)
}
