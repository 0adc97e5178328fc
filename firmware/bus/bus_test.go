package bus

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/event"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder records what it receives; gate, when set, blocks each OnEvent
// until a value arrives on it.
type recorder struct {
	Base
	name    string
	gate    chan struct{}
	entered chan string // optional: each OnEvent's id as it starts
	mu      sync.Mutex
	got     []string
	privacy []bool
	each    chan string
}

func newRecorder(name string) *recorder {
	return &recorder{name: name, each: make(chan string, 1000)}
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) OnEvent(ctx context.Context, e Event) {
	if r.entered != nil {
		r.entered <- e.ID
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	r.got = append(r.got, e.ID)
	r.mu.Unlock()
	r.each <- e.ID
}

func (r *recorder) OnPrivacy(_ context.Context, on bool) {
	r.mu.Lock()
	r.privacy = append(r.privacy, on)
	r.mu.Unlock()
	r.each <- fmt.Sprint("privacy ", on)
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func ev(id string) Event {
	return Event{Event: event.Event{ID: id, Type: event.Ring}, Props: event.Props{Chime: true}}
}

func run(t *testing.T, b *Bus) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestSlowSinkDoesNotDelayOthers(t *testing.T) {
	b := New(Options{Logger: quiet})
	slow, fast := newRecorder("snapshot"), newRecorder("outbox")
	slow.gate = make(chan struct{})
	b.Add(slow)
	b.Add(fast)
	stop := run(t, b)
	for i := range 10 {
		b.Publish(ev(fmt.Sprint(i)))
	}
	// Every event reaches the fast sink while the slow one is still stuck
	// in its first call.
	for i := range 10 {
		if got := <-fast.each; got != fmt.Sprint(i) {
			t.Fatalf("fast sink got %s, want %d", got, i)
		}
	}
	if n := len(slow.ids()); n != 0 {
		t.Fatalf("slow sink finished %d events while gated", n)
	}
	close(slow.gate)
	for i := range 10 {
		if got := <-slow.each; got != fmt.Sprint(i) {
			t.Fatalf("slow sink got %s, want %d (order)", got, i)
		}
	}
	stop()
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	b := New(Options{Queue: 2, Logger: quiet})
	slow, fast := newRecorder("slow"), newRecorder("fast")
	slow.gate = make(chan struct{})
	slow.entered = make(chan string, 10)
	b.Add(slow)
	b.Add(fast)
	stop := run(t, b)
	b.Publish(ev("0"))
	// Once the slow sink holds event 0 in its call, its queue is empty
	// and takes exactly two more.
	<-fast.each
	<-slow.entered
	for i := 1; i <= 4; i++ {
		b.Publish(ev(fmt.Sprint(i)))
		<-fast.each
	}
	st := b.Stats()
	if st[0].Name != "slow" || st[0].Dropped != 2 {
		t.Errorf("slow stats %+v, want 2 dropped", st[0])
	}
	if st[1].Dropped != 0 || st[1].Delivered != 5 {
		t.Errorf("fast stats %+v, want 5 delivered, 0 dropped", st[1])
	}
	close(slow.gate)
	stop()
	if got := slow.ids(); fmt.Sprint(got) != "[0 1 2]" {
		t.Errorf("slow sink got %v, want [0 1 2]", got)
	}
}

func TestStopDrainsQueues(t *testing.T) {
	b := New(Options{Logger: quiet})
	r := newRecorder("outbox")
	r.gate = make(chan struct{})
	b.Add(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	for i := range 5 {
		b.Publish(ev(fmt.Sprint(i)))
	}
	cancel()
	close(r.gate) // the gate also opens on ctx; either way all 5 are delivered
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := r.ids(); len(got) != 5 {
		t.Errorf("delivered %v before Run returned, want all 5", got)
	}
	if b.Publish(ev("late")) {
		t.Error("Publish after stop reported delivery")
	}
}

type panicky struct{ Base }

func (panicky) Name() string                   { return "panicky" }
func (panicky) OnEvent(context.Context, Event) { panic("boom") }

func TestPanickingSinkIsContained(t *testing.T) {
	b := New(Options{Logger: quiet})
	r := newRecorder("ok")
	b.Add(panicky{})
	b.Add(r)
	stop := run(t, b)
	b.Publish(ev("a"))
	b.Privacy(true)
	b.Publish(ev("b"))
	for _, want := range []string{"a", "privacy true", "b"} {
		if got := <-r.each; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	stop()
}

func TestAddRules(t *testing.T) {
	b := New(Options{Logger: quiet})
	b.Add(newRecorder("x"))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a second sink named x was accepted")
			}
		}()
		b.Add(newRecorder("x"))
	}()
	stop := run(t, b)
	for !b.running.Load() {
		time.Sleep(time.Millisecond) // polls a condition
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Add after Run was accepted")
			}
		}()
		b.Add(newRecorder("y"))
	}()
	stop()
	if got := b.Sinks(); fmt.Sprint(got) != "[x]" {
		t.Errorf("Sinks = %v", got)
	}
}

type losslessRecorder struct{ *recorder }

func (losslessRecorder) Lossless() bool { return true }

func TestLosslessSinkGetsEverything(t *testing.T) {
	b := New(Options{Queue: 2, Logger: quiet})
	r := losslessRecorder{newRecorder("outbox")}
	r.gate = make(chan struct{})
	b.Add(r)
	stop := run(t, b)
	published := make(chan struct{})
	go func() {
		for i := range 10 {
			b.Publish(ev(fmt.Sprint(i)))
		}
		close(published)
	}()
	for range 10 {
		r.gate <- struct{}{}
	}
	<-published
	stop()
	if got := r.ids(); len(got) != 10 || b.Stats()[0].Dropped != 0 {
		t.Errorf("lossless sink got %v, dropped %d; want all 10", got, b.Stats()[0].Dropped)
	}
}
