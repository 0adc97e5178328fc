package hal_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/haltest"
	"periph.io/x/conn/v3/gpio"
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
	out := make(chan hal.Event, presses)
	go in.Run(ctx, out)
	for i := 0; i < presses; i++ {
		pin.Set(gpio.Low)
		time.Sleep(time.Millisecond)
		pin.Set(gpio.High)
		time.Sleep(4 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := len(out); got != presses {
		t.Errorf("%d rings from %d presses", got, presses)
	}
}
