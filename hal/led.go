package hal

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
)

// Pattern is a status LED blink pattern.
type Pattern uint8

// The LED's patterns. The daemon picks the state (Idle, Offline, Updating,
// Privacy); Ringing is shown for a while after each ring, then the state
// comes back.
const (
	Idle     Pattern = iota // steady on
	Ringing                 // fast blink
	Offline                 // short blink every 2s: no broker
	Updating                // even 0.5s blink
	Privacy                 // double blink every 2s
	Dark                    // off
)

var patternNames = [...]string{"idle", "ringing", "offline", "updating", "privacy", "dark"}

func (p Pattern) String() string {
	if int(p) < len(patternNames) {
		return patternNames[p]
	}
	return fmt.Sprintf("Pattern(%d)", p)
}

// step is one phase of a pattern: the LED lit or not for d (0: forever).
type step struct {
	on bool
	d  time.Duration
}

var patterns = map[Pattern][]step{
	Idle:     {{true, 0}},
	Ringing:  {{true, 100 * time.Millisecond}, {false, 100 * time.Millisecond}},
	Offline:  {{true, 200 * time.Millisecond}, {false, 1800 * time.Millisecond}},
	Updating: {{true, 500 * time.Millisecond}, {false, 500 * time.Millisecond}},
	Privacy:  {{true, 100 * time.Millisecond}, {false, 150 * time.Millisecond}, {true, 100 * time.Millisecond}, {false, 1650 * time.Millisecond}},
	Dark:     {{false, 0}},
}

// LEDOptions configure the status LED.
type LEDOptions struct {
	ActiveLow bool
	// RingFor is how long Ringing shows after Flash. Default 3s.
	RingFor time.Duration
	Clock   clockwork.Clock
	Logger  *slog.Logger
}

// LED drives a status LED. Run's goroutine owns the pin; Set and Flash
// only record what to show.
type LED struct {
	pin    gpio.PinOut
	opts   LEDOptions
	wake   chan struct{}
	mu     sync.Mutex
	state  Pattern
	flashU time.Time // Ringing shows until then
}

// NewLED returns a status LED on pin, in state Idle. It starts nothing.
func NewLED(pin gpio.PinOut, opts LEDOptions) *LED {
	if opts.RingFor <= 0 {
		opts.RingFor = 3 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &LED{pin: pin, opts: opts, wake: make(chan struct{}, 1)}
}

// Set changes the state the LED shows when it is not flashing a ring.
func (l *LED) Set(p Pattern) {
	l.mu.Lock()
	changed := l.state != p
	l.state = p
	l.mu.Unlock()
	if changed {
		l.poke()
	}
}

// Flash shows Ringing for RingFor, then the state again.
func (l *LED) Flash() {
	l.mu.Lock()
	l.flashU = l.opts.Clock.Now().Add(l.opts.RingFor)
	l.mu.Unlock()
	l.poke()
}

func (l *LED) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Showing returns the pattern shown now.
func (l *LED) Showing() Pattern {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current(l.opts.Clock.Now())
}

func (l *LED) current(now time.Time) Pattern {
	if now.Before(l.flashU) {
		return Ringing
	}
	return l.state
}

// Run blinks the LED until ctx is done, then turns it off.
func (l *LED) Run(ctx context.Context) error {
	defer func() {
		if err := l.pin.Out(gpio.Level(l.opts.ActiveLow)); err != nil {
			l.opts.Logger.Error("hal: led: turn off", "pin", l.pin.String(), "err", err)
		}
	}()
	for {
		l.mu.Lock()
		now := l.opts.Clock.Now()
		p := l.current(now)
		flashEnd := l.flashU
		l.mu.Unlock()
		if err := l.show(ctx, p, flashEnd); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// show plays p until it is woken, the flash ends, or ctx is done.
func (l *LED) show(ctx context.Context, p Pattern, flashEnd time.Time) error {
	steps := patterns[p]
	for i := 0; ; i = (i + 1) % len(steps) {
		s := steps[i]
		if err := l.pin.Out(gpio.Level(s.on != l.opts.ActiveLow)); err != nil {
			return fmt.Errorf("hal: led %s: %w", l.pin, err)
		}
		d := s.d
		if p == Ringing {
			if left := flashEnd.Sub(l.opts.Clock.Now()); d == 0 || left < d {
				d = max(left, 0)
			}
		}
		var (
			tc    <-chan time.Time
			timer clockwork.Timer
		)
		if d > 0 {
			timer = l.opts.Clock.NewTimer(d)
			tc = timer.Chan()
		} else if p == Ringing {
			return nil // flash over
		}
		woke := false
		select {
		case <-ctx.Done():
			woke = true
		case <-l.wake:
			woke = true
		case <-tc:
			woke = p == Ringing && !l.opts.Clock.Now().Before(flashEnd)
		}
		if timer != nil {
			timer.Stop()
		}
		if woke {
			return nil
		}
	}
}
