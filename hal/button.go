package hal

import "time"

// ButtonOptions tune the bell push's debounce.
type ButtonOptions struct {
	// Debounce is how long the line must stay released before the press
	// counts as over, so bounces and AC chatter during a press never give a
	// second ring. It adds no delay to the press itself: the ring fires on
	// the first edge.
	Debounce time.Duration
	// MinPress, when > 0, rejects presses shorter than this (EMI spikes).
	// The ring then fires MinPress after the edge, still stamped with the
	// edge time.
	MinPress time.Duration
	// LongPress, when > 0, fires a LongPress event once the button has been
	// held this long. A ring has already fired for the same press.
	LongPress time.Duration
	// DoublePress, when > 0, turns a second press whose first edge comes
	// within this long of the first press's edge into one DoublePress event
	// instead of a second Ring. The first press rings at once as usual.
	DoublePress time.Duration
}

func (o *ButtonOptions) ensureDefaults() {
	if o.Debounce <= 0 {
		o.Debounce = 50 * time.Millisecond
	}
}

type buttonState uint8

const (
	btnReleased  buttonState = iota // armed: the next active edge is a press
	btnCandidate                    // active, waiting for MinPress to pass
	btnHeld                         // pressed; waiting for a stable release
)

// ButtonLogic is the button's debounce state machine. It does no I/O: feed
// it every edge with its time (Edge) and call Tick when Deadline passes.
// The zero value is not usable; use NewButtonLogic.
type ButtonLogic struct {
	opts      ButtonOptions
	state     buttonState
	active    bool      // last level seen
	lastEdge  time.Time // time of the last edge seen
	pressAt   time.Time // edge time of the current press
	longFired bool
	// released: Tick ended a held press at lastEdge+Debounce by the
	// reader's clock; the next edge's own time confirms or undoes that.
	released bool
	rejected uint64
	presses  uint64
	resumed  uint64 // releases undone by a late-queued edge
	lost     uint64 // edges reported lost (EdgeAfterLoss)
	// the previous press that fired, for DoublePress
	prevPress  time.Time
	prevDouble bool
}

// NewButtonLogic returns a button state machine. If the line is already
// active at start (a stuck or held button), no ring fires until it has been
// released.
func NewButtonLogic(opts ButtonOptions, now time.Time, active bool) *ButtonLogic {
	opts.ensureDefaults()
	b := &ButtonLogic{opts: opts, active: active, lastEdge: now}
	if active {
		b.state = btnHeld
		b.longFired = true // a button held at boot is not a long press
		b.pressAt = now
	}
	return b
}

// Edge records that the line changed to active (pressed) or inactive at t.
// Edges must come in time order.
func (b *ButtonLogic) Edge(t time.Time, active bool, emit func(Event)) {
	b.Tick(t, emit) // settle timers that ran out before this edge
	prev := b.lastEdge
	b.active = active
	b.lastEdge = t
	switch b.state {
	case btnReleased:
		if !active {
			return
		}
		if b.released && t.Sub(prev) < b.opts.Debounce {
			// Tick judged the press over by the reader's clock, but this
			// edge, stamped by the kernel before Debounce had passed, was
			// only queued late (a busy CPU): the line was never released
			// for Debounce, so the press goes on.
			b.state, b.released = btnHeld, false
			b.resumed++
			return
		}
		b.released = false
		b.pressAt = t
		b.longFired = false
		if b.opts.MinPress > 0 {
			b.state = btnCandidate
			return
		}
		b.fire(emit)
	case btnCandidate:
		if !active {
			// Released before MinPress: a glitch, not a press.
			b.rejected++
			b.state = btnReleased
		}
	case btnHeld:
		// Bounces and chatter: the level is tracked, the release is judged
		// in Tick once the line has been quiet and inactive for Debounce.
	}
}

// EdgeAfterLoss is Edge for an edge that came after lost edges that
// changed the line unseen since the last edge. A gap with lost edges is
// never taken for a release: the button counts as held all through it, so
// a held press goes on (and may become a long press) until a clean
// release — the line then staying released for Debounce — is seen after
// this edge. On a released button the lost edges held a press whose start
// was not seen: it rings, stamped t, the first time known.
func (b *ButtonLogic) EdgeAfterLoss(t time.Time, active bool, lost uint32, emit func(Event)) {
	if lost > 0 {
		b.lost += uint64(lost)
		if b.state == btnReleased {
			b.Edge(t, true, emit)
		} else {
			// Settle timers up to t as if held: no release inside the
			// gap; a long press or MinPress that ran out in it fires.
			b.active = true
		}
	}
	b.Edge(t, active, emit)
}

func (b *ButtonLogic) fire(emit func(Event)) {
	b.state = btnHeld
	b.presses++
	typ := Ring
	if dp := b.opts.DoublePress; dp > 0 && b.presses > 1 && !b.prevDouble && b.pressAt.Sub(b.prevPress) <= dp {
		typ = DoublePress
	}
	b.prevPress, b.prevDouble = b.pressAt, typ == DoublePress
	emit(Event{Type: typ, At: b.pressAt})
}

// Tick advances the timers to t: a candidate press that lasted MinPress
// fires, a held press becomes a long press, a quiet release re-arms.
func (b *ButtonLogic) Tick(t time.Time, emit func(Event)) {
	switch b.state {
	case btnCandidate:
		if b.active && !t.Before(b.pressAt.Add(b.opts.MinPress)) {
			b.fire(emit)
		}
	}
	if b.state != btnHeld {
		return
	}
	// A long press needs the button held at the long-press time: active
	// now, or its last release started only after that time.
	if lp := b.opts.LongPress; lp > 0 && !b.longFired {
		due := b.pressAt.Add(lp)
		if !t.Before(due) && (b.active || !b.lastEdge.Before(due)) {
			b.longFired = true
			emit(Event{Type: LongPress, At: b.pressAt})
		}
	}
	if !b.active && !t.Before(b.lastEdge.Add(b.opts.Debounce)) {
		b.state, b.released = btnReleased, true
	}
}

// Deadline is the next time Tick has something to decide, if any.
func (b *ButtonLogic) Deadline() (time.Time, bool) {
	switch b.state {
	case btnCandidate:
		return b.pressAt.Add(b.opts.MinPress), true
	case btnHeld:
		if !b.active {
			return b.lastEdge.Add(b.opts.Debounce), true
		}
		if lp := b.opts.LongPress; lp > 0 && !b.longFired {
			return b.pressAt.Add(lp), true
		}
	}
	return time.Time{}, false
}

// Pressed reports whether the button is currently held (debounced).
func (b *ButtonLogic) Pressed() bool { return b.state == btnHeld }

// Resumed is how many releases, judged by the reader's clock, a later
// edge stamped inside Debounce undid (the reader was slow to see it).
func (b *ButtonLogic) Resumed() uint64 { return b.resumed }

// Counts returns how many presses fired and how many glitches were rejected.
func (b *ButtonLogic) Counts() (presses, rejected uint64) { return b.presses, b.rejected }

// Lost returns how many edges EdgeAfterLoss was told were lost.
func (b *ButtonLogic) Lost() uint64 { return b.lost }
