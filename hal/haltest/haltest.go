// Package haltest provides stand-ins for the doorbell's GPIO lines: pins
// that sim mode and tests drive by hand, through the same hal code as real
// lines.
package haltest

import (
	"context"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/doorbelld/doorbelld/hal"
)

// Pin is a simulated input or output line: a periph gpiotest.Pin plus a
// queue of edges stamped with the time they were played, so that a reader
// that falls behind still sees when each edge happened, as with the
// kernel's event timestamps on a real line (it implements hal.TimedPin and
// hal.EdgeInfoPin). Like the kernel it numbers the edges (LineSeqno), and
// SetLost plays an edge that comes after lost ones, as after an overflow
// of the kernel's event queue.
type Pin struct {
	*gpiotest.Pin

	edges chan edge
	qmu   sync.Mutex // orders numbering and queueing
	seqno uint32     // the last edge's sequence number, counting lost ones

	pmu  sync.Mutex // serialises Press
	held bool       // a Press is holding the line
	gen  uint64     // Press count, so a stale release does nothing

	timer *time.Timer // WaitForEdgeTime's, reused
}

var (
	_ hal.TimedPin    = (*Pin)(nil)
	_ hal.EdgeInfoPin = (*Pin)(nil)
)

type edge struct {
	at          time.Time
	l           gpio.Level
	lost, seqno uint32
}

// NewPin returns a pin at level l with room for 1024 queued edges.
func NewPin(name string, l gpio.Level) *Pin {
	return &Pin{Pin: &gpiotest.Pin{N: name, L: l}, edges: make(chan edge, 1024)}
}

// In implements gpio.PinIn. Unlike gpiotest.Pin it keeps the line's level
// and any queued edges: a simulated line has a state of its own, and a
// press queued before the reader configured the pin is not lost.
func (p *Pin) In(pull gpio.Pull, _ gpio.Edge) error {
	p.Lock()
	defer p.Unlock()
	p.P = pull
	return nil
}

// WaitForEdge implements gpio.PinIn (the new level is taken with the edge;
// a negative timeout waits forever).
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	_, ok := p.WaitForEdgeInfo(timeout)
	return ok
}

// WaitForEdgeTime implements hal.TimedPin: the next queued edge, with the
// time it was played. A timeout of 0 only looks.
func (p *Pin) WaitForEdgeTime(timeout time.Duration) (time.Time, gpio.Level, bool) {
	e, ok := p.WaitForEdgeInfo(timeout)
	return e.At, e.Level, ok
}

// WaitForEdgeInfo implements hal.EdgeInfoPin: the next queued edge, with
// the time it was played, its sequence number and the edges lost before it
// (SetLost). A timeout of 0 only looks. One reused timer, so waiting costs
// no allocation; one goroutine may wait at a time, as with a real line.
func (p *Pin) WaitForEdgeInfo(timeout time.Duration) (hal.Edge, bool) {
	select {
	case e := <-p.edges:
		return p.take(e), true
	default:
	}
	if timeout == 0 {
		return hal.Edge{}, false
	}
	var tc <-chan time.Time
	if timeout > 0 {
		if p.timer == nil {
			p.timer = time.NewTimer(timeout)
		} else {
			p.timer.Reset(timeout)
		}
		tc = p.timer.C
		defer p.timer.Stop()
	}
	select {
	case e := <-p.edges:
		return p.take(e), true
	case <-tc:
		return hal.Edge{}, false
	}
}

func (p *Pin) take(e edge) hal.Edge {
	_ = p.Out(e.l)
	return hal.Edge{At: e.at, Level: e.l, Lost: e.lost, Seqno: e.seqno, LineSeqno: e.seqno}
}

// Set queues an edge to level l, stamped now. The reader sees the new
// level when it takes the edge, as on a real line.
func (p *Pin) Set(l gpio.Level) { p.queue(time.Now(), l, 0) }

// SetAt queues an edge to level l stamped at, for tests that need exact
// edge times whatever the scheduler does. Queue edges in time order, as a
// line's come.
func (p *Pin) SetAt(at time.Time, l gpio.Level) { p.queue(at, l, 0) }

// SetLost queues an edge to level l stamped at that comes after lost
// edges the reader never sees, as when the kernel's event queue overflowed:
// its sequence number skips lost numbers and it reports Lost = lost.
func (p *Pin) SetLost(at time.Time, l gpio.Level, lost uint32) { p.queue(at, l, lost) }

func (p *Pin) queue(at time.Time, l gpio.Level, lost uint32) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	p.seqno += lost + 1
	p.edges <- edge{at: at, l: l, lost: lost, seqno: p.seqno}
}

// Pending returns the queued edges' levels without taking them (tests).
func (p *Pin) Pending() []gpio.Level {
	var ls []gpio.Level
	for n := len(p.edges); n > 0; n-- {
		e := <-p.edges
		ls = append(ls, e.l)
		p.edges <- e
	}
	return ls
}

// Press holds the line at its active level for hold, then releases it.
// activeLow says which level is active. It returns at once; the release
// follows in the background. A press that comes while an earlier one is
// still held first releases that one, so the line's edges always alternate
// as a real push's do.
func (p *Pin) Press(activeLow bool, hold time.Duration) {
	active, inactive := gpio.Level(!activeLow), gpio.Level(activeLow)
	p.pmu.Lock()
	defer p.pmu.Unlock()
	if p.held {
		p.Set(inactive)
	}
	p.gen++
	gen := p.gen
	p.held = true
	p.Set(active)
	time.AfterFunc(hold, func() {
		p.pmu.Lock()
		defer p.pmu.Unlock()
		if p.gen == gen && p.held {
			p.held = false
			p.Set(inactive)
		}
	})
}

// Level returns the line's current level (what an output was last set to).
func (p *Pin) Level() gpio.Level { return p.Read() }

// Step is one edge of a recorded pattern: after Wait, the line goes to Level.
type Step struct {
	Wait  time.Duration
	Level gpio.Level
}

// Play drives the line through steps with real sleeps, for end-to-end
// tests of the whole input path.
func (p *Pin) Play(ctx context.Context, steps []Step) error {
	for _, s := range steps {
		if s.Wait > 0 {
			t := time.NewTimer(s.Wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		p.Set(s.Level)
	}
	return nil
}
