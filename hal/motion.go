package hal

import "time"

// MotionOptions tune the PIR sensor.
type MotionOptions struct {
	// Hold is how long motion stays on after the sensor's last activity;
	// a re-trigger within Hold extends it. Default 30s.
	Hold time.Duration
}

func (o *MotionOptions) ensureDefaults() {
	if o.Hold <= 0 {
		o.Hold = 30 * time.Second
	}
}

// MotionLogic is the PIR state machine: MotionStart on activation,
// MotionEnd once the sensor has been inactive for Hold. Like ButtonLogic it
// does no I/O.
type MotionLogic struct {
	opts     MotionOptions
	on       bool      // motion reported
	active   bool      // sensor line level
	lastEdge time.Time // last edge seen
}

// NewMotionLogic returns a PIR state machine. A sensor already active at
// start reports MotionStart at now.
func NewMotionLogic(opts MotionOptions, now time.Time, active bool, emit func(Event)) *MotionLogic {
	opts.ensureDefaults()
	m := &MotionLogic{opts: opts, lastEdge: now}
	m.Edge(now, active, emit)
	return m
}

// Edge records that the sensor line changed to active or inactive at t.
func (m *MotionLogic) Edge(t time.Time, active bool, emit func(Event)) {
	m.Tick(t, emit)
	m.active = active
	m.lastEdge = t
	if active && !m.on {
		m.on = true
		emit(Event{Type: MotionStart, At: t, Source: "pir"})
	}
}

// Tick ends motion once the sensor has been quiet for Hold.
func (m *MotionLogic) Tick(t time.Time, emit func(Event)) {
	if d, ok := m.Deadline(); ok && !t.Before(d) {
		m.on = false
		emit(Event{Type: MotionEnd, At: d, Source: "pir"})
	}
}

// Deadline is when motion will end if nothing re-triggers it.
func (m *MotionLogic) Deadline() (time.Time, bool) {
	if m.on && !m.active {
		return m.lastEdge.Add(m.opts.Hold), true
	}
	return time.Time{}, false
}

// On reports whether motion is currently reported.
func (m *MotionLogic) On() bool { return m.on }
