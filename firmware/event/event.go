// Package event defines the doorbell event as published on MQTT, the one
// table of what each event type does (Props: outbox rank, chime, camera,
// Home Assistant), and the per-device sequence counter that survives
// restarts. It imports nothing of the doorbell: every other package may
// use it.
//
//	hal.Event (line, edge time) ──daemon──▶ Event{ID, Seq, Type, At, Snapshot}
//	                                          │ Of(Type) → Props
//	                                          ▼
//	                  sinks: chime/LED (Chime), camera (Camera), motion state (Motion),
//	                         outbox/MQTT (Rank), Home Assistant event entity (Announce)
package event

import (
	"encoding/json"
	"time"

	"github.com/rs/xid"
)

// TimeLayout is RFC 3339 with milliseconds, the format of every time in a
// payload.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Event is one doorbell event. Its JSON form is the payload of the event
// topic; field names are a contract with subscribers.
type Event struct {
	ID       string    `json:"id"`
	Seq      uint64    `json:"seq"`
	Device   string    `json:"device"`
	Type     Type      `json:"event_type"`
	At       time.Time `json:"-"`
	Snapshot string    `json:"snapshot,omitempty"`
	// Late marks an event delivered after an outage, not as it happened.
	Late bool `json:"late,omitempty"`
}

// NewID returns a new unique, time-sortable id (20 characters, [0-9a-v]).
func NewID() string { return xid.New().String() }

// MarshalJSON writes At as "at" in TimeLayout, in UTC.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		At string `json:"at"`
	}{plain(e), e.At.UTC().Format(TimeLayout)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var v struct {
		plain
		At string `json:"at"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	at, err := time.Parse(TimeLayout, v.At)
	if err != nil {
		return err
	}
	*e = Event(v.plain)
	e.At = at
	return nil
}
