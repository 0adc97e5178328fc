package broker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// logInterval is how long one client address and kind of refusal stay
// quiet after a line; logMaxKeys bounds the addresses remembered, so a
// flood from many addresses cannot grow memory.
const (
	logInterval = time.Minute
	logMaxKeys  = 256
)

// logLimiter logs refusals at Warn, at most once per logInterval for each
// client address and kind (auth, denied, slow, oversize, busy, will). The
// next line says how many were suppressed. Callers never pass passwords.
type logLimiter struct {
	logger *slog.Logger
	clock  clockwork.Clock

	mu       sync.Mutex
	seen     map[logKey]*logEntry
	overflow int // lines not logged because seen was full
}

type logKey struct{ host, kind string }

type logEntry struct {
	last       time.Time
	suppressed int
}

// maxKeyHost bounds the bytes of an address kept as a key.
const maxKeyHost = 64

func newLogLimiter(logger *slog.Logger, clock clockwork.Clock) *logLimiter {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &logLimiter{logger: logger, clock: clock, seen: map[logKey]*logEntry{}}
}

// log logs msg with attrs unless host and kind were logged less than
// logInterval ago. It reports whether it logged.
func (l *logLimiter) log(host, kind, msg string, attrs ...any) bool {
	if len(host) > maxKeyHost {
		host = host[:maxKeyHost]
	}
	k := logKey{host, kind}
	now := l.clock.Now()

	l.mu.Lock()
	e := l.seen[k]
	if e != nil && now.Sub(e.last) < logInterval {
		e.suppressed++
		l.mu.Unlock()
		return false
	}
	if e == nil {
		if len(l.seen) >= logMaxKeys {
			for k, e := range l.seen {
				if now.Sub(e.last) >= logInterval {
					delete(l.seen, k)
				}
			}
		}
		if len(l.seen) >= logMaxKeys {
			l.overflow++
			l.mu.Unlock()
			return false
		}
		e = &logEntry{}
		l.seen[k] = e
	}
	suppressed := e.suppressed
	e.last, e.suppressed = now, 0
	overflow := l.overflow
	l.overflow = 0
	l.mu.Unlock()

	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	if overflow > 0 {
		attrs = append(attrs, "suppressed_other_addresses", overflow)
	}
	l.logger.Log(context.Background(), slog.LevelWarn, msg, attrs...)
	return true
}
