package daemon

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/doorauth"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

const doorPIN = "246810"

// doorConfig is liveConfig (alice) with a door opener that takes a PIN
// and an owner key; it returns the key.
func doorConfig(t *testing.T) (c0 func() (cfgKey ownerkey.Key), r *running) {
	t.Helper()
	c := liveConfig(t)
	hash, err := account.HashPassword(doorPIN)
	if err != nil {
		t.Fatal(err)
	}
	c.GPIO.Door.Line = "SIM_DOOR"
	c.GPIO.Door.Pulse = durCfg(200 * time.Millisecond)
	c.GPIO.Door.PINHash = hash
	key := ownerkey.Generate()
	path := filepath.Join(t.TempDir(), "owner.key")
	if err := os.WriteFile(path, key.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	c.MQTT.OwnerKeyFile = path
	r = start(t, c)
	return func() ownerkey.Key { return key }, r
}

// doorAttempt publishes a door request and returns the audit entry the
// daemon wrote about it.
func doorAttempt(t *testing.T, r *running, audits *inbox, payload []byte) audit.Entry {
	t.Helper()
	tp := r.d.Topics()
	before := r.d.audit.Stats().Seq
	publish(t, r.d.brokerURL(), tp.Command(mqttapi.CmdDoor), false, string(payload))
	return auditEntry(t, audits, tp.Audit, func(a audit.Entry) bool { return a.Action == audit.ActionDoorOpen && a.Seq > before })
}

// TestDoorOpener: the relay pulses for Home Assistant's PIN, for a request
// signed with the owner key and for a logged-in web user; never for a
// wrong PIN, a retained, replayed, stale or forged request. Every attempt
// is in the audit trail with its reason, and door/state shows the pulse.
func TestDoorOpener(t *testing.T) {
	keyOf, r := doorConfig(t)
	key := keyOf()
	tp := r.d.Topics()
	audits := subscribe(t, r.d.brokerURL(), tp.Audit)
	states := subscribe(t, r.d.brokerURL(), tp.DoorState)
	if m := next(t, states, tp.DoorState, liveWait); string(m.payload) != mqttapi.DoorLocked {
		t.Fatalf("door/state %q at start, want LOCKED", m.payload)
	}
	commandsReady(t, r)
	pulses := func() uint64 { return r.d.door.relay.Pulses() }

	// Home Assistant's lock with the right PIN.
	a := doorAttempt(t, r, audits, []byte(`{"action":"open","code":"`+doorPIN+`"}`))
	if a.Outcome != audit.OK || a.Actor != "mqtt:pin" {
		t.Fatalf("PIN: audit %+v, want ok by mqtt:pin", a)
	}
	waitFor(t, "the relay pulsed", func() bool { return pulses() == 1 })
	if m := next(t, states, tp.DoorState, liveWait); string(m.payload) != mqttapi.DoorUnlocked {
		t.Fatalf("door/state %q after the open, want UNLOCKED", m.payload)
	}
	if m := next(t, states, tp.DoorState, liveWait); string(m.payload) != mqttapi.DoorLocked {
		t.Fatalf("door/state %q after the pulse, want LOCKED", m.payload)
	}

	// Refused: a wrong PIN.
	a = doorAttempt(t, r, audits, []byte(`{"action":"open","code":"13579"}`))
	if a.Outcome != audit.Refused || !strings.Contains(a.Reason, doorauth.ReasonWrongPIN) || strings.Contains(a.Reason+a.Object, "13579") {
		t.Errorf("wrong PIN: audit %+v, want refused as a wrong pin, without the PIN", a)
	}
	// A retained request: the broker hands it to the subscribed doorbell
	// once as a live message (MQTT 3.1.1), but the stored copy, which
	// comes retained on every reconnect, is refused.
	before := r.d.audit.Stats().Seq
	r.d.onDoor([]byte(`{"action":"open","code":"`+doorPIN+`"}`), true)
	a = auditEntry(t, audits, tp.Audit, func(a audit.Entry) bool { return a.Action == audit.ActionDoorOpen && a.Seq > before })
	if a.Outcome != audit.Refused || !strings.Contains(a.Reason, doorauth.ReasonRetained) || strings.Contains(a.Reason, doorPIN) {
		t.Errorf("retained: audit %+v, want refused as retained", a)
	}

	// Signed with the owner key; the same message again is a replay.
	signed := doorauth.Sign(key, r.d.cfg.Device.ID, time.Now(), doorauth.NewNonce())
	if a := doorAttempt(t, r, audits, signed); a.Outcome != audit.OK || a.Actor != "mqtt:signed" || a.Object == "" {
		t.Fatalf("signed: audit %+v, want ok by mqtt:signed with the nonce", a)
	}
	waitFor(t, "the relay pulsed again", func() bool { return pulses() == 2 })
	if a := doorAttempt(t, r, audits, signed); a.Outcome != audit.Refused || !strings.Contains(a.Reason, doorauth.ReasonReplayed) {
		t.Fatalf("replay: audit %+v, want refused as replayed", a)
	}
	stale := doorauth.Sign(key, r.d.cfg.Device.ID, time.Now().Add(-time.Minute), doorauth.NewNonce())
	if a := doorAttempt(t, r, audits, stale); a.Outcome != audit.Refused || !strings.Contains(a.Reason, "stale") {
		t.Fatalf("stale: audit %+v, want refused as stale", a)
	}
	forged := doorauth.Sign(ownerkey.Generate(), r.d.cfg.Device.ID, time.Now(), doorauth.NewNonce())
	if a := doorAttempt(t, r, audits, forged); a.Outcome != audit.Refused {
		t.Fatalf("forged: audit %+v, want refused", a)
	}

	// The web app: the login is the authentication.
	cl := loginClient(t, r)
	if code := postCSRF(t, r, cl, "/api/door/open", ""); code != http.StatusAccepted {
		t.Fatalf("POST /api/door/open: %d", code)
	}
	a = auditEntry(t, audits, tp.Audit, func(a audit.Entry) bool { return a.Action == audit.ActionDoorOpen && a.Actor == "web:"+liveUser })
	if a.Outcome != audit.OK || !strings.HasPrefix(a.From, "127.0.0.1:") {
		t.Fatalf("web: audit %+v", a)
	}
	waitFor(t, "the relay pulsed for the web", func() bool { return pulses() == 3 })

	// Nothing refused moved the relay: three opens, three pulses.
	if n := pulses(); n != 3 {
		t.Fatalf("%d pulses, want 3", n)
	}
	t.Logf("door: %d pulses; audit: %v", pulses(), r.d.audit.Stats().Entries)
}

// TestDoorWithoutOpener: with no gpio.door.line a door command is refused
// (and no lock entity is announced).
func TestDoorWithoutOpener(t *testing.T) {
	r := start(t, simConfig(t, testBroker()))
	commandsReady(t, r)
	before := r.d.rejected.Load()
	publish(t, r.d.brokerURL(), r.d.Topics().Command(mqttapi.CmdDoor), false, `{"action":"open","code":"1234"}`)
	waitFor(t, "the door command refused", func() bool { return r.d.rejected.Load() > before })
	if r.d.door != nil || r.d.hassO.DoorPIN {
		t.Fatal("a door opener without gpio.door.line")
	}
}
