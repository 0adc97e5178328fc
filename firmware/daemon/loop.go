package daemon

import (
	"context"
	"time"

	"github.com/doorbelld/doorbelld/firmware/bus"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/hal"
)

// loop is the event flow: every hal event becomes an event on the bus.
// Once a second it also publishes health (when it changed), shows the
// state on the LED and confirms an OTA trial.
func (d *Daemon) loop(ctx context.Context) error {
	t := d.clock.NewTicker(time.Second)
	defer t.Stop()
	d.heartbeat.Store(d.clock.Now().UnixNano())
	lastDiag := d.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case he := <-d.events:
			d.handle(he)
		case now := <-t.Chan():
			d.heartbeat.Store(now.UnixNano())
			changed := d.publishHealth(false)
			d.updateLED()
			d.confirmOTA()
			if changed || now.Sub(lastDiag) >= time.Minute { // parts_down follows health at once
				lastDiag = now
				d.publishDiagnostics()
			}
		}
	}
}

// healthy is what the systemd watchdog checks: the event loop turns.
func (d *Daemon) healthy() bool {
	return d.clock.Since(time.Unix(0, d.heartbeat.Load())) < 5*time.Second
}

// handle gives a hal event its id and sequence number, applies the privacy
// gate, and hands it to the sinks. What each type does is event.Of's
// table; what reacts is the sinks wire registered.
func (d *Daemon) handle(he hal.Event) {
	seq, err := d.seq.Next()
	if err != nil {
		d.log.Error("daemon: persist event sequence", "err", err)
	}
	e := event.Event{ID: event.NewID(), Seq: seq, Device: d.cfg.Device.ID, Type: event.Type(he.Type), At: he.At}
	props, _ := event.Of(e.Type)
	// The privacy gate: with privacy mode on nothing looks through the
	// camera (no snapshot, no clip), and the event says so by having no
	// snapshot id.
	if privacy, _ := d.sw.get(); privacy || d.camera == nil {
		props.Camera = false
	}
	if props.Camera && d.cameraStills() {
		e.Snapshot = event.NewID()
	}
	d.log.Info("event", "type", e.Type, "id", e.ID, "seq", e.Seq, "at", e.At.Format(event.TimeLayout), "snapshot", e.Snapshot)
	if !d.bus.Publish(bus.Event{Event: e, Props: props}) {
		d.log.Error("daemon: event after shutdown began, not delivered", "id", e.ID)
	}
}

// cameraStills reports whether the camera streams frames that can be
// snapshots right now (not H.264, which has no decoder here).
func (d *Daemon) cameraStills() bool {
	if d.camera == nil {
		return false
	}
	st := d.camera.Status()
	return st.Available && st.Format.Stills()
}
