package hal_test

import (
	"context"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/haltest"
)

// TestInputNeverMissesAPress plays many short, ordered presses through the
// real Input goroutine and counts the rings.
func TestInputNeverMissesAPress(t *testing.T) {
	const presses = 300
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pin := haltest.NewPin("BTN", gpio.High)
	in := hal.NewButton(pin, hal.InputOptions{ActiveLow: true, Pull: gpio.PullUp},
		hal.ButtonOptions{Debounce: 2 * time.Millisecond})
	out := make(chan hal.Event, 2*presses) // room for extra rings, to see them
	go in.Run(ctx, out)
	for i := 0; i < presses; i++ {
		pin.Set(gpio.Low)
		time.Sleep(time.Millisecond)
		pin.Set(gpio.High)
		time.Sleep(4 * time.Millisecond)
	}
	// The reader may lag far behind the presses (emulated CPUs): wait for
	// the count, then a little more for any extra ring.
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < presses && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if got := len(out); got != presses {
		t.Errorf("%d rings from %d presses", got, presses)
	}
}
