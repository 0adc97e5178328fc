package hal_test

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/haltest"
)

// waitFor polls cond until it holds, failing the test after a generous
// deadline: the deadline only bounds a hang, it is no timing assumption.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// stopped cancels a Run and wants it to return nil.
func stopped(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestInputBouncingPressIsOneRing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The edges carry exact times and the Input's clock stands still at
	// t0, before all of them: only the edges' own times decide, however
	// late the reader or the test runs.
	t0 := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	clk := clockwork.NewFakeClockAt(t0)
	pin := haltest.NewPin("BTN", gpio.High)
	in := hal.NewButton(pin, hal.InputOptions{ActiveLow: true, Pull: gpio.PullUp, Poll: 20 * time.Millisecond, Clock: clk},
		hal.ButtonOptions{Debounce: 30 * time.Millisecond})
	out := make(chan hal.Event, 16)
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, out) }()

	at := t0
	edge := func(after time.Duration, l gpio.Level) {
		at = at.Add(after)
		pin.SetAt(at, l)
	}
	// 5 bounces 2ms apart, then held 100ms and released: one press.
	edge(0, gpio.Low)
	edge(2*time.Millisecond, gpio.High)
	for i := 0; i < 4; i++ {
		edge(2*time.Millisecond, gpio.Low)
		edge(2*time.Millisecond, gpio.High)
	}
	edge(2*time.Millisecond, gpio.Low)
	edge(100*time.Millisecond, gpio.High)
	// Then a clean press 80ms after the release (longer than the
	// debounce): its ring must be the very next event, so nothing came
	// between it and the bouncing press's ring.
	second := at.Add(80 * time.Millisecond)
	pin.SetAt(second, gpio.Low)
	pin.SetAt(second.Add(50*time.Millisecond), gpio.High)

	for i, want := range []time.Time{t0, second} {
		select {
		case e := <-out:
			if e.Type != hal.Ring || e.Source != "button" || !e.At.Equal(want) {
				t.Fatalf("event %d: got %+v, want a ring from the button at +%v (the press's first edge)", i, e, want.Sub(t0))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d: no ring", i)
		}
	}
	stopped(t, cancel, done)
}

func TestChimePulsesAndRestsLow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clockwork.NewFakeClock()
	const pulse = 50 * time.Millisecond
	pin := haltest.NewPin("CHIME", gpio.High)
	c := hal.NewChime(pin, hal.ChimeOptions{Pulse: pulse, Enabled: true, Clock: clk})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	// pulseTimer waits for the chime to wait on its pulse timer; a chime
	// that is not timing a pulse fails it.
	pulseTimer := func() {
		t.Helper()
		bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
		defer bcancel()
		if err := clk.BlockUntilContext(bctx, 1); err != nil {
			t.Fatalf("chime is not timing a pulse: %v", err)
		}
	}

	waitFor(t, "Run to open the relay", func() bool { return pin.Level() == gpio.Low })
	c.Ring()
	// Pulses is counted once the relay has closed.
	waitFor(t, "the first pulse", func() bool { return c.Pulses() == 1 })
	if pin.Level() != gpio.High {
		t.Fatalf("relay %v during the pulse, want high", pin.Level())
	}
	pulseTimer()
	clk.Advance(pulse - time.Millisecond)
	pulseTimer() // not over yet
	clk.Advance(time.Millisecond)
	waitFor(t, "the relay to open after the pulse", func() bool { return pin.Level() == gpio.Low })
	if c.Pulses() != 1 {
		t.Errorf("pulses = %d, want 1", c.Pulses())
	}

	c.SetEnabled(false)
	c.Ring()
	time.Sleep(20 * time.Millisecond) // a pulse would close the relay at once
	if c.Pulses() != 1 || pin.Level() != gpio.Low {
		t.Errorf("disabled chime pulsed: pulses=%d relay %v", c.Pulses(), pin.Level())
	}

	c.SetEnabled(true)
	c.Ring()
	waitFor(t, "the second pulse", func() bool { return c.Pulses() == 2 })
	if pin.Level() != gpio.High {
		t.Fatalf("relay %v during the second pulse, want high", pin.Level())
	}
	// The fake clock never ends this pulse: shutdown comes mid-pulse and
	// must release the relay.
	stopped(t, cancel, done)
	if pin.Level() != gpio.Low {
		t.Errorf("relay left closed after shutdown")
	}
}
