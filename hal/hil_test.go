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
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

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

// pull sets the simulated pull of line n: "pull-up" or "pull-down".
func pull(t *testing.T, n int, v string) time.Time {
	t.Helper()
	at := time.Now()
	if err := os.WriteFile(*gpiosim+"/sim_gpio"+strconv.Itoa(n)+"/pull", []byte(v), 0); err != nil {
		t.Fatal(err)
	}
	return at
}

func value(t *testing.T, n int) string {
	t.Helper()
	b, err := os.ReadFile(*gpiosim + "/sim_gpio" + strconv.Itoa(n) + "/value")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// runInput starts an Input on a named gpio-sim line and returns its events.
func runInput(t *testing.T, name string, mk func(gpio.PinIn) *hal.Input) <-chan hal.Event {
	t.Helper()
	p, err := gpioline.OpenInput(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan hal.Event, 16)
	done := make(chan error, 1)
	go func() { done <- mk(p).Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		p.Close()
	})
	time.Sleep(50 * time.Millisecond) // the line is requested (and its bias set)
	return out
}

func events(out <-chan hal.Event, quiet time.Duration) []hal.Event {
	var evs []hal.Event
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
	out := runInput(t, "BUTTON", func(p gpio.PinIn) *hal.Input {
		return hal.NewButton(p, hal.InputOptions{ActiveLow: true, Pull: gpio.PullUp},
			hal.ButtonOptions{Debounce: 50 * time.Millisecond, MinPress: 3 * time.Millisecond, LongPress: 500 * time.Millisecond})
	})
	// Five bounces 2ms apart, held 200ms, then a bouncing release.
	var first time.Time
	for i := 0; i < 5; i++ {
		at := pull(t, 0, "pull-down")
		if first.IsZero() {
			first = at
		}
		time.Sleep(2 * time.Millisecond)
		pull(t, 0, "pull-up")
		time.Sleep(2 * time.Millisecond)
	}
	pull(t, 0, "pull-down")
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 3; i++ {
		pull(t, 0, "pull-up")
		time.Sleep(time.Millisecond)
		pull(t, 0, "pull-down")
		time.Sleep(time.Millisecond)
	}
	pull(t, 0, "pull-up")
	evs := events(out, 300*time.Millisecond)
	if len(evs) != 1 || evs[0].Type != hal.Ring {
		t.Fatalf("events %+v, want exactly one ring", evs)
	}
	// Bounces shorter than min_press are filtered, so the ring is stamped
	// with the edge that started the held press or an earlier one.
	if d := evs[0].At.Sub(first); d < -time.Millisecond || d > 40*time.Millisecond {
		t.Errorf("ring at %v, %v after the first edge; want the kernel's edge time", evs[0].At, d)
	}
	t.Logf("ring stamped %v after the first pull write", evs[0].At.Sub(first))

	// Long press: ring, then long_press for the same press.
	start := pull(t, 0, "pull-down")
	time.Sleep(700 * time.Millisecond)
	pull(t, 0, "pull-up")
	evs = events(out, 300*time.Millisecond)
	if len(evs) != 2 || evs[0].Type != hal.Ring || evs[1].Type != hal.LongPress || !evs[0].At.Equal(evs[1].At) {
		t.Fatalf("long press gave %+v, want ring + long_press", evs)
	}
	if d := evs[0].At.Sub(start); d < -time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("long press stamped %v after the write", d)
	}

	// AC chatter at 50Hz for 300ms: one ring.
	for i := 0; i < 15; i++ {
		pull(t, 0, "pull-down")
		time.Sleep(8 * time.Millisecond)
		pull(t, 0, "pull-up")
		time.Sleep(2 * time.Millisecond)
	}
	evs = events(out, 300*time.Millisecond)
	if len(evs) != 1 || evs[0].Type != hal.Ring {
		t.Fatalf("AC chatter gave %+v, want exactly one ring", evs)
	}
}

func TestHILMotion(t *testing.T) {
	hilSetup(t)
	out := runInput(t, "PIR", func(p gpio.PinIn) *hal.Input {
		return hal.NewMotion(p, hal.InputOptions{Pull: gpio.PullDown}, hal.MotionOptions{Hold: 300 * time.Millisecond})
	})
	pull(t, 1, "pull-up")
	time.Sleep(100 * time.Millisecond)
	off := pull(t, 1, "pull-down")
	evs := events(out, 600*time.Millisecond)
	if len(evs) != 2 || evs[0].Type != hal.MotionStart || evs[1].Type != hal.MotionEnd {
		t.Fatalf("events %+v, want motion_start, motion_end", evs)
	}
	if held := evs[1].At.Sub(off); held < 290*time.Millisecond || held > 400*time.Millisecond {
		t.Errorf("motion_end %v after the sensor went quiet, want the 300ms hold", held)
	}
}

func TestHILChimeOutput(t *testing.T) {
	hilSetup(t)
	p, err := gpioline.Open("CHIME")
	if err != nil {
		t.Fatal(err)
	}
	c := hal.NewChime(p, hal.ChimeOptions{Pulse: 200 * time.Millisecond, Enabled: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	if v := value(t, 2); v != "0" {
		t.Fatalf("chime line %s before a ring, want 0", v)
	}
	c.Ring()
	time.Sleep(80 * time.Millisecond)
	if v := value(t, 2); v != "1" {
		t.Errorf("chime line %s during the pulse, want 1", v)
	}
	time.Sleep(250 * time.Millisecond)
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
