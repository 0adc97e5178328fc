package daemon

import (
	"encoding/json"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// between reports whether at, a time read from a payload (cut to the
// millisecond, event.TimeLayout), can be an instant in [from, to]: from
// and to are measured by the test just before and just after the code
// that stamps the instant ran.
func between(at, from, to time.Time) bool {
	return !at.Before(from.Truncate(time.Millisecond)) && !at.After(to.Truncate(time.Millisecond))
}

// setButton moves the simulated button line to pressed or released from
// the calling goroutine, and returns times taken just before and just
// after the edge was stamped. Unlike sim.Board.Press, whose release comes from a
// timer, a test driving the line itself sets every gap: a stall can only
// make one longer.
func setButton(r *running, pressed bool) (from, to time.Time) {
	l := gpio.Level(!r.d.cfg.GPIO.Button.ActiveLow)
	if !pressed {
		l = !l
	}
	from = time.Now()
	r.board.Button.Set(l)
	return from, time.Now()
}

// eventsFor returns the events that arrive on the event topic within d
// (and those already waiting), oldest first.
func eventsFor(t testing.TB, ib *inbox, topics Topics, d time.Duration) []event.Event {
	t.Helper()
	deadline := time.After(d)
wait:
	for {
		select {
		case m := <-ib.ch:
			ib.pending = append(ib.pending, m)
		case <-deadline:
			break wait
		}
	}
	var evs []event.Event
	keep := ib.pending[:0]
	for _, m := range ib.pending {
		if m.topic != topics.Event {
			keep = append(keep, m)
			continue
		}
		var e event.Event
		if err := json.Unmarshal(m.payload, &e); err != nil {
			t.Fatalf("event payload %q: %v", m.payload, err)
		}
		evs = append(evs, e)
	}
	ib.pending = keep
	return evs
}
