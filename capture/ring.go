package capture

import (
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
		buf:   make([]byte, maxBytes),
		slots: make([]slot, maxFrames),
	}
}

// Push copies data into the ring as the newest frame, taken at `at` in
// format f, evicting the oldest frames until it fits. Frames that are empty
// or larger than the whole ring are dropped and counted. Push does not
// retain data and does not allocate.
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
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
