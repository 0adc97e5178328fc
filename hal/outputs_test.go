package hal_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/haltest"
	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
)

func TestQuietHours(t *testing.T) {
	q, err := hal.ParseQuietHours("22:00-07:00, 12:30-13:00")
	if err != nil {
		t.Fatal(err)
	}
	if q.String() != "22:00-07:00,12:30-13:00" {
		t.Errorf("String() = %q", q.String())
	}
	day := func(h, m int) time.Time { return time.Date(2026, 11, 26, h, m, 0, 0, time.Local) }
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{day(21, 59), false}, {day(22, 0), true}, {day(3, 0), true}, {day(6, 59), true},
		{day(7, 0), false}, {day(12, 45), true}, {day(13, 0), false}, {day(18, 0), false},
	} {
		if got := q.Contains(tt.at); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.at.Format("15:04"), got, tt.want)
		}
	}
	for _, bad := range []string{"22:00", "25:00-07:00", "07:00-07:00", "ab-cd"} {
		if _, err := hal.ParseQuietHours(bad); err == nil {
			t.Errorf("ParseQuietHours(%q) accepted", bad)
		}
	}
}

// runChime runs a chime on a fake clock and returns a function that rings
// and reports whether the relay closed.
func TestChimeQuietHoursAndMinGap(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Date(2026, 11, 26, 23, 0, 0, 0, time.Local))
	q, _ := hal.ParseQuietHours("22:00-07:00")
	pin := haltest.NewPin("CHIME", gpio.Low)
	c := hal.NewChime(pin, hal.ChimeOptions{Pulse: 200 * time.Millisecond, MinGap: 5 * time.Second, Quiet: q, Enabled: true, Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// ring waits until the chime has handled the request: pulsed, kept
	// quiet or folded into the last pulse.
	handled := func() uint64 { return c.Pulses() + c.Quieted() + c.Folded() }
	ring := func() {
		t.Helper()
		before := handled()
		c.Ring()
		deadline := time.Now().Add(10 * time.Second)
		for handled() == before {
			if time.Now().After(deadline) {
				t.Fatal("the chime never handled a ring")
			}
			time.Sleep(time.Millisecond)
		}
	}
	// A press during quiet hours: the event is still published (not
	// hal's job), the chime stays silent.
	ring()
	if c.Pulses() != 0 || c.Quieted() != 1 || pin.Level() != gpio.Low {
		t.Fatalf("quiet hours: pulses=%d quieted=%d level=%v", c.Pulses(), c.Quieted(), pin.Level())
	}
	clk.Advance(9 * time.Hour) // 08:00
	ring()
	if c.Pulses() != 1 || pin.Level() != gpio.High {
		t.Fatalf("after quiet hours: pulses=%d level=%v, want a closed relay", c.Pulses(), pin.Level())
	}
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
	defer bcancel()
	if err := clk.BlockUntilContext(bctx, 1); err != nil { // the pulse timer
		t.Fatal("the chime is not timing its pulse:", err)
	}
	clk.Advance(200 * time.Millisecond)
	for deadline := time.Now().Add(10 * time.Second); pin.Level() != gpio.Low; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the relay stayed closed after the pulse")
		}
	}
	// Within MinGap: folded.
	ring()
	if c.Pulses() != 1 || c.Folded() != 1 {
		t.Errorf("ring within min gap: pulses=%d folded=%d, want 1 and 1", c.Pulses(), c.Folded())
	}
	clk.Advance(5 * time.Second)
	ring()
	if c.Pulses() != 2 || c.Folded() != 1 {
		t.Errorf("ring after min gap: pulses=%d folded=%d, want 2 and 1", c.Pulses(), c.Folded())
	}
}

func TestLEDPatterns(t *testing.T) {
	clk := clockwork.NewFakeClock()
	pin := haltest.NewPin("LED", gpio.Low)
	l := hal.NewLED(pin, hal.LEDOptions{Clock: clk, RingFor: 3 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	waitLevel := func(want gpio.Level) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for pin.Level() != want {
			if time.Now().After(deadline) {
				t.Fatalf("LED level %v, want %v (showing %v)", pin.Level(), want, l.Showing())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitLevel(gpio.High) // idle: steady on
	l.Set(hal.Offline)
	waitLevel(gpio.High)
	clk.BlockUntilContext(ctx, 1)
	clk.Advance(200 * time.Millisecond)
	waitLevel(gpio.Low) // offline: off after a short blink
	l.Flash()
	if l.Showing() != hal.Ringing {
		t.Errorf("after Flash showing %v, want ringing", l.Showing())
	}
	// Ringing on the pin: a fast blink, 100ms on, 100ms off, for RingFor.
	// (High first: the offline pattern was off, so the new pattern runs.)
	waitLevel(gpio.High)
	timer := func() {
		t.Helper()
		bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
		defer bcancel()
		if err := clk.BlockUntilContext(bctx, 1); err != nil {
			t.Fatalf("the LED is not timing its pattern (showing %v): %v", l.Showing(), err)
		}
	}
	for i := 0; i < 5; i++ {
		timer()
		clk.Advance(99 * time.Millisecond)
		if pin.Level() != gpio.High {
			t.Fatalf("blink %d: off after 99ms, want on for 100ms", i)
		}
		clk.Advance(time.Millisecond)
		waitLevel(gpio.Low)
		timer()
		clk.Advance(100 * time.Millisecond)
		waitLevel(gpio.High)
	}
	timer()
	clk.Advance(2 * time.Second) // the rest of RingFor (1s blinked so far)
	for deadline := time.Now().Add(10 * time.Second); l.Showing() != hal.Offline; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the flash showing %v, want offline", l.Showing())
		}
	}
	cancel()
	<-done
	if pin.Level() != gpio.Low {
		t.Errorf("LED left on after shutdown")
	}
}
