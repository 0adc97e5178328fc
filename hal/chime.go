package hal

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
)

// ChimeOptions tune the chime relay.
type ChimeOptions struct {
	ActiveLow bool          // relay boards that switch on a low level
	Pulse     time.Duration // how long the relay closes per ring; default 250ms
	Enabled   bool          // initial state of the enable switch
	// MinGap is the least time between the starts of two pulses; rings
	// inside it fold into the last pulse. 0: only a running pulse folds.
	MinGap time.Duration
	// Quiet lists local-time ranges in which the chime stays silent.
	Quiet QuietHours
	// Name is what the relay drives, in logs and errors: "chime" (the
	// default), or "door" for the door strike, which is the same pulsed
	// relay with a longer pulse and no quiet hours.
	Name   string
	Clock  clockwork.Clock
	Logger *slog.Logger
}

func (o *ChimeOptions) ensureDefaults() {
	if o.Pulse <= 0 {
		o.Pulse = 250 * time.Millisecond
	}
	if o.Name == "" {
		o.Name = "chime"
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Chime pulses a relay that rings the house's existing chime. Run's
// goroutine owns the pin; Ring only asks for a pulse and never blocks.
type Chime struct {
	pin     gpio.PinOut
	opts    ChimeOptions
	req     chan struct{}
	enabled atomic.Bool
	pulses  atomic.Uint64
	quieted atomic.Uint64
	folded  atomic.Uint64
}

// NewChime returns a chime on pin. It starts nothing.
func NewChime(pin gpio.PinOut, opts ChimeOptions) *Chime {
	opts.ensureDefaults()
	c := &Chime{pin: pin, opts: opts, req: make(chan struct{}, 1)}
	c.enabled.Store(opts.Enabled)
	return c
}

// Ring asks for one pulse. Rings that arrive while a pulse is running or
// pending, or within MinGap of the last pulse, fold into it. A disabled
// chime ignores them, and so does one in its quiet hours.
func (c *Chime) Ring() {
	if !c.enabled.Load() {
		return
	}
	select {
	case c.req <- struct{}{}:
	default:
	}
}

// SetEnabled flips the enable switch.
func (c *Chime) SetEnabled(on bool) { c.enabled.Store(on) }

// Enabled reports the enable switch.
func (c *Chime) Enabled() bool { return c.enabled.Load() }

// Pulses counts the pulses given since start.
func (c *Chime) Pulses() uint64 { return c.pulses.Load() }

// Quieted counts the rings kept silent by quiet hours.
func (c *Chime) Quieted() uint64 { return c.quieted.Load() }

// Folded counts the rings that came within MinGap of the last pulse and
// so gave none of their own (rings while a pulse is pending are not
// counted).
func (c *Chime) Folded() uint64 { return c.folded.Load() }

func (c *Chime) level(on bool) gpio.Level { return gpio.Level(on != c.opts.ActiveLow) }

// Run drives the relay until ctx is done, then leaves it open (safe level).
func (c *Chime) Run(ctx context.Context) error {
	if err := c.pin.Out(c.level(false)); err != nil {
		return fmt.Errorf("hal: %s %s: set output: %w", c.opts.Name, c.pin, err)
	}
	defer func() {
		if err := c.pin.Out(c.level(false)); err != nil {
			c.opts.Logger.Error("hal: "+c.opts.Name+": release relay", "pin", c.pin.String(), "err", err)
		}
	}()
	var last time.Time // start of the last pulse
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.req:
		}
		now := c.opts.Clock.Now()
		if c.opts.Quiet.Contains(now) {
			c.quieted.Add(1)
			c.opts.Logger.Info("hal: "+c.opts.Name+": quiet hours, not pulsing", "quiet", c.opts.Quiet.String())
			continue
		}
		if !last.IsZero() && now.Sub(last) < c.opts.MinGap {
			c.folded.Add(1)
			continue
		}
		last = now
		if err := c.pin.Out(c.level(true)); err != nil {
			c.opts.Logger.Error("hal: "+c.opts.Name+": close relay", "pin", c.pin.String(), "err", err)
			continue
		}
		c.pulses.Add(1)
		select {
		case <-ctx.Done():
		case <-c.opts.Clock.After(c.opts.Pulse):
		}
		if err := c.pin.Out(c.level(false)); err != nil {
			c.opts.Logger.Error("hal: "+c.opts.Name+": open relay", "pin", c.pin.String(), "err", err)
		}
	}
}
