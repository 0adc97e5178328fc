package doorauth

import "time"

// window is a sliding-window rate limit: at most n events in any span of
// per. It is not safe for concurrent use (Authorizer.mu guards it).
type window struct {
	n   int
	per time.Duration
	at  []time.Time // the last events, oldest first, at most n
}

func newWindow(n int, per time.Duration) *window {
	return &window{n: n, per: per, at: make([]time.Time, 0, n)}
}

// allow reports whether an event at now fits.
func (w *window) allow(now time.Time) bool {
	w.expire(now)
	return len(w.at) < w.n
}

// take records an event at now if it fits, and reports whether it did.
func (w *window) take(now time.Time) bool {
	if !w.allow(now) {
		return false
	}
	w.at = append(w.at, now)
	return true
}

// expire drops events at least per before now. An event after now (the
// clock was set back) stays until per after it.
func (w *window) expire(now time.Time) {
	i := 0
	for i < len(w.at) && now.Sub(w.at[i]) >= w.per {
		i++
	}
	if i > 0 {
		w.at = append(w.at[:0], w.at[i:]...)
	}
}
