package event

// Type says what happened at the door. Its values are part of the MQTT
// contract (the event topic's "event_type"); hal produces the same strings
// as hal.EventType, and the daemon converts at the edge.
type Type string

// The event types.
const (
	Ring        Type = "ring"
	DoublePress Type = "double_press"
	LongPress   Type = "long_press"
	MotionStart Type = "motion_start"
	MotionEnd   Type = "motion_end"
)

// Props are what the doorbell does with an event of a type. This table is
// the one place that decides it: the outbox's eviction, the chime, the
// camera and Home Assistant's event entity all read it.
type Props struct {
	// Rank orders types for the outbox's eviction: when it is full, the
	// oldest event of the lowest rank is dropped first.
	Rank int
	// Chime: the event rings the chime (and flashes the LED).
	Chime bool
	// Camera: the event takes a snapshot and triggers a clip (when there
	// is a camera and privacy mode is off).
	Camera bool
	// Announce: Home Assistant's event entity lists and fires this type.
	// OptIn types are announced only when the config turns them on
	// (double_press: gpio.button.double_press).
	Announce bool
	OptIn    bool
	// Motion: the event sets the motion binary sensor (MotionStart on,
	// MotionEnd off).
	Motion bool
}

// table is every type's properties, in the order they are documented.
var table = []struct {
	Type Type
	Props
}{
	{Ring, Props{Rank: 4, Chime: true, Camera: true, Announce: true}},
	{DoublePress, Props{Rank: 4, Chime: true, Camera: true, Announce: true, OptIn: true}},
	{LongPress, Props{Rank: 3, Camera: true, Announce: true}},
	{MotionStart, Props{Rank: 1, Camera: true, Motion: true}},
	{MotionEnd, Props{Rank: 0, Motion: true}},
}

// UnknownRank is the eviction rank of a type not in the table (one read
// back from an outbox written by another version): between motion and
// presses.
const UnknownRank = 2

// Types returns every known type, in table order.
func Types() []Type {
	out := make([]Type, len(table))
	for i, r := range table {
		out[i] = r.Type
	}
	return out
}

// Of returns t's properties; ok is false for an unknown type, whose Props
// are zero except Rank (UnknownRank).
func Of(t Type) (p Props, ok bool) {
	for _, r := range table {
		if r.Type == t {
			return r.Props, true
		}
	}
	return Props{Rank: UnknownRank}, false
}

// MaxRank is the highest rank in the table.
func MaxRank() int {
	m := 0
	for _, r := range table {
		m = max(m, r.Rank)
	}
	return m
}

// Announced returns the types Home Assistant's event entity lists, in table
// order; optIn says whether the opt-in ones are turned on.
func Announced(optIn bool) []Type {
	var out []Type
	for _, r := range table {
		if r.Announce && (!r.OptIn || optIn) {
			out = append(out, r.Type)
		}
	}
	return out
}
