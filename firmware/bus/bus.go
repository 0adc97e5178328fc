package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// Event is what sinks receive: the event as published, and what it does
// (event.Of(Type) after the daemon's privacy gate: with privacy mode on,
// Props.Camera is false).
type Event struct {
	event.Event
	Props event.Props
}

// Sink reacts to events. OnEvent and OnPrivacy run on the sink's own
// goroutine, one call at a time, in the order they were published; they
// may take their time (others are not delayed) but should return when ctx
// is done.
type Sink interface {
	// Name names the sink in logs and counters: "chime", "outbox", ...
	Name() string
	OnEvent(ctx context.Context, e Event)
	// OnPrivacy is called when privacy mode is switched, and once at
	// start with its current state.
	OnPrivacy(ctx context.Context, on bool)
}

// Base is a Sink that does nothing; embed it and override what you need.
type Base struct{}

// Name is "base"; override it.
func (Base) Name() string { return "base" }

// OnEvent does nothing.
func (Base) OnEvent(context.Context, Event) {}

// OnPrivacy does nothing.
func (Base) OnPrivacy(context.Context, bool) {}

var _ Sink = Base{}

// Lossless is implemented by sinks that must see every event (the
// outbox: a ring must never be lost). When such a sink's queue is full,
// Publish waits for room instead of dropping; keep their OnEvent fast.
type Lossless interface {
	Lossless() bool
}

// Options configure a Bus.
type Options struct {
	// Queue is each sink's queue length. Default 64.
	Queue  int
	Logger *slog.Logger
}

// Stats count one sink's messages.
type Stats struct {
	Name      string `json:"name"`
	Delivered uint64 `json:"delivered"`
	Dropped   uint64 `json:"dropped"` // the queue was full
}

type message struct {
	ev      *Event
	privacy bool
}

type sub struct {
	sink      Sink
	lossless  bool
	q         chan message
	delivered atomic.Uint64
	dropped   atomic.Uint64
}

// Bus delivers events to sinks. Add sinks before Run; Publish and Privacy
// are safe for concurrent use and never block.
type Bus struct {
	opts Options

	mu       sync.RWMutex
	subs     []*sub
	running  atomic.Bool
	closed   bool          // no more messages; guarded by mu
	stopping chan struct{} // closed when Run's ctx is done: blocked lossless sends give up
	drain    chan struct{} // closed once no send is in progress: sinks finish their queue and return
}

// New returns a Bus. It starts nothing; Run does.
func New(opts Options) *Bus {
	if opts.Queue <= 0 {
		opts.Queue = 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Bus{opts: opts, stopping: make(chan struct{}), drain: make(chan struct{})}
}

// Add registers s. It panics when called after Run started or with a
// name already taken: both are wiring mistakes.
func (b *Bus) Add(s Sink) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running.Load() {
		panic(fmt.Sprintf("bus: Add(%s) after Run", s.Name()))
	}
	for _, x := range b.subs {
		if x.sink.Name() == s.Name() {
			panic(fmt.Sprintf("bus: two sinks named %q", s.Name()))
		}
	}
	l, ok := s.(Lossless)
	b.subs = append(b.subs, &sub{sink: s, lossless: ok && l.Lossless(), q: make(chan message, b.opts.Queue)})
}

// Sinks returns the registered sinks' names, in Add order.
func (b *Bus) Sinks() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, len(b.subs))
	for i, s := range b.subs {
		out[i] = s.sink.Name()
	}
	return out
}

// Publish hands e to every sink. It reports false when the bus has
// stopped (the event reached no sink).
func (b *Bus) Publish(e Event) bool { return b.send(message{ev: &e}) }

// Privacy tells every sink that privacy mode is now on or off.
func (b *Bus) Privacy(on bool) bool { return b.send(message{privacy: on}) }

func (b *Bus) send(m message) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return false
	}
	for _, s := range b.subs {
		if s.lossless {
			select {
			case s.q <- m:
			case <-b.stopping: // shutting down: the sink may never read again
				s.dropped.Add(1)
				b.opts.Logger.Error("bus: stopping, message for a lossless sink dropped", "sink", s.sink.Name())
			}
			continue
		}
		select {
		case s.q <- m:
		default:
			n := s.dropped.Add(1)
			what := "privacy"
			if m.ev != nil {
				what = string(m.ev.Type) + " " + m.ev.ID
			}
			b.opts.Logger.Warn("bus: sink is behind, message dropped", "sink", s.sink.Name(), "message", what, "dropped", n)
		}
	}
	return true
}

// Stats returns each sink's counters, in Add order.
func (b *Bus) Stats() []Stats {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]Stats, len(b.subs))
	for i, s := range b.subs {
		out[i] = Stats{Name: s.sink.Name(), Delivered: s.delivered.Load(), Dropped: s.dropped.Load()}
	}
	return out
}

// Run delivers messages until ctx is done, then lets every sink finish
// its queue and returns. A Bus runs once.
func (b *Bus) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return fmt.Errorf("bus: Run called twice")
	}
	b.mu.RLock()
	subs := b.subs // Add no longer changes it
	b.mu.RUnlock()

	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case m := <-s.q:
					b.deliver(ctx, s, m)
				case <-b.drain:
					for {
						select {
						case m := <-s.q:
							b.deliver(ctx, s, m)
						default:
							return
						}
					}
				}
			}
		}()
	}
	<-ctx.Done()
	close(b.stopping)
	b.mu.Lock() // waits for every send in progress
	b.closed = true
	b.mu.Unlock()
	close(b.drain)
	wg.Wait()
	return nil
}

// deliver calls the sink, recovering a panic so one broken sink cannot
// take the doorbell down.
func (b *Bus) deliver(ctx context.Context, s *sub, m message) {
	defer func() {
		if r := recover(); r != nil {
			b.opts.Logger.Error("bus: sink panicked", "sink", s.sink.Name(), "panic", r)
		}
	}()
	if m.ev != nil {
		s.sink.OnEvent(ctx, *m.ev)
	} else {
		s.sink.OnPrivacy(ctx, m.privacy)
	}
	s.delivered.Add(1)
}
