package hal

import "time"

// MotionOptions tune the PIR sensor.
type MotionOptions struct {
	// Hold is how long motion stays on after the sensor's last activity;
	// a re-trigger within Hold extends it. Default 30s.
	Hold time.Duration
	// MinActive, when > 0, counts an activation only once the sensor has
	// stayed active this long (MotionStart is still stamped with the edge).
	MinActive time.Duration
	// Cooldown, when > 0, ignores the sensor for this long after
	// MotionEnd; if it is still active when the cooldown ends, motion
	// starts then.
	Cooldown time.Duration
}

func (o *MotionOptions) ensureDefaults() {
	if o.Hold <= 0 {
		o.Hold = 30 * time.Second
	}
}

type motionState uint8

const (
	motionIdle      motionState = iota
	motionCandidate             // active, waiting for MinActive
	motionOn                    // MotionStart reported
	motionCooldown              // after MotionEnd, sensor ignored
)

// MotionLogic is the PIR state machine: MotionStart on activation,
// MotionEnd once the sensor has been inactive for Hold. Like ButtonLogic it
// does no I/O.
type MotionLogic struct {
	opts     MotionOptions
	state    motionState
	active   bool      // sensor line level
	lastEdge time.Time // last edge seen
	since    time.Time // candidate: activation edge; cooldown: MotionEnd time
}

// NewMotionLogic returns a PIR state machine. A sensor already active at
// start counts as activated at now.
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
	switch m.state {
	case motionIdle:
		if active {
			m.activate(t, emit)
		}
	case motionCandidate:
		if !active {
			m.state = motionIdle // too short: not motion
		}
	}
}

// EdgeAfterLoss is Edge for an edge that came after lost edges that
// changed the line unseen since the last edge. The sensor counts as active
// all through that gap, so the hold time restarts at t and a gap never
// gives a false MotionEnd (and MotionStart) pair. On an idle sensor the
// lost edges held an activation whose start was not seen: motion starts at
// t, the first time known (MinActive cannot judge it, and rejects it if
// the sensor is inactive at t). During Cooldown the sensor is ignored as
// usual.
func (m *MotionLogic) EdgeAfterLoss(t time.Time, active bool, lost uint32, emit func(Event)) {
	if lost > 0 {
		switch m.state {
		case motionIdle:
			m.Edge(t, true, emit)
		case motionCandidate, motionOn:
			m.active = true // settle to t as active: the hold does not run out in the gap
		}
	}
	m.Edge(t, active, emit)
}

func (m *MotionLogic) activate(t time.Time, emit func(Event)) {
	if m.opts.MinActive > 0 {
		m.state, m.since = motionCandidate, t
		return
	}
	m.state = motionOn
	emit(Event{Type: MotionStart, At: t})
}

// Tick advances the timers to t.
func (m *MotionLogic) Tick(t time.Time, emit func(Event)) {
	for {
		d, ok := m.Deadline()
		if !ok || t.Before(d) {
			return
		}
		switch m.state {
		case motionCandidate:
			m.state = motionOn
			emit(Event{Type: MotionStart, At: m.since})
		case motionOn:
			m.state = motionIdle
			emit(Event{Type: MotionEnd, At: d})
			if m.opts.Cooldown > 0 {
				m.state, m.since = motionCooldown, d
			}
		case motionCooldown:
			m.state = motionIdle
			if m.active {
				m.activate(d, emit)
			}
		}
	}
}

// Deadline is when the state machine next has something to decide.
func (m *MotionLogic) Deadline() (time.Time, bool) {
	switch m.state {
	case motionCandidate:
		return m.since.Add(m.opts.MinActive), true
	case motionOn:
		if !m.active {
			return m.lastEdge.Add(m.opts.Hold), true
		}
	case motionCooldown:
		return m.since.Add(m.opts.Cooldown), true
	}
	return time.Time{}, false
}
