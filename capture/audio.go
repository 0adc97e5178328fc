package capture

import (
	"sync"
	"time"
)

// AudioChunk is a piece of microphone sound: interleaved signed 16-bit
// samples, Channels per frame, Rate frames a second. At is the capture
// time of its first frame, on the same clock as video frames' At, so a
// clip can put sound and picture side by side.
type AudioChunk struct {
	At       time.Time
	Rate     int
	Channels int
	Samples  []int16
	// Seq is set by AudioRing.Push: 1 for the first chunk pushed, then
	// counting up, so a reader can take only the chunks it has not seen
	// (as Frame.Seq). Push overwrites what the caller put there.
	Seq uint64
}

// Frames is the number of whole frames in c.
func (c AudioChunk) Frames() int {
	if c.Channels <= 0 {
		return 0
	}
	return len(c.Samples) / c.Channels
}

// Duration is how long c lasts.
func (c AudioChunk) Duration() time.Duration {
	if c.Rate <= 0 {
		return 0
	}
	return time.Duration(int64(c.Frames()) * int64(time.Second) / int64(c.Rate))
}

// End is the capture time just after c's last frame.
func (c AudioChunk) End() time.Time { return c.At.Add(c.Duration()) }

// AudioRing keeps the most recent microphone sound, by duration: the
// pre-roll's sound beside the video ring's frames. Safe for concurrent
// use: the microphone pushes, the clip recorder reads.
//
// The ring holds whole chunks. It drops the oldest once the others still
// cover keep, judged both by their times (newest End minus At) and by the
// sound they hold (the sum of their durations), so a wall-clock step back,
// which makes times useless for a while, cannot make it grow.
type AudioRing struct {
	keep time.Duration

	mu     sync.Mutex
	chunks []AudioChunk // oldest first
	seq    uint64
	frames uint64
	evict  uint64
}

// AudioRingStats are an AudioRing's counters.
type AudioRingStats struct {
	Chunks  int           // held now
	Span    time.Duration // from the oldest chunk's At to the newest's End
	Held    time.Duration // sound held: the sum of the chunks' durations
	Pushed  uint64        // chunks ever pushed (empty ones are ignored)
	Frames  uint64        // sample frames ever pushed
	Evicted uint64        // chunks dropped as too old
}

// NewAudioRing returns a ring that keeps at least keep of sound (whole
// chunks: the oldest is dropped once the rest still covers keep). For
// clips, keep must exceed the recorder's pre-roll by a couple of seconds
// (clip.Options.Audio).
func NewAudioRing(keep time.Duration) *AudioRing {
	return &AudioRing{keep: keep}
}

// Push appends c, setting its Seq; the ring takes c.Samples (the caller
// must not reuse them). Chunks must come in capture order. Chunks
// without a whole frame, or without a rate, are ignored.
func (r *AudioRing) Push(c AudioChunk) {
	if c.Frames() == 0 || c.Rate <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	c.Seq = r.seq
	r.chunks = append(r.chunks, c)
	r.frames += uint64(c.Frames())
	newest := c.End()
	drop, held := 0, r.held()
	for drop < len(r.chunks)-1 {
		rest := held - r.chunks[drop].Duration()
		if newest.Sub(r.chunks[drop+1].At) < r.keep && rest < r.keep {
			break
		}
		held = rest
		drop++
	}
	if drop > 0 {
		n := copy(r.chunks, r.chunks[drop:])
		clear(r.chunks[n:])
		r.chunks = r.chunks[:n]
		r.evict += uint64(drop)
	}
}

// held is the sum of the chunks' durations (summed each time rather than
// kept, so Reset need not know of it: a few hundred chunks at most);
// the caller holds r.mu.
func (r *AudioRing) held() time.Duration {
	var d time.Duration
	for _, c := range r.chunks {
		d += c.Duration()
	}
	return d
}

// Range returns the chunks that overlap [from, to), oldest first. They
// share samples with the ring and must not be modified; a reader that
// keeps them longer than the ring does copies them.
func (r *AudioRing) Range(from, to time.Time) []AudioChunk {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []AudioChunk
	for _, c := range r.chunks {
		if c.End().After(from) && c.At.Before(to) {
			out = append(out, c)
		}
	}
	return out
}

// Span returns the oldest chunk's At, the newest chunk's End and how
// many chunks are held.
func (r *AudioRing) Span() (oldest, newestEnd time.Time, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.chunks) == 0 {
		return time.Time{}, time.Time{}, 0
	}
	return r.chunks[0].At, r.chunks[len(r.chunks)-1].End(), len(r.chunks)
}

// Stats returns the ring's counters now.
func (r *AudioRing) Stats() AudioRingStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := AudioRingStats{Chunks: len(r.chunks), Held: r.held(), Pushed: r.seq, Frames: r.frames, Evicted: r.evict}
	if n := len(r.chunks); n > 0 {
		s.Span = r.chunks[n-1].End().Sub(r.chunks[0].At)
	}
	return s
}

// Reset forgets every chunk (privacy mode: nothing heard before it is
// kept).
func (r *AudioRing) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.chunks)
	r.chunks = r.chunks[:0]
}
