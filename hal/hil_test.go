//go:build hil

// Emulated-hardware tests: run inside the qemu guest of scripts/hil.sh,
// against the real gpio-sim driver through the GPIO character device.
//
//	go test -c -tags hil ./hal && ./hal.test -test.v -gpiosim /sys/devices/platform/gpio-sim.0/gpiochip0
//
// The guest's gpio-sim bank has lines BUTTON (0), PIR (1), CHIME (2) and
// SPARE3..7; these tests run before doorbelld starts, so the lines are free.
package hal_test

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/gpioline"
)

var gpiosim = flag.String("gpiosim", os.Getenv("HIL_GPIOSIM"), "sysfs dir of the gpio-sim chip (…/gpio-sim.0/gpiochipN)")

func hilSetup(t *testing.T) {
	t.Helper()
	if *gpiosim == "" {
		t.Fatal("-gpiosim not set: run inside scripts/hil.sh")
	}
	if err := gpioline.Init(); err != nil {
		t.Fatal(err)
	}
}

// span is the time a pull write took: the kernel stamps the edge it makes
// inside it.
type span struct{ before, after time.Time }

func (s span) contains(at time.Time) bool { return !at.Before(s.before) && !at.After(s.after) }

func (s span) String() string {
	return s.before.Format("15:04:05.000000") + "+" + s.after.Sub(s.before).String()
}

// pull sets the simulated pull of line n, "pull-up" or "pull-down", and
// returns when the write started and ended.
func pull(t *testing.T, n int, v string) span {
	t.Helper()
	before := time.Now()
	if err := os.WriteFile(*gpiosim+"/sim_gpio"+strconv.Itoa(n)+"/pull", []byte(v), 0); err != nil {
		t.Fatal(err)
	}
	return span{before, time.Now()}
}

func value(t *testing.T, n int) string {
	t.Helper()
	b, err := os.ReadFile(*gpiosim + "/sim_gpio" + strconv.Itoa(n) + "/value")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// readyHandler is a slog.Handler that closes ready on Input's
// "hal: input ready" record, which Run logs once the line is requested
// (with its bias set) and read.
type readyHandler struct {
	ready chan struct{}
	once  *sync.Once
}

func (h readyHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h readyHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "hal: input ready" {
		h.once.Do(func() { close(h.ready) })
	}
	return nil
}

func (h readyHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h readyHandler) WithGroup(string) slog.Handler      { return h }

// runInput starts an Input on a named gpio-sim line and returns its events
// once the line is ready. mk must use log as InputOptions.Logger.
func runInput(t *testing.T, name string, mk func(p gpio.PinIn, log *slog.Logger) *hal.Input) <-chan hal.Event {
	t.Helper()
	p, err := gpioline.OpenInput(name)
	if err != nil {
		t.Fatal(err)
	}
	h := readyHandler{ready: make(chan struct{}), once: new(sync.Once)}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan hal.Event, 16)
	done := make(chan error, 1)
	go func() { done <- mk(p, slog.New(h)).Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		p.Close()
	})
	select {
	case <-h.ready:
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("%s: Run returned before the line was ready: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no \"hal: input ready\" from Run", name)
	}
	return out
}

// events waits for n events (a late reader is no failure), then keeps
// collecting until none has come for quiet, to catch extra ones.
func events(t *testing.T, out <-chan hal.Event, n int, quiet time.Duration) []hal.Event {
	t.Helper()
	var evs []hal.Event
	for len(evs) < n {
		select {
		case e := <-out:
			evs = append(evs, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("events %+v, want %d", evs, n)
		}
	}
	for {
		select {
		case e := <-out:
			evs = append(evs, e)
		case <-time.After(quiet):
			return evs
		}
	}
}

func TestHILButtonBouncingPressIsOneRing(t *testing.T) {
	hilSetup(t)
	out := runInput(t, "BUTTON", func(p gpio.PinIn, log *slog.Logger) *hal.Input {
		return hal.NewButton(p, hal.InputOptions{ActiveLow: true, Pull: gpio.PullUp, Logger: log},
			hal.ButtonOptions{Debounce: buttonDebounce, MinPress: 3 * time.Millisecond, LongPress: 500 * time.Millisecond})
	})
	// Five bounces written back to back, held 200ms, then a bouncing
	// release.
	var w writes
	var downs []span
	for i := 0; i < 5; i++ {
		downs = append(downs, w.pull(t, "pull-down"))
		w.pull(t, "pull-up")
	}
	downs = append(downs, w.pull(t, "pull-down"))
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 3; i++ {
		w.pull(t, "pull-up")
		w.pull(t, "pull-down")
	}
	w.pull(t, "pull-up")
	evs := events(t, out, 1, 300*time.Millisecond)
	w.judge(t, "bouncing press", evs)
	// Bounces shorter than min_press are filtered, so the ring is stamped
	// with the kernel's time of the edge that started the held press or of
	// an earlier one: inside one of the pull-down writes.
	stamped := -1
	for i, s := range downs {
		if s.contains(evs[0].At) {
			stamped = i
		}
	}
	if stamped < 0 {
		t.Errorf("ring stamped %v, within none of the pull-down writes %v; want the kernel's edge time", evs[0].At.Format("15:04:05.000000"), downs)
	} else {
		t.Logf("ring stamped with pull-down %d of %d, %v into its %v write", stamped+1, len(downs),
			evs[0].At.Sub(downs[stamped].before), downs[stamped].after.Sub(downs[stamped].before))
	}

	// Long press: ring, then long_press for the same press.
	down := pull(t, 0, "pull-down")
	time.Sleep(700 * time.Millisecond)
	pull(t, 0, "pull-up")
	evs = events(t, out, 2, 300*time.Millisecond)
	if len(evs) != 2 || evs[0].Type != hal.Ring || evs[1].Type != hal.LongPress || !evs[0].At.Equal(evs[1].At) {
		t.Fatalf("long press gave %+v, want ring + long_press", evs)
	}
	if !down.contains(evs[0].At) {
		t.Errorf("long press stamped %v, outside its pull-down write %v", evs[0].At.Format("15:04:05.000000"), down)
	}

	// AC chatter at 50Hz for 300ms: one ring.
	w = writes{}
	for i := 0; i < 15; i++ {
		w.pull(t, "pull-down")
		time.Sleep(8 * time.Millisecond)
		w.pull(t, "pull-up")
		time.Sleep(2 * time.Millisecond)
	}
	evs = events(t, out, 1, 300*time.Millisecond)
	w.judge(t, "AC chatter", evs)
}

// buttonDebounce is the Debounce of TestHILButtonBouncingPressIsOneRing.
const buttonDebounce = 50 * time.Millisecond

// writes records the pull writes of one press on line 0 (active low).
type writes struct{ ups, downs []span }

func (w *writes) pull(t *testing.T, v string) span {
	t.Helper()
	s := pull(t, 0, v)
	if v == "pull-up" {
		w.ups = append(w.ups, s)
	} else {
		w.downs = append(w.downs, s)
	}
	return s
}

// judge wants one ring, or one more per release that really may have
// lasted debounce: a starved test process can stretch a 2ms "up" into a
// genuine release, and then a second ring is right. Each release began
// inside its pull-up write and ended inside the next pull-down write, so
// it lasted at most from the first's start to the second's end; only
// releases that cannot have reached debounce must not ring.
func (w *writes) judge(t *testing.T, what string, evs []hal.Event) {
	t.Helper()
	long := 0
	for i, up := range w.ups {
		if i+1 < len(w.downs) && w.downs[i+1].after.Sub(up.before) >= buttonDebounce {
			long++
		}
	}
	for _, e := range evs {
		if e.Type != hal.Ring {
			t.Fatalf("%s gave %+v, want rings only", what, evs)
		}
	}
	if len(evs) < 1 || len(evs) > 1+long {
		t.Fatalf("%s gave %d rings %+v, want 1 (+ up to %d for releases that may have lasted %v)",
			what, len(evs), evs, long, buttonDebounce)
	}
	if long > 0 {
		t.Logf("%s: %d rings; %d releases may have lasted %v (starved writer)", what, len(evs), long, buttonDebounce)
	}
}

func TestHILMotion(t *testing.T) {
	hilSetup(t)
	const hold = 300 * time.Millisecond
	out := runInput(t, "PIR", func(p gpio.PinIn, log *slog.Logger) *hal.Input {
		return hal.NewMotion(p, hal.InputOptions{Pull: gpio.PullDown, Logger: log}, hal.MotionOptions{Hold: hold})
	})
	on := pull(t, 1, "pull-up")
	time.Sleep(100 * time.Millisecond)
	off := pull(t, 1, "pull-down")
	evs := events(t, out, 2, 300*time.Millisecond)
	if len(evs) != 2 || evs[0].Type != hal.MotionStart || evs[1].Type != hal.MotionEnd {
		t.Fatalf("events %+v, want motion_start, motion_end", evs)
	}
	if !on.contains(evs[0].At) {
		t.Errorf("motion_start stamped %v, outside its pull-up write %v", evs[0].At.Format("15:04:05.000000"), on)
	}
	// motion_end is stamped hold after the sensor's last edge.
	if quiet := evs[1].At.Add(-hold); !off.contains(quiet) {
		t.Errorf("motion_end stamped %v, not %v after the pull-down write %v", evs[1].At.Format("15:04:05.000000"), hold, off)
	}
}

func TestHILChimeOutput(t *testing.T) {
	hilSetup(t)
	p, err := gpioline.Open("CHIME")
	if err != nil {
		t.Fatal(err)
	}
	// The pulse is timed by a fake clock, so the line is checked in and
	// after the pulse however slowly the guest runs.
	const pulse = 200 * time.Millisecond
	clk := clockwork.NewFakeClock()
	c := hal.NewChime(p, hal.ChimeOptions{Pulse: pulse, Enabled: true, Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	if v := value(t, 2); v != "0" {
		t.Fatalf("chime line %s before a ring, want 0", v)
	}
	c.Ring()
	deadline := time.Now().Add(10 * time.Second)
	for c.Pulses() == 0 && time.Now().Before(deadline) { // counted once the line is set
		time.Sleep(time.Millisecond)
	}
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
	defer bcancel()
	if err := clk.BlockUntilContext(bctx, 1); err != nil { // the pulse timer
		t.Fatalf("chime not timing a pulse (pulses=%d): %v", c.Pulses(), err)
	}
	if v := value(t, 2); v != "1" {
		t.Errorf("chime line %s during the pulse, want 1", v)
	}
	clk.Advance(pulse)
	deadline = time.Now().Add(10 * time.Second)
	for value(t, 2) != "0" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if v := value(t, 2); v != "0" {
		t.Errorf("chime line %s after the pulse, want 0", v)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestHILBusyLineNamesIt(t *testing.T) {
	hilSetup(t)
	a, err := gpioline.OpenInput("SPARE3")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.In(gpio.PullNoChange, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	b, _ := gpioline.OpenInput("SPARE3")
	err = b.In(gpio.PullNoChange, gpio.BothEdges)
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "SPARE3") {
		t.Errorf("second request: %v, want EBUSY naming SPARE3", err)
	}
	if _, err := gpioline.Open("NO_SUCH_LINE"); !errors.Is(err, gpioline.ErrNotFound) || !strings.Contains(err.Error(), "NO_SUCH_LINE") {
		t.Errorf("missing line: %v, want ErrNotFound naming it", err)
	}
}

// TestHILLostEdgesCounted toggles a gpio-sim line 50 times while nobody
// reads it, through a 16-event kernel queue: the kernel keeps the newest
// events, and the gap in line_seqno before the first one read says how
// many were dropped. Expected: 50 − 16 = 34 lost, when every toggle became
// an event before the first read.
func TestHILLostEdgesCounted(t *testing.T) {
	hilSetup(t)
	const buf, toggles, line = 16, 50, 4 // SPARE4
	p, err := gpioline.OpenInputWith("SPARE4", gpioline.InputOptions{EventBuffer: buf})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// No bias: a bias flag would set gpio-sim's pull, and so the line.
	if err := p.In(gpio.PullNoChange, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	high := value(t, line) == "1"
	if irqCount(t) < 0 {
		t.Log("no doorbelld interrupt in /proc/interrupts: toggling without waiting for each edge")
	}
	for i := 0; i < toggles; i++ {
		high = !high
		if high {
			pullSeen(t, line, "pull-up")
		} else {
			pullSeen(t, line, "pull-down")
		}
	}
	// Wait (bounded) for the edge of the last toggle: the kernel hands
	// events on from a threaded handler, so the last may trail the writes.
	var evs []hal.Edge
	deadline := time.Now().Add(10 * time.Second)
	for len(evs) == 0 || (evs[len(evs)-1].LineSeqno < toggles && time.Now().Before(deadline)) {
		e, ok := p.WaitForEdgeInfo(100 * time.Millisecond)
		if ok {
			evs = append(evs, e)
		} else if len(evs) == 0 && time.Now().After(deadline) {
			t.Fatal("no edge event from 50 toggles")
		}
	}
	for { // and anything still queued
		e, ok := p.WaitForEdgeInfo(0)
		if !ok {
			break
		}
		evs = append(evs, e)
	}
	first, last := evs[0], evs[len(evs)-1]
	var lost uint64
	for i, e := range evs {
		lost += uint64(e.Lost)
		if i > 0 && e.LineSeqno != evs[i-1].LineSeqno+e.Lost+1 {
			t.Errorf("event %d: line_seqno %d after %d with lost=%d", i, e.LineSeqno, evs[i-1].LineSeqno, e.Lost)
		}
	}
	t.Logf("%d toggles, %d events read (line_seqno %d..%d, first lost=%d), %d lost counted; 50-16 = %d",
		toggles, len(evs), first.LineSeqno, last.LineSeqno, first.Lost, p.LostEdges(), toggles-buf)
	if p.LostEdges() != lost || lost != uint64(last.LineSeqno)-uint64(len(evs)) {
		t.Errorf("LostEdges() = %d, sum of Lost %d; want both = last line_seqno %d − %d events read",
			p.LostEdges(), lost, last.LineSeqno, len(evs))
	}
	if last.LineSeqno == toggles && len(evs) == buf && lost != toggles-buf {
		t.Errorf("%d lost, want %d", lost, toggles-buf)
	}
	if last.LineSeqno > buf && lost == 0 {
		t.Errorf("%d events through a %d-event queue, none lost", last.LineSeqno, buf)
	}
	// After the overflow, the next edge is clean.
	if high {
		pull(t, line, "pull-down")
	} else {
		pull(t, line, "pull-up")
	}
	e, ok := p.WaitForEdgeInfo(10 * time.Second)
	if !ok || e.Lost != 0 || e.LineSeqno != last.LineSeqno+1 {
		t.Errorf("edge after the drain: %+v (ok %v), want line_seqno %d, none lost", e, ok, last.LineSeqno+1)
	}
}

// irqCount sums the /proc/interrupts counts of the edge interrupts that
// doorbelld's line requests hold (named after the consumer), or -1.
func irqCount(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/interrupts")
	if err != nil {
		return -1
	}
	n, found := 0, false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[len(f)-1] != "doorbelld" {
			continue
		}
		found = true
		for _, c := range f[1:] {
			v, err := strconv.Atoi(c)
			if err != nil {
				break
			}
			n += v
		}
	}
	if !found {
		return -1
	}
	return n
}

// pullSeen is pull, then waits (bounded) until the kernel has taken the
// edge's interrupt: gpio-sim edges written back to back merge while the
// last one's handler runs, and these tests need every edge seen.
func pullSeen(t *testing.T, n int, v string) {
	t.Helper()
	before := irqCount(t)
	pull(t, n, v)
	if before < 0 {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for irqCount(t) <= before && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
}

// requested is a gpioline.Input whose line is already requested: In keeps
// the request (and the events queued in it) instead of making a new one.
type requested struct{ *gpioline.Input }

func (requested) In(gpio.Pull, gpio.Edge) error { return nil }

// TestHILInputCountsLostEdges: a chattering press (50 edges) on a line
// whose 16-event queue nobody reads, then an Input starts reading it: the
// whole real path — kernel seqno, Input, ButtonLogic — gives one ring and
// counts the lost edges and the reader's stall.
func TestHILInputCountsLostEdges(t *testing.T) {
	hilSetup(t)
	const buf, edges, line = 16, 50, 5 // SPARE5
	pull(t, line, "pull-up")           // released (active low), before the request: no event
	p, err := gpioline.OpenInputWith("SPARE5", gpioline.InputOptions{EventBuffer: buf})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.In(gpio.PullNoChange, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < edges/2; i++ {
		pullSeen(t, line, "pull-down")
		pullSeen(t, line, "pull-up")
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := hal.NewButton(requested{p}, hal.InputOptions{ActiveLow: true, Logger: slog.New(slog.DiscardHandler)},
		hal.ButtonOptions{Debounce: 50 * time.Millisecond})
	out := make(chan hal.Event, 16)
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, out) }()
	evs := events(t, out, 1, 300*time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := in.Stats()
	t.Logf("%d edges played, %d read, %d lost (kernel: %d), longest stall %v; events %+v",
		edges, st.Edges, st.LostEdges, p.LostEdges(), st.LongestStall, evs)
	if len(evs) != 1 || evs[0].Type != hal.Ring {
		t.Errorf("events %+v, want one ring", evs)
	}
	if st.LostEdges != p.LostEdges() || st.Edges+st.LostEdges > edges {
		t.Errorf("stats %+v, kernel lost %d: want the same loss, at most %d edges in all", st, p.LostEdges(), edges)
	}
	if st.Edges+st.LostEdges == edges && st.LostEdges != edges-buf {
		t.Errorf("%d lost, want %d", st.LostEdges, edges-buf)
	}
}
