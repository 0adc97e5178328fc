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

func TestSetLostNumbersEdges(t *testing.T) {
	p := NewPin("BTN", gpio.High)
	t0 := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	p.SetAt(t0, gpio.Low)
	p.SetLost(t0.Add(time.Second), gpio.High, 5)
	p.SetAt(t0.Add(2*time.Second), gpio.Low)
	want := []struct {
		lost, seq uint32
		l         gpio.Level
	}{{0, 1, gpio.Low}, {5, 7, gpio.High}, {0, 8, gpio.Low}}
	for i, w := range want {
		e, ok := p.WaitForEdgeInfo(0)
		if !ok || e.Lost != w.lost || e.LineSeqno != w.seq || e.Seqno != w.seq || e.Level != w.l || !e.At.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Errorf("edge %d: %+v (ok %v), want lost %d, seqno %d, level %v", i, e, ok, w.lost, w.seq, w.l)
		}
		if p.Read() != w.l {
			t.Errorf("edge %d: line reads %v after the edge, want %v", i, p.Read(), w.l)
		}
	}
	if _, ok := p.WaitForEdgeInfo(0); ok {
		t.Errorf("an edge left over")
	}
}
