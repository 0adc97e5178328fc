package hal_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/haltest"
	"periph.io/x/conn/v3/gpio"
)

// BenchmarkEdgeToEvent measures an edge on a pin → the Ring event out of
// Input, through the real Input goroutine and ButtonLogic, beside a plain
// channel hand-off between two goroutines (the floor for any edge reader)
// in the same run. ns/op is per press (press + release).
func BenchmarkEdgeToEvent(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pin := haltest.NewPin("BTN", gpio.High)
	in := hal.NewButton(pin, hal.InputOptions{ActiveLow: true, Pull: gpio.PullUp},
		hal.ButtonOptions{Debounce: time.Nanosecond})
	out := make(chan hal.Event, 1)
	go in.Run(ctx, out)
	var total time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := time.Now()
		pin.Set(gpio.Low)
		<-out
		total += time.Since(s)
		pin.Set(gpio.High)
		time.Sleep(10 * time.Microsecond) // released longer than debounce
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "edge-to-event-ns")

	// Baseline: one goroutine hands a value to another over a channel and
	// gets an answer back on another, after the same idle gap: the same
	// wake-ups Input needs.
	req, resp := make(chan gpio.Level, 1), make(chan hal.Event, 1)
	go func() {
		for l := range req {
			resp <- hal.Event{Type: hal.Ring, At: time.Now(), Source: l.String()}
		}
	}()
	var base time.Duration
	for i := 0; i < b.N; i++ {
		s := time.Now()
		req <- gpio.Low
		<-resp
		base += time.Since(s)
		time.Sleep(10 * time.Microsecond) // the same idle gap as above
	}
	close(req)
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "chan-baseline-ns")
	b.ReportMetric(float64(total)/float64(base), "ratio")
}
