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

// Logic is an input's state machine: ButtonLogic or MotionLogic.
type Logic interface {
	Edge(t time.Time, active bool, emit func(Event))
	// EdgeAfterLoss is Edge for an edge that came right after lost
	// edges (Edge.Lost > 0): the line changed unseen between the last edge
	// and this one, so that gap must never be judged quiet. With lost == 0
	// it is Edge.
	EdgeAfterLoss(t time.Time, active bool, lost uint32, emit func(Event))
	Tick(t time.Time, emit func(Event))
	Deadline() (time.Time, bool)
}

// TimedPin is implemented by pins that know each edge's own time and
// direction: the kernel's event timestamp from the GPIO character device
// (see package hal/gpioline). Input then uses those instead of the time it
// woke up and the level it read afterwards. A pin that can also say which
// edges were lost implements EdgeInfoPin, which Input prefers.
type TimedPin interface {
	// WaitForEdgeTime returns the next queued edge — when it happened and
	// the level the line went to — waiting up to timeout for one. A
	// timeout of 0 only looks at what is queued.
	WaitForEdgeTime(timeout time.Duration) (at time.Time, l gpio.Level, ok bool)
}

// Edge is one edge of an input line as its driver reported it.
type Edge struct {
	At    time.Time  // when the line changed: the kernel's event timestamp
	Level gpio.Level // the level the line went to
	// Lost is how many edges the driver dropped between the edge it
	// delivered before this one and this one: its queue overflowed while
	// the reader was late. 0 for a clean edge.
	Lost uint32
	// Seqno and LineSeqno are the kernel's sequence numbers of the edge
	// in its line request and on its line (1 for the first edge after the
	// line was requested), for the edge log. 0 when the driver has none.
	Seqno, LineSeqno uint32
}

// EdgeInfoPin is implemented by pins that also report the edges their
// driver lost (package hal/gpioline, from the GPIO v2 event sequence
// numbers; haltest.Pin). Input prefers it to TimedPin.
type EdgeInfoPin interface {
	// WaitForEdgeInfo returns the next queued edge, waiting up to timeout
	// for one; a timeout of 0 only looks. Queued edges come first, however
	// late the caller is.
	WaitForEdgeInfo(timeout time.Duration) (Edge, bool)
}

// InputStats count what an Input has read. All fields only grow.
type InputStats struct {
	Edges     uint64 `json:"edges"`      // edges read from the line
	LostEdges uint64 `json:"lost_edges"` // edges the driver reported lost (its queue overflowed)
	// LongestStall is the largest delay seen between an edge's own
	// timestamp and the moment the reader took it, on the Input's clock:
	// how far behind the reader has fallen. 0 for pins without edge
	// timestamps. In JSON, nanoseconds.
	LongestStall time.Duration `json:"longest_stall_ns"`
}

// lossLogEvery bounds the lost-edge warning to one per line per minute.
const lossLogEvery = time.Minute

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

	// Stats, written by Run's goroutine, read by Stats from any.
	edges, lost atomic.Uint64
	stall       atomic.Int64 // longest stall, ns

	// Run's goroutine only.
	lossLogged time.Time // when the last lost-edge warning went out
	unlogged   uint64    // lost edges not yet in a warning
	prevAt     time.Time // the last edge's time, for the edge log
}

// Stats returns the counts so far. It is safe to call while Run runs.
func (in *Input) Stats() InputStats {
	return InputStats{
		Edges:        in.edges.Load(),
		LostEdges:    in.lost.Load(),
		LongestStall: time.Duration(in.stall.Load()),
	}
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
// when the pin is an EdgeInfoPin or a TimedPin, else with the clock's time
// at wake-up. Edges the driver lost are counted (Stats), logged as a
// warning at most once a minute, and never taken for a quiet line (see
// Logic.EdgeAfterLoss). At debug level every edge is logged. Run blocks
// rather than drop an event when out is full.
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
	info, _ := in.pin.(EdgeInfoPin)
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
		if info != nil || timed != nil {
			// Queued edges always come before a Tick: a reader that fell
			// behind must not judge the line quiet while edges it has
			// not seen yet wait in the queue with their own times.
			var e Edge
			var ok bool
			if info != nil {
				e, ok = info.WaitForEdgeInfo(wait)
			} else {
				e.At, e.Level, ok = timed.WaitForEdgeTime(wait)
			}
			if ok {
				in.edge(ctx, logic, e, isActive(e.Level), emit)
			} else {
				in.logLoss(clk.Now())
				logic.Tick(clk.Now(), emit)
			}
			continue
		}
		if wait <= 0 {
			logic.Tick(clk.Now(), emit)
			continue
		}
		if in.pin.WaitForEdge(wait) {
			l := in.pin.Read()
			in.edge(ctx, logic, Edge{At: clk.Now(), Level: l}, isActive(l), emit)
		} else {
			logic.Tick(clk.Now(), emit)
		}
	}
	return nil
}

// edge counts and logs one edge and hands it to logic.
func (in *Input) edge(ctx context.Context, logic Logic, e Edge, active bool, emit func(Event)) {
	now := in.opts.Clock.Now()
	stall := max(now.Sub(e.At), 0)
	if int64(stall) > in.stall.Load() {
		in.stall.Store(int64(stall)) // only this goroutine writes
	}
	if log := in.opts.Logger; log.Enabled(ctx, slog.LevelDebug) {
		dir := "falling"
		if e.Level == gpio.High {
			dir = "rising"
		}
		var gap time.Duration
		if !in.prevAt.IsZero() {
			gap = e.At.Sub(in.prevAt)
		}
		log.LogAttrs(ctx, slog.LevelDebug, "hal: edge",
			slog.String("input", in.opts.Name),
			slog.String("at", e.At.Format(edgeTimeFormat)),
			slog.String("edge", dir),
			slog.Bool("active", active),
			slog.Duration("after", gap),
			slog.Uint64("seqno", uint64(e.Seqno)),
			slog.Uint64("line_seqno", uint64(e.LineSeqno)),
			slog.Uint64("lost", uint64(e.Lost)),
			slog.Duration("delay", stall))
	}
	in.prevAt = e.At
	if e.Lost > 0 {
		in.lost.Add(uint64(e.Lost))
		in.unlogged += uint64(e.Lost)
		in.logLoss(now)
	}
	logic.EdgeAfterLoss(e.At, active, e.Lost, emit)
	in.edges.Add(1) // last: an edge counted has been handled in full
}

// edgeTimeFormat shows an edge's kernel time to the microsecond: bounces
// are a few hundred µs to a few ms apart.
const edgeTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// logLoss warns about lost edges not yet reported, at most once per
// lossLogEvery.
func (in *Input) logLoss(now time.Time) {
	if in.unlogged == 0 || (!in.lossLogged.IsZero() && now.Sub(in.lossLogged) < lossLogEvery) {
		return
	}
	in.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn,
		"hal: edges lost: the reader fell behind and the line's event queue overflowed; a press in progress is held until a clean release",
		slog.String("input", in.opts.Name),
		slog.Uint64("lost", in.unlogged),
		slog.Uint64("lost_total", in.lost.Load()),
		slog.Duration("longest_stall", time.Duration(in.stall.Load())))
	in.lossLogged, in.unlogged = now, 0
}
