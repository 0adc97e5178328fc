package command

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// LimiterOptions configure a Limiter.
type LimiterOptions struct {
	Logger *slog.Logger
	// Interval is how long the same topic and kind of error stay quiet
	// after being logged. Default 1m.
	Interval time.Duration
	// MaxKeys bounds how many topic and error pairs are remembered, so a
	// flood of commands on random topics cannot grow memory. Default 256.
	MaxKeys int
	Clock   clockwork.Clock // default: the real clock
}

func (o *LimiterOptions) ensureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 256
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// Limiter logs dropped commands at most once per Interval for each topic
// and kind of error (retained, unknown, malformed). The kind, not the
// whole error text, is the key: the text quotes the payload, and a sender
// looping over garbage payloads must not get one line per message. It is
// safe for concurrent use.
type Limiter struct {
	opts LimiterOptions

	mu       sync.Mutex
	seen     map[limitKey]*limitEntry
	overflow int // messages not logged because seen was full
}

type limitKey struct{ topic, kind string }

type limitEntry struct {
	last       time.Time
	suppressed int
}

// maxKeyTopic bounds the bytes of a topic kept as a key.
const maxKeyTopic = 256

// NewLimiter returns a Limiter.
func NewLimiter(opts LimiterOptions) *Limiter {
	opts.ensureDefaults()
	return &Limiter{opts: opts, seen: make(map[limitKey]*limitEntry)}
}

// Log logs err, a Parse error for topic, unless the same topic and kind of
// error was logged less than Interval ago. It reports whether it logged.
// Retained commands are logged at Info (a stale retained message is
// harmless once ignored), everything else at Warn.
func (l *Limiter) Log(topic string, err error) bool {
	if err == nil {
		return false
	}
	kind, level := errorKind(err)
	if len(topic) > maxKeyTopic {
		topic = topic[:maxKeyTopic]
	}
	k := limitKey{topic, kind}
	now := l.opts.Clock.Now()

	l.mu.Lock()
	e := l.seen[k]
	if e != nil && now.Sub(e.last) < l.opts.Interval {
		e.suppressed++
		l.mu.Unlock()
		return false
	}
	if e == nil {
		if len(l.seen) >= l.opts.MaxKeys {
			l.expire(now)
		}
		if len(l.seen) >= l.opts.MaxKeys {
			l.overflow++
			l.mu.Unlock()
			return false
		}
		e = &limitEntry{}
		l.seen[k] = e
	}
	suppressed := e.suppressed
	e.last, e.suppressed = now, 0
	overflow := l.overflow
	l.overflow = 0
	l.mu.Unlock()

	attrs := []any{"topic", topic, "err", err}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	if overflow > 0 {
		attrs = append(attrs, "suppressed_other_topics", overflow)
	}
	l.opts.Logger.Log(context.Background(), level, "command dropped", attrs...)
	return true
}

// expire forgets keys that have been quiet for a whole Interval, so they
// would log again anyway. Called with mu held.
func (l *Limiter) expire(now time.Time) {
	for k, e := range l.seen {
		if now.Sub(e.last) >= l.opts.Interval {
			delete(l.seen, k)
		}
	}
}

func errorKind(err error) (string, slog.Level) {
	switch {
	case errors.Is(err, ErrRetained):
		return "retained", slog.LevelInfo
	case errors.Is(err, ErrUnknown):
		return "unknown", slog.LevelWarn
	case errors.Is(err, ErrMalformed):
		return "malformed", slog.LevelWarn
	case errors.Is(err, ErrTooLarge):
		return "too_large", slog.LevelWarn
	case errors.Is(err, ErrRateLimited):
		return "rate_limited", slog.LevelWarn
	}
	return "other", slog.LevelWarn
}
