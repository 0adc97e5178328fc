package hal_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/haltest"
	"periph.io/x/conn/v3/gpio"
)

func TestInputBouncingPressIsOneRing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pin := haltest.NewPin("BTN", gpio.High)
	in := hal.NewButton(pin, hal.InputOptions{ActiveLow: true, Pull: gpio.PullUp, Poll: 20 * time.Millisecond},
		hal.ButtonOptions{Debounce: 30 * time.Millisecond})
	out := make(chan hal.Event, 16)
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, out) }()

	before := time.Now()
	var steps []haltest.Step
	for i := 0; i < 5; i++ { // 5 bounces, 2ms apart, then held
		steps = append(steps, haltest.Step{Wait: 2 * time.Millisecond, Level: gpio.Low}, haltest.Step{Wait: 2 * time.Millisecond, Level: gpio.High})
	}
	steps = append(steps, haltest.Step{Level: gpio.Low}, haltest.Step{Wait: 100 * time.Millisecond, Level: gpio.High})
	if err := pin.Play(ctx, steps); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-out:
		if e.Type != hal.Ring || e.Source != "button" {
			t.Fatalf("got %+v, want a ring from the button", e)
		}
		if e.At.Before(before) || e.At.After(before.Add(50*time.Millisecond)) {
			t.Errorf("ring at %v, want the first edge (about %v)", e.At, before)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no ring")
	}
	select {
	case e := <-out:
		t.Fatalf("second event %+v from one bouncing press", e)
	case <-time.After(150 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestChimePulsesAndRestsLow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pin := haltest.NewPin("CHIME", gpio.High)
	c := hal.NewChime(pin, hal.ChimeOptions{Pulse: 50 * time.Millisecond, Enabled: true})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitLevel := func(want gpio.Level) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for pin.Level() != want {
			if time.Now().After(deadline) {
				t.Fatalf("relay level stayed %v, want %v", pin.Level(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitLevel(gpio.Low)
	c.Ring()
	waitLevel(gpio.High)
	waitLevel(gpio.Low)
	if c.Pulses() != 1 {
		t.Errorf("pulses = %d, want 1", c.Pulses())
	}
	c.SetEnabled(false)
	c.Ring()
	time.Sleep(80 * time.Millisecond)
	if c.Pulses() != 1 {
		t.Errorf("disabled chime pulsed")
	}
	c.SetEnabled(true)
	c.Ring()
	waitLevel(gpio.High)
	cancel() // shutdown mid-pulse must release the relay
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if pin.Level() != gpio.Low {
		t.Errorf("relay left closed after shutdown")
	}
}
