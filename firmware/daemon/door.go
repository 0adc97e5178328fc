package daemon

// door.go: the door opener (gpio.door.line).
//
//	MQTT <base>/cmd/door ──onDoor──▶ doorauth.Check (size, retained, rate, PIN or owner-key
//	  (taken before command.Parse,     signature, age, replay) ──▶ audit, accepted or refused
//	   so a retained one is audited)        │ ok
//	web app "Open door" (login) ───────────┴──▶ openDoor ──▶ relay pulse (hal, "door")
//	                                                      └─▶ door/state UNLOCKED, LOCKED after the pulse
//
// The relay is released when the part starts, when it stops, and when the
// process dies (the kernel frees the line; on a Pi the pin becomes an
// input, so wire the relay board to be off when its input floats).

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/doorauth"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/hal"
)

// doorPart is the door opener's state beside its relay.
type doorPart struct {
	relay *hal.Chime // the same pulsed relay as the chime's, named "door"
	auth  *doorauth.Authorizer
	pulse time.Duration

	mu     sync.Mutex
	lockAt clockwork.Timer         // publishes LOCKED after the last pulse
	folds  map[doorauth.Class]fold // refusals not audited one by one (refuseDoor)
}

// fold counts the refusals of one kind since the last audited one.
type fold struct {
	at time.Time // when the last one of the kind was audited
	n  uint64    // refusals since, not audited
}

// buildDoor makes the door opener on its pin, with the authorizer of
// gpio.door.pin_hash and the owner key.
func (d *Daemon) buildDoor(pin gpio.PinOut) {
	g := d.cfg.GPIO.Door
	d.door = &doorPart{
		relay: hal.NewChime(pin, hal.ChimeOptions{Name: "door", ActiveLow: g.ActiveLow, Pulse: g.Pulse.D(), Enabled: true,
			Clock: d.clock, Logger: d.log}),
		auth:  doorauth.New(doorauth.Options{DeviceID: d.cfg.Device.ID, Key: d.ownerKey, PINHash: g.PINHash, Clock: d.clock}),
		pulse: g.Pulse.D(),
		folds: make(map[doorauth.Class]fold),
	}
	if g.PINHash == "" && d.ownerKey == nil {
		d.log.Warn("daemon: door opener without gpio.door.pin_hash or mqtt.owner_key_file: only the web app can open the door")
	}
}

// onDoor judges a door request from MQTT; every attempt is audited.
func (d *Daemon) onDoor(payload []byte, retained bool) {
	req, v := d.door.auth.Check(payload, retained)
	actor := "mqtt"
	if v.Method != "" {
		actor += ":" + v.Method
	}
	if !v.OK {
		d.reject(d.topics.Command(mqttapi.CmdDoor), errors.New("door: refused: "+v.Reason))
		d.refuseDoor(actor, req.Nonce, v.Class, v.Reason)
		return
	}
	d.openDoor(actor, "", req.Nonce, v.Method)
}

// doorFoldEvery is how often door refusals of one kind are audited one
// by one: the first of a kind in a minute gets its own entry (so
// doorbellctl door open hears why), the rest are counted into the next
// one. Any client of the broker can send refusable requests; a flood of
// them must not flush the audit trail. Wrong PINs are never folded (the
// rate limit keeps them to 3 a minute).
const doorFoldEvery = time.Minute

// refuseDoor audits a refused door request.
func (d *Daemon) refuseDoor(actor, object string, class doorauth.Class, reason string) {
	p := d.door
	if class != doorauth.WrongPIN && class != doorauth.LockedOut {
		now := d.clock.Now()
		p.mu.Lock()
		f := p.folds[class]
		if f.at.IsZero() || now.Sub(f.at) >= doorFoldEvery || now.Before(f.at) {
			if f.n > 0 {
				reason += " (and " + strconv.FormatUint(f.n, 10) + " more like it since the last such entry)"
			}
			f = fold{at: now}
			p.folds[class] = f
			p.mu.Unlock()
		} else {
			f.n++
			p.folds[class] = f
			p.mu.Unlock()
			return
		}
	}
	d.record(audit.Entry{Action: audit.ActionDoorOpen, Actor: actor, Object: object, Outcome: audit.Refused, Reason: reason})
}

// openDoor pulses the relay for an accepted request, audits it, and
// shows the door unlocked for the pulse.
func (d *Daemon) openDoor(actor, from, object, method string) {
	p := d.door
	d.record(audit.Entry{Action: audit.ActionDoorOpen, Actor: actor, From: from, Object: object, Reason: method})
	d.log.Warn("daemon: door opened", "by", actor, "from", from)
	p.relay.Ring()
	d.answered()
	d.mq.Publish(d.topics.DoorState, 1, true, []byte(mqttapi.DoorUnlocked))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lockAt != nil {
		p.lockAt.Stop()
	}
	p.lockAt = d.clock.AfterFunc(p.pulse, func() {
		if d.MQTTConnected() { // else publishAll says LOCKED on the next connect
			d.mq.Publish(d.topics.DoorState, 1, true, []byte(mqttapi.DoorLocked))
		}
	})
}
