package hal

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
)

// Logic is an input's state machine: ButtonLogic or MotionLogic.
type Logic interface {
	Edge(t time.Time, active bool, emit func(Event))
	Tick(t time.Time, emit func(Event))
	Deadline() (time.Time, bool)
}

// TimedPin is implemented by pins that know each edge's own time and
// direction: the kernel's event timestamp from the GPIO character device
// (see package hal/gpioline). Input then uses those instead of the time it
// woke up and the level it read afterwards.
type TimedPin interface {
	// WaitForEdgeTime returns the next queued edge — when it happened and
	// the level the line went to — waiting up to timeout for one. A
	// timeout of 0 only looks at what is queued.
	WaitForEdgeTime(timeout time.Duration) (at time.Time, l gpio.Level, ok bool)
}

// InputOptions say how to read one input line.
type InputOptions struct {
	Name      string // "button", "pir": names the line in errors and logs, and is each Event's Source
	ActiveLow bool   // low level means pressed / motion
	Pull      gpio.Pull
	Clock     clockwork.Clock // default: the real clock
	Logger    *slog.Logger    // default: slog.Default()
	// Poll bounds each wait for an edge, so Run notices ctx within it.
	// Default 200ms.
	Poll time.Duration
}

func (o *InputOptions) ensureDefaults() {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
}

// Input reads one GPIO line and turns its edges into Events through a Logic.
// One goroutine (Run's) owns the pin.
type Input struct {
	pin      gpio.PinIn
	opts     InputOptions
	newLogic func(now time.Time, active bool, emit func(Event)) Logic
}

// NewButton returns an Input that reads a bell push on pin.
func NewButton(pin gpio.PinIn, io InputOptions, bo ButtonOptions) *Input {
	if io.Name == "" {
		io.Name = "button"
	}
	return newInput(pin, io, func(now time.Time, active bool, _ func(Event)) Logic {
		return NewButtonLogic(bo, now, active)
	})
}

// NewMotion returns an Input that reads a PIR sensor on pin.
func NewMotion(pin gpio.PinIn, io InputOptions, mo MotionOptions) *Input {
	if io.Name == "" {
		io.Name = "pir"
	}
	return newInput(pin, io, func(now time.Time, active bool, emit func(Event)) Logic {
		return NewMotionLogic(mo, now, active, emit)
	})
}

func newInput(pin gpio.PinIn, o InputOptions, nl func(time.Time, bool, func(Event)) Logic) *Input {
	o.ensureDefaults()
	return &Input{pin: pin, opts: o, newLogic: nl}
}

// Run configures the line for both edges and sends the events it sees to
// out until ctx is done. Every edge is stamped with its kernel timestamp
// when the pin is a TimedPin, else with the clock's time at wake-up. Run
// blocks rather than drop an event when out is full.
func (in *Input) Run(ctx context.Context, out chan<- Event) error {
	if err := in.pin.In(in.opts.Pull, gpio.BothEdges); err != nil {
		return fmt.Errorf("hal: %s %s: configure input: %w", in.opts.Name, in.pin, err)
	}
	clk := in.opts.Clock
	emit := func(e Event) {
		e.Source = in.opts.Name
		select {
		case out <- e:
		case <-ctx.Done():
		}
	}
	isActive := func(l gpio.Level) bool { return (l == gpio.High) != in.opts.ActiveLow }
	active := func() bool { return isActive(in.pin.Read()) }
	timed, _ := in.pin.(TimedPin)
	startActive := active()
	logic := in.newLogic(clk.Now(), startActive, emit)
	in.opts.Logger.Debug("hal: input ready", "input", in.opts.Name, "pin", in.pin.String(), "active", startActive)
	for ctx.Err() == nil {
		wait := in.opts.Poll
		if d, ok := logic.Deadline(); ok {
			if left := d.Sub(clk.Now()); left < wait {
				wait = max(left, 0)
			}
		}
		if timed != nil {
			// Queued edges always come before a Tick: a reader that fell
			// behind must not judge the line quiet while edges it has
			// not seen yet wait in the queue with their own times.
			if at, l, ok := timed.WaitForEdgeTime(wait); ok {
				logic.Edge(at, isActive(l), emit)
			} else {
				logic.Tick(clk.Now(), emit)
			}
			continue
		}
		if wait <= 0 {
			logic.Tick(clk.Now(), emit)
			continue
		}
		if in.pin.WaitForEdge(wait) {
			logic.Edge(clk.Now(), active(), emit)
		} else {
			logic.Tick(clk.Now(), emit)
		}
	}
	return nil
}
