package hal_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/haltest"
)

// records is a slog.Handler that keeps every record at or above level.
type records struct {
	level slog.Level
	mu    *sync.Mutex
	recs  *[]slog.Record
}

func newRecords(level slog.Level) records {
	return records{level: level, mu: new(sync.Mutex), recs: new([]slog.Record)}
}

func (h records) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.recs = append(*h.recs, r.Clone())
	return nil
}
func (h records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h records) WithGroup(string) slog.Handler      { return h }

// with returns the records with message msg, each as a map of its attrs.
func (h records) with(msg string) []map[string]slog.Value {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]slog.Value
	for _, r := range *h.recs {
		if r.Message != msg {
			continue
		}
		m := map[string]slog.Value{"level": slog.StringValue(r.Level.String())}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
		out = append(out, m)
	}
	return out
}

const lossMsg = "hal: edges lost: the reader fell behind and the line's event queue overflowed; a press in progress is held until a clean release"

// TestInputLostEdges plays a chattering press whose middle the kernel lost,
// then a clean press, through the real Input goroutine: one ring each,
// the loss counted and warned about once a minute, every edge in the debug
// log, and the reader's stall measured on the injected clock.
func TestInputLostEdges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	// The clock stands 5s after the first edge, past all of them: the
	// reader took them all late, the first one 5s late.
	clk := clockwork.NewFakeClockAt(t0.Add(5 * time.Second))
	log := newRecords(slog.LevelDebug)
	pin := haltest.NewPin("BTN", gpio.High)
	in := hal.NewButton(pin, hal.InputOptions{ActiveLow: true, Pull: gpio.PullUp, Poll: 10 * time.Millisecond, Clock: clk, Logger: slog.New(log)},
		hal.ButtonOptions{Debounce: 50 * time.Millisecond})

	// 50Hz chatter from t0 for 300ms: down 8ms, up 2ms. Edges 10..21
	// (60ms, longer than the debounce) are lost; the kernel reports it on
	// edge 22.
	ms := time.Millisecond
	queued := 0
	for i := 0; i < 30; i++ {
		at := t0.Add(time.Duration(i/2)*10*ms + time.Duration(i%2)*8*ms)
		l := gpio.Level(i%2 == 1) // down (low) first
		switch {
		case i >= 10 && i < 22:
			continue
		case i == 22:
			pin.SetLost(at, l, 12)
		default:
			pin.SetAt(at, l)
		}
		queued++
	}
	// A second burst of losses inside a clean second press a second
	// later, in the same minute: counted, not warned about yet.
	second := t0.Add(time.Second)
	pin.SetAt(second, gpio.Low)
	pin.SetLost(second.Add(100*ms), gpio.Low, 4)
	pin.SetAt(second.Add(200*ms), gpio.High)
	queued += 3

	out := make(chan hal.Event, 16)
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, out) }()

	for i, want := range []time.Time{t0, second} {
		select {
		case e := <-out:
			if e.Type != hal.Ring || !e.At.Equal(want) {
				t.Fatalf("event %d: %+v, want a ring at +%v", i, e, want.Sub(t0))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d: no ring", i)
		}
	}
	waitFor(t, "all edges read", func() bool { return in.Stats().Edges == uint64(queued) })
	st := in.Stats()
	if st.LostEdges != 16 || st.LongestStall != 5*time.Second {
		t.Errorf("stats %+v, want 16 lost edges and a 5s longest stall", st)
	}
	// One warning so far, for the first loss.
	waitFor(t, "the first warning", func() bool { return len(log.with(lossMsg)) >= 1 })
	if w := log.with(lossMsg); len(w) != 1 || w[0]["lost"].Uint64() != 12 || w[0]["lost_total"].Uint64() != 12 || w[0]["level"].String() != "WARN" {
		t.Fatalf("warnings %v, want one WARN with lost=12 lost_total=12", w)
	}
	// A minute on, the losses not yet warned about are.
	clk.Advance(time.Minute)
	waitFor(t, "the second warning", func() bool { return len(log.with(lossMsg)) == 2 })
	if w := log.with(lossMsg)[1]; w["lost"].Uint64() != 4 || w["lost_total"].Uint64() != 16 {
		t.Errorf("second warning %v, want lost=4 lost_total=16", w)
	}

	// Every edge is in the debug log, with its sequence numbers and loss.
	edges := log.with("hal: edge")
	if len(edges) != queued {
		t.Fatalf("%d edge records, want %d", len(edges), queued)
	}
	var lostLogged uint64
	prev := uint64(0)
	for i, e := range edges {
		seq, lost := e["line_seqno"].Uint64(), e["lost"].Uint64()
		if seq != prev+lost+1 {
			t.Errorf("edge record %d: line_seqno %d after %d with lost=%d", i, seq, prev, lost)
		}
		prev = seq
		lostLogged += lost
		if dir := e["edge"].String(); (dir == "falling") != e["active"].Bool() {
			t.Errorf("edge record %d: %s edge, active=%v on an active-low line", i, dir, e["active"].Bool())
		}
	}
	if lostLogged != 16 {
		t.Errorf("edge records report %d lost, want 16", lostLogged)
	}
	stopped(t, cancel, done)
}

// TestInputNoEdgeLogAtInfo: at info level the edge log stays silent.
func TestInputNoEdgeLogAtInfo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := newRecords(slog.LevelInfo)
	pin := haltest.NewPin("BTN", gpio.High)
	in := hal.NewButton(pin, hal.InputOptions{ActiveLow: true, Pull: gpio.PullUp, Logger: slog.New(log)},
		hal.ButtonOptions{Debounce: time.Millisecond})
	out := make(chan hal.Event, 4)
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, out) }()
	pin.Set(gpio.Low)
	pin.Set(gpio.High)
	<-out
	waitFor(t, "both edges read", func() bool { return in.Stats().Edges == 2 })
	if n := len(log.with("hal: edge")); n != 0 {
		t.Errorf("%d edge records at info level", n)
	}
	stopped(t, cancel, done)
}
