package hal_test

import (
	"fmt"
	"time"

	"github.com/doorbelld/doorbelld/hal"
)

// A chattering press whose middle the kernel lost while the reader was
// stalled: read naively, the 80ms gap after a release edge would end the
// press and the next edge would ring again. With the loss reported, the
// gap counts as held.
func ExampleButtonLogic_EdgeAfterLoss() {
	t0 := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	b := hal.NewButtonLogic(hal.ButtonOptions{Debounce: 50 * ms}, t0, false)
	emit := func(e hal.Event) { fmt.Println(e.Type, e.At.Sub(t0)) }
	b.Edge(t0, true, emit)                        // pressed: rings at once
	b.Edge(t0.Add(8*ms), false, emit)             // AC chatter
	b.EdgeAfterLoss(t0.Add(90*ms), true, 8, emit) // 8 edges lost before this one
	b.Edge(t0.Add(300*ms), false, emit)           // released
	b.Tick(t0.Add(time.Second), emit)
	fmt.Println("pressed:", b.Pressed())
	// Output:
	// ring 0s
	// pressed: false
}
