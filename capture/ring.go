package capture

import (
	"slices"
	"sync"
	"time"
)

// Slot counts used by NewRing: one slot per KiB of storage, within these
// bounds.
const (
	minRingSlots = 64
	maxRingSlots = 16384
)

// Ring is a byte-bounded RAM ring buffer of frames. Its storage is
// allocated once, by NewRing; Push copies each frame into it and evicts the
// oldest frames to make room, so a steady stream of frames costs no
// allocation at all.
//
// A Ring is safe for one writer (the capture goroutine calling Push) and
// any number of concurrent readers. Readers always get copies.
//
// Frame times are expected to be non-decreasing, as a camera delivers them.
// The readers scan all frames, so an out-of-order time (a wall-clock step)
// does not make them miss a frame.
//
// A reader that must not miss a frame however far it falls behind (the
// clip recorder, encoding frames slower than the camera takes them) opens
// a Hold: the frames it wants that Push evicts before the reader took them
// are copied aside for it, up to a limit (SetHoldLimit), instead of being
// lost. Push never waits for a reader.
type Ring struct {
	mu    sync.RWMutex
	buf   []byte // the frame bytes, preallocated
	slots []slot // frame metadata, a circular array; preallocated

	head  int    // slots index of the oldest frame
	n     int    // frames held
	wpos  int    // offset in buf where the next frame goes if it fits
	bytes int    // sum of the lengths of the frames held
	seq   uint64 // Seq of the newest frame ever pushed

	pushed, dropped, evicted uint64

	// Holds (see Hold): frames a hold still wants are copied aside when
	// they are evicted, up to holdLimit bytes for all holds together.
	holds     []*Hold
	held      int // bytes copied aside and not yet taken
	holdLimit int
	kept      uint64 // frames copied aside since NewRing
	lost      uint64 // frames a hold wanted, evicted uncopied (limit reached)
}

// slot is the metadata of one frame held in Ring.buf[off:off+n].
type slot struct {
	off, n int
	at     time.Time
	seq    uint64
	f      Format
}

// RingStats are the counters of a Ring.
type RingStats struct {
	Frames   int    // frames held now
	Bytes    int    // bytes of frame data held now
	Capacity int    // storage size in bytes
	Slots    int    // most frames the ring can hold
	Pushed   uint64 // frames stored since NewRing
	Dropped  uint64 // frames refused: empty or larger than Capacity
	Evicted  uint64 // frames removed to make room for newer ones
	// Holds: see Ring.Hold.
	Holds     int    // holds open now
	Held      int    // bytes copied aside for holds now (at most HoldLimit)
	HoldLimit int    // most bytes copied aside for holds
	Kept      uint64 // frames copied aside for a hold since NewRing
	Lost      uint64 // frames a hold wanted but the ring evicted uncopied (HoldLimit reached)
}

// NewRing returns a ring that holds at most maxBytes of frame data. It
// allocates the storage now, plus metadata for one frame per KiB (at least
// 64, at most 16384 frames). A maxBytes <= 0 gives a ring that drops every
// frame.
func NewRing(maxBytes int) *Ring {
	return NewRingSize(maxBytes, min(max(maxBytes/1024, minRingSlots), maxRingSlots))
}

// NewRingSize is NewRing with an explicit bound on the number of frames
// held; when it is reached the oldest frame is evicted.
func NewRingSize(maxBytes, maxFrames int) *Ring {
	maxBytes = max(maxBytes, 0)
	maxFrames = max(maxFrames, 1)
	return &Ring{
		buf:       make([]byte, maxBytes),
		slots:     make([]slot, maxFrames),
		holdLimit: maxBytes,
	}
}

// Push copies data into the ring as the newest frame, taken at `at` in
// format f, evicting the oldest frames until it fits. Frames that are empty
// or larger than the whole ring are dropped and counted. Push does not
// retain data and does not allocate, unless a Hold wants a frame it
// evicts (then that frame is copied aside for it).
func (r *Ring) Push(data []byte, at time.Time, f Format) {
	size := len(data)
	r.mu.Lock()
	defer r.mu.Unlock()
	if size == 0 || size > len(r.buf) {
		r.dropped++
		return
	}
	if r.n == len(r.slots) {
		r.evictOldest()
	}
	off := r.place(size)
	copy(r.buf[off:off+size], data)

	r.seq++
	s := &r.slots[(r.head+r.n)%len(r.slots)]
	*s = slot{off: off, n: size, at: at, seq: r.seq, f: f}
	r.n++
	r.bytes += size
	r.wpos = off + size
	r.pushed++
}

// place evicts the oldest frames until size contiguous bytes are free and
// returns their offset. The frames held always form one arc of the circular
// buffer, from the oldest frame's offset forward to wpos; the free space is
// the rest, from wpos forward to the oldest frame. A frame never wraps: if
// it does not fit before the end of buf it goes to offset 0 and the tail is
// left unused for this lap.
func (r *Ring) place(size int) int {
	for {
		if r.n == 0 {
			r.wpos = 0
			return 0
		}
		oldest := r.slots[r.head].off
		if oldest < r.wpos {
			// Held: [oldest, wpos). Free: [wpos, end) and [0, oldest).
			if len(r.buf)-r.wpos >= size {
				return r.wpos
			}
			if oldest >= size {
				return 0
			}
		} else if oldest-r.wpos >= size {
			// Held: [oldest, end) and [0, wpos). Free: [wpos, oldest).
			return r.wpos
		}
		r.evictOldest()
	}
}

func (r *Ring) evictOldest() {
	s := &r.slots[r.head]
	for _, h := range r.holds {
		h.evicting(s)
	}
	r.bytes -= s.n
	*s = slot{} // drop references (Format's string, the time's location)
	r.head = (r.head + 1) % len(r.slots)
	r.n--
	r.evicted++
}

// at returns the i-th oldest slot; the caller holds r.mu.
func (r *Ring) at(i int) *slot {
	return &r.slots[(r.head+i)%len(r.slots)]
}

// frame copies slot s out of the ring; the caller holds r.mu.
func (r *Ring) frame(s *slot) Frame {
	data := make([]byte, s.n)
	copy(data, r.buf[s.off:s.off+s.n])
	return Frame{Data: data, At: s.at, Seq: s.seq, Format: s.f}
}

// Nearest returns a copy of the frame whose time is nearest to at; of two
// frames equally near, the older one. It returns false if the ring is
// empty.
func (r *Ring) Nearest(at time.Time) (Frame, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.n == 0 {
		return Frame{}, false
	}
	best, bestD := 0, absDur(r.at(0).at.Sub(at))
	for i := 1; i < r.n; i++ {
		if d := absDur(r.at(i).at.Sub(at)); d < bestD {
			best, bestD = i, d
		}
	}
	return r.frame(r.at(best)), true
}

// Latest returns a copy of the newest frame, or false if the ring is empty.
func (r *Ring) Latest() (Frame, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.n == 0 {
		return Frame{}, false
	}
	return r.frame(r.at(r.n - 1)), true
}

// Span returns the times of the oldest and the newest frame held and how
// many frames are held. It copies no frame data.
func (r *Ring) Span() (oldest, newest time.Time, n int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.n == 0 {
		return time.Time{}, time.Time{}, 0
	}
	return r.at(0).at, r.at(r.n - 1).at, r.n
}

// Frames returns copies of the frames taken between from and to, both
// included, oldest first.
func (r *Ring) Frames(from, to time.Time) []Frame {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Frame
	for i := 0; i < r.n; i++ {
		s := r.at(i)
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		out = append(out, r.frame(s))
	}
	return out
}

// After returns copies of the frames held whose Seq is greater than seq,
// oldest first.
func (r *Ring) After(seq uint64) []Frame {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Frame
	for i := 0; i < r.n; i++ {
		if s := r.at(i); s.seq > seq {
			out = append(out, r.frame(s))
		}
	}
	return out
}

// Seq returns the Seq of the newest frame ever pushed (0 if none); that
// frame may have been evicted since. It copies nothing.
func (r *Ring) Seq() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.seq
}

// FindLast calls match on the frames held, newest first, until it returns
// true, and returns that frame's Seq (false if none matched). match sees
// the ring's own bytes under the ring's read lock: it must be quick, must
// not modify data and must not retain it after it returns (copy what it
// needs). The capture goroutine waits for it to push the next frame.
func (r *Ring) FindLast(match func(data []byte, at time.Time, f Format) bool) (uint64, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := r.n - 1; i >= 0; i-- {
		s := r.at(i)
		if match(r.buf[s.off:s.off+s.n:s.off+s.n], s.at, s.f) {
			return s.seq, true
		}
	}
	return 0, false
}

// Stats returns the ring's counters.
func (r *Ring) Stats() RingStats {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return RingStats{
		Frames:   r.n,
		Bytes:    r.bytes,
		Capacity: len(r.buf),
		Slots:    len(r.slots),
		Pushed:   r.pushed,
		Dropped:  r.dropped,
		Evicted:  r.evicted,

		Holds:     len(r.holds),
		Held:      r.held,
		HoldLimit: r.holdLimit,
		Kept:      r.kept,
		Lost:      r.lost,
	}
}

// SetHoldLimit bounds the bytes of evicted frames copied aside for all
// the ring's holds together; NewRing sets it to the ring's own size, so
// holds at most double the ring's memory. Past it, a frame a hold wants
// is evicted like any other and counted as lost (RingStats.Lost,
// HoldStats.Lost). Frames already copied aside are kept.
func (r *Ring) SetHoldLimit(maxBytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holdLimit = max(maxBytes, 0)
}

// Hold is a reader of a Ring that misses none of the frames it wants,
// however slowly it reads them. It wants the frames taken within the
// spans given to Want; Next hands them over oldest first, each once (a
// Want that reaches back to frames Next passed over makes it start again
// from there, so frames delivered since come again). The ones Push evicts before
// Next took them are copied aside when they are evicted, within the
// ring's hold limit (SetHoldLimit); past it they are lost and counted.
// So a wanted frame is either delivered or counted as lost, never
// silently missing:
//
//	Push ──▶ ring slots ──evict──▶ wanted and not yet taken? ──yes──▶ copied aside (kept)
//	                                       │ no: gone        limit reached: Lost++
//	Next ◀── kept frames first, then wanted frames still in the ring
//
// A Hold costs nothing while it wants nothing. Its methods are safe for
// concurrent use; Next is meant for one reader. Close it when done: an
// open hold keeps what it wants.
type Hold struct {
	r      *Ring
	want   []span  // the spans of frame times wanted, unordered
	next   uint64  // Seq of the next frame to look at; older ones were taken or passed over
	kept   []Frame // wanted frames evicted before Next took them, oldest first
	lost   uint64
	closed bool
}

type span struct{ from, until time.Time }

// HoldStats are the counters of a Hold.
type HoldStats struct {
	Frames int    // frames copied aside and not yet taken
	Bytes  int    // and their bytes
	Lost   uint64 // wanted frames the ring evicted uncopied (hold limit reached)
}

// Hold opens a hold on the ring that wants nothing yet; see Want.
func (r *Ring) Hold() *Hold {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := &Hold{r: r, next: r.seq + 1}
	r.holds = append(r.holds, h)
	return h
}

// Want adds the frames taken from `from` to `until` (both included) to
// those h wants: from now on the ring keeps them for h until Next took
// them. Wanted frames still in the ring are delivered by Next even if it
// had passed over them. Want returns the time of the oldest frame h can
// still deliver (zero if none): if it is after from, the frames before it
// are gone (the ring does not reach back that far). Want does not copy
// frame data; it looks at the frames' times.
func (h *Hold) Want(from, until time.Time) (oldest time.Time) {
	r := h.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(h.kept) > 0 {
		oldest = h.kept[0].At
	} else if r.n > 0 {
		oldest = r.at(0).at
	}
	if h.closed || until.Before(from) {
		return oldest
	}
	h.addSpan(from, until)
	if len(h.kept) > 0 || r.n == 0 {
		// The kept frames are older than the ring's: h has not passed
		// over any frame in the ring yet.
		return oldest
	}
	// Look again at the frames in the ring h passed over, newest first,
	// back to the first one taken before from.
	for i := min(r.index(h.next), r.n) - 1; i >= 0; i-- {
		s := r.at(i)
		if s.at.Before(from) {
			break
		}
		if !s.at.After(until) {
			h.next = s.seq
		}
	}
	return oldest
}

// addSpan adds [from, until] to the spans h wants, joining the spans it
// overlaps (triggers in quick succession make one span), and forgets the
// spans whose frames are all gone (h took them, or the ring evicted them
// before h wanted them), so the spans stay few even when nobody calls
// Next; the caller holds r.mu.
func (h *Hold) addSpan(from, until time.Time) {
	r := h.r
	if len(h.kept) == 0 && r.n > 0 {
		gone := r.at(0).at
		h.want = slices.DeleteFunc(h.want, func(w span) bool { return w.until.Before(gone) })
	}
	h.want = slices.DeleteFunc(h.want, func(w span) bool {
		if w.until.Before(from) || w.from.After(until) {
			return false
		}
		from, until = minTime(from, w.from), maxTime(until, w.until)
		return true
	})
	h.want = append(h.want, span{from, until})
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// index returns the position in the ring of the frame with Seq seq (0 if
// it has been evicted, r.n if it has not been pushed yet); the caller
// holds r.mu. The frames held have consecutive Seqs.
func (r *Ring) index(seq uint64) int {
	oldest := r.seq - uint64(r.n) + 1
	if seq <= oldest {
		return 0
	}
	return int(min(seq-oldest, uint64(r.n)))
}

// Next returns the oldest wanted frame h has not taken yet, or false if
// there is none (yet). Frames copied aside are handed over as they are,
// others copied out of the ring; either way the caller owns the data.
func (h *Hold) Next() (Frame, bool) {
	r := h.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.closed {
		return Frame{}, false
	}
	if len(h.kept) > 0 {
		f := h.kept[0]
		h.kept[0] = Frame{}
		h.kept = h.kept[1:]
		r.held -= len(f.Data)
		h.next = f.Seq + 1
		h.prune(f.At)
		return f, true
	}
	for i := r.index(h.next); i < r.n; i++ {
		s := r.at(i)
		h.next = s.seq + 1
		if h.wants(s.at) {
			h.prune(s.at)
			return r.frame(s), true
		}
	}
	return Frame{}, false
}

// wants says whether h wants a frame taken at at; the caller holds r.mu.
func (h *Hold) wants(at time.Time) bool {
	for _, w := range h.want {
		if !at.Before(w.from) && !at.After(w.until) {
			return true
		}
	}
	return false
}

// prune forgets the spans that end before at, the time of the frame
// Next is handing over: frames come in time order, so no later one falls
// in them. (A Want for them again adds them again.)
func (h *Hold) prune(at time.Time) {
	h.want = slices.DeleteFunc(h.want, func(w span) bool { return w.until.Before(at) })
}

// evicting copies slot s aside if h wants it and has not taken it; the
// caller (Push) holds r.mu.
func (h *Hold) evicting(s *slot) {
	if s.seq < h.next || !h.wants(s.at) {
		return
	}
	r := h.r
	if r.held+s.n > r.holdLimit {
		h.lost++
		r.lost++
		return
	}
	h.kept = append(h.kept, r.frame(s))
	r.held += s.n
	r.kept++
}

// Stats returns h's counters.
func (h *Hold) Stats() HoldStats {
	h.r.mu.RLock()
	defer h.r.mu.RUnlock()
	st := HoldStats{Frames: len(h.kept), Lost: h.lost}
	for _, f := range h.kept {
		st.Bytes += len(f.Data)
	}
	return st
}

// Close releases h and the frames copied aside for it. Next then returns
// false, and Want does nothing. Close is idempotent.
func (h *Hold) Close() {
	r := h.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, f := range h.kept {
		r.held -= len(f.Data)
	}
	h.kept, h.want = nil, nil
	r.holds = slices.DeleteFunc(r.holds, func(o *Hold) bool { return o == h })
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
