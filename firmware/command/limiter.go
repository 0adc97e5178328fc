package command

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/ratelog"
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
	keys *ratelog.Keys
}

// NewLimiter returns a Limiter.
func NewLimiter(opts LimiterOptions) *Limiter {
	opts.ensureDefaults()
	return &Limiter{opts: opts, keys: ratelog.New(opts.Interval, opts.MaxKeys)}
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
	v := l.keys.Allow(l.opts.Clock.Now(), kind+" "+topic)
	if !v.OK {
		return false
	}
	attrs := []any{"topic", topic, "err", err}
	if v.Suppressed > 0 {
		attrs = append(attrs, "suppressed", v.Suppressed)
	}
	if v.Overflow > 0 {
		attrs = append(attrs, "suppressed_other_topics", v.Overflow)
	}
	l.opts.Logger.Log(context.Background(), level, "command dropped", attrs...)
	return true
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
