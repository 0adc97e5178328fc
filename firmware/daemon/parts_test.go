package daemon

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/firmware/bus"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/supervise"
	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/haltest"
)

// brokenPin is a PIR line that cannot be configured while broken, as a
// line taken by another process or a driver that went away.
type brokenPin struct {
	*haltest.Pin
	broken atomic.Bool
}

func (p *brokenPin) In(pull gpio.Pull, e gpio.Edge) error {
	if p.broken.Load() {
		return errors.New("line busy")
	}
	return p.Pin.In(pull, e)
}

// A config file damaged on disk, with the daemon on its last good copy,
// makes health degraded and says why.
func TestHealthConfigDamaged(t *testing.T) {
	damaged := errors.New("config: load /etc/doorbell/config.yaml: damaged on disk: 3 NUL bytes, the first at byte 120")
	r := startWith(t, simConfig(t, testBroker()), func(o *Options) { o.ConfigDamaged = damaged })
	h := r.d.health()
	if h.Status != "degraded" || !strings.Contains(h.ConfigError, damaged.Error()) || !strings.Contains(h.ConfigError, "last good copy") {
		t.Fatalf("health %+v: want degraded with the config error", h)
	}
}

// A non-critical part that fails is restarted, and health shows it while
// it is down and clears when it runs again.
func TestFailedPartRestartsAndShowsInHealth(t *testing.T) {
	c := simConfig(t, testBroker())
	var pir *brokenPin
	r := startWith(t, c, func(o *Options) {
		pir = &brokenPin{Pin: o.Pins.PIR.(*haltest.Pin)}
		pir.broken.Store(true)
		o.Pins.PIR = pir
	})
	tp := r.d.Topics()
	health := subscribe(t, r.d.brokerURL(), tp.Health)
	events := subscribe(t, r.d.brokerURL(), tp.Event)
	diag := subscribe(t, r.d.brokerURL(), tp.Diagnostics)
	// waitPartsDown waits for the diagnostics Home Assistant reads to
	// count n parts down.
	waitPartsDown := func(n int) {
		t.Helper()
		for {
			m := next(t, diag, tp.Diagnostics, 30*time.Second)
			var d struct {
				PartsDown *int `json:"parts_down"`
			}
			if err := json.Unmarshal(m.payload, &d); err != nil {
				t.Fatal(err)
			}
			if d.PartsDown != nil && *d.PartsDown == n {
				return
			}
		}
	}
	readHealth := func() (Health, []byte) {
		m := next(t, health, tp.Health, 30*time.Second)
		var h Health
		if err := json.Unmarshal(m.payload, &h); err != nil {
			t.Fatal(err)
		}
		return h, m.payload
	}
	for {
		h, raw := readHealth()
		i := slices.IndexFunc(h.Parts, func(p PartHealth) bool { return p.Name == "pir" })
		if i < 0 {
			continue // published before the first failure
		}
		if p := h.Parts[i]; h.PIR != "unavailable" || h.Status != "degraded" || p.LastError == "" {
			t.Fatalf("pir down: health %s", raw)
		}
		break
	}
	waitPartsDown(1)
	pir.broken.Store(false) // the line is back
	for {
		h, raw := readHealth()
		if slices.ContainsFunc(h.Parts, func(p PartHealth) bool { return p.Name == "pir" }) {
			continue // the backoff has not run out yet
		}
		if h.PIR != "ok" || h.Status != "ok" {
			t.Fatalf("pir back: health %s", raw)
		}
		break
	}
	waitPartsDown(0)
	if st := partState(t, r.d, "pir"); st.Restarts < 1 {
		t.Errorf("pir state %+v, want restarts", st)
	}
	// And the restarted PIR reads its line.
	if err := r.board.Motion(true); err != nil {
		t.Fatal(err)
	}
	if e, _ := nextEvent(t, events, tp, 10*time.Second); e.Type != event.MotionStart {
		t.Errorf("event %s after the restart, want motion_start", e.Type)
	}
}

// partState returns the supervised part's state.
func partState(t testing.TB, d *Daemon, name string) supervise.State {
	t.Helper()
	for _, st := range d.Parts() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no part %q in %+v", name, d.Parts())
	return supervise.State{}
}

// /api/status shows every part, every sink's counters and each input's
// edge statistics, lost edges included; one press with edges lost inside
// it is still one ring.
func TestStatusShowsPartsSinksAndLostEdges(t *testing.T) {
	c := simConfig(t, testBroker())
	c.Camera.Device = ""
	r := start(t, c)
	tp := r.d.Topics()
	events := subscribe(t, r.d.brokerURL(), tp.Event)
	active := gpio.Level(!c.GPIO.Button.ActiveLow)
	now := time.Now()
	r.board.Button.SetAt(now, active)
	r.board.Button.SetLost(now.Add(20*time.Millisecond), !active, 7) // a chatter the kernel dropped
	r.board.Button.SetAt(now.Add(21*time.Millisecond), active)
	r.board.Button.SetAt(now.Add(40*time.Millisecond), !active)
	e, _ := nextEvent(t, events, tp, 10*time.Second)
	if e.Type != event.Ring {
		t.Fatalf("event %s, want ring", e.Type)
	}
	var st struct {
		Parts  []supervise.State `json:"parts"`
		Sinks  []bus.Stats       `json:"sinks"`
		Inputs map[string]hal.InputStats
		Last   *event.Event `json:"last_event"`
	}
	waitFor(t, "the status to show the press", func() bool {
		resp, err := http.Get("http://" + r.d.web.Addr() + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.Last != nil && st.Inputs["button"].Edges >= 4
	})
	if b := st.Inputs["button"]; b.LostEdges != 7 {
		t.Errorf("button stats %+v, want 7 lost edges", b)
	}
	if st.Last.ID != e.ID {
		t.Errorf("last event %s, want %s", st.Last.ID, e.ID)
	}
	if i := slices.IndexFunc(st.Parts, func(p supervise.State) bool { return p.Name == "events" }); i < 0 || st.Parts[i].Status != supervise.Running || !st.Parts[i].Critical {
		t.Errorf("parts %+v: want events running and critical", st.Parts)
	}
	if i := slices.IndexFunc(st.Sinks, func(s bus.Stats) bool { return s.Name == "outbox" }); i < 0 || st.Sinks[i].Delivered < 1 {
		t.Errorf("sinks %+v: want the outbox to have the ring", st.Sinks)
	}
	noEvent(t, events, tp, 300*time.Millisecond) // the lost stretch made no second ring
}
