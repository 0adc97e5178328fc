package hal

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
)

// With the edge log off, taking an edge allocates nothing.
func TestInputEdgeAllocsWithoutDebug(t *testing.T) {
	clk := clockwork.NewFakeClockAt(t0)
	in := newInput(nil, InputOptions{Name: "button", Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		func(now time.Time, active bool, _ func(Event)) Logic {
			return NewButtonLogic(ButtonOptions{}, now, active)
		})
	logic := in.newLogic(t0, false, nil)
	emit := func(Event) {}
	ctx := context.Background()
	at, n := t0, 0
	allocs := testing.AllocsPerRun(1000, func() {
		at = at.Add(time.Second)
		n++
		in.edge(ctx, logic, Edge{At: at, Level: gpio.Level(n%2 == 0), Seqno: uint32(n), LineSeqno: uint32(n)}, n%2 == 1, emit)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per edge with debug off, want 0", allocs)
	}
}
