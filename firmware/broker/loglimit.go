package broker

import (
	"context"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/ratelog"
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
	keys   *ratelog.Keys
}

func newLogLimiter(logger *slog.Logger, clock clockwork.Clock) *logLimiter {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &logLimiter{logger: logger, clock: clock, keys: ratelog.New(logInterval, logMaxKeys)}
}

// maxKeyHost bounds the bytes of an address kept as a key.
const maxKeyHost = 64

// log logs msg with attrs unless host and kind were logged less than
// logInterval ago. It reports whether it logged.
func (l *logLimiter) log(host, kind, msg string, attrs ...any) bool {
	if len(host) > maxKeyHost {
		host = host[:maxKeyHost]
	}
	v := l.keys.Allow(l.clock.Now(), kind+" "+host)
	if !v.OK {
		return false
	}
	if v.Suppressed > 0 {
		attrs = append(attrs, "suppressed", v.Suppressed)
	}
	if v.Overflow > 0 {
		attrs = append(attrs, "suppressed_other_addresses", v.Overflow)
	}
	l.logger.Log(context.Background(), slog.LevelWarn, msg, attrs...)
	return true
}
