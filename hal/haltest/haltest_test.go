package haltest

import (
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
)

func TestPressEdgesAlternate(t *testing.T) {
	p := NewPin("BTN", gpio.High)
	p.Press(true, 30*time.Millisecond)
	p.Press(true, 30*time.Millisecond) // while the first is held
	// Two presses make four edges whichever way the release timers and
	// the second Press interleave; wait for them (Pending is only safe once
	// no timer can still Set).
	deadline := time.Now().Add(10 * time.Second)
	for len(p.edges) < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := p.Pending()
	want := []gpio.Level{gpio.Low, gpio.High, gpio.Low, gpio.High}
	if len(got) != len(want) {
		t.Fatalf("edges %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("edges %v, want %v", got, want)
		}
	}
}
