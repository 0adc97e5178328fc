package live

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

// Viewer is one subscriber's stream of live frames. Its queue is bounded:
// a viewer that does not keep up loses frames (counted by Dropped) and
// never delays the hub, the camera or other viewers. Next and Close may
// be called from different goroutines.
type Viewer struct {
	h      *Hub
	kind   string
	info   Info
	format capture.Format
	notify chan struct{} // cap 1: a frame was queued or the stream ended

	// Set by Subscribe, then owned by the hub (under h.mu).
	after    uint64    // Seq of the newest frame offered
	since    time.Time // the camera stream's Status.Since
	needKey  bool      // H.264: skip frames until a keyframe
	maxBytes int       // H.264: bound of qBytes

	mu     sync.Mutex
	q      []*Frame // circular queue; len(q) is its bound
	head   int
	n      int
	qBytes int
	err    error // why the stream ended; nil while it runs

	dropped atomic.Uint64
}

// Kind returns the kind the viewer was subscribed as.
func (v *Viewer) Kind() string { return v.kind }

// Info describes the stream as it was when the viewer subscribed. Its
// frames are all of this codec and size: when the camera's format changes
// the stream ends with ErrFormatChanged.
func (v *Viewer) Info() Info { return v.info }

// Dropped returns how many frames this viewer lost: dropped from its
// queue because it was slow, or (H.264) skipped waiting for a keyframe.
func (v *Viewer) Dropped() uint64 { return v.dropped.Load() }

// Next returns the next frame, waiting for it until ctx is done. The frame
// is shared with other viewers and must not be modified. The stream ends
// with ErrPrivate (privacy mode switched on), ErrNoCamera (the camera
// stopped for longer than Options.Grace), ErrFormatChanged, or ErrClosed
// (Close, or the hub stopped); then queued frames are discarded. It
// returns ctx.Err() if ctx is done first.
func (v *Viewer) Next(ctx context.Context) (*Frame, error) {
	for {
		v.mu.Lock()
		if v.err != nil {
			err := v.err
			v.mu.Unlock()
			return nil, err
		}
		if v.n > 0 {
			f := v.q[v.head]
			v.q[v.head] = nil
			v.head = (v.head + 1) % len(v.q)
			v.n--
			v.qBytes -= len(f.Data)
			v.mu.Unlock()
			return f, nil
		}
		v.mu.Unlock()
		select {
		case <-v.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close ends the stream: Next returns ErrClosed. It may be called more
// than once.
func (v *Viewer) Close() {
	v.h.remove(v)
	v.end(ErrClosed)
}

// end ends the stream with err unless it has ended already.
func (v *Viewer) end(err error) {
	v.mu.Lock()
	if v.err == nil {
		v.err = err
		v.clearLocked()
	}
	v.mu.Unlock()
	v.wake()
}

func (v *Viewer) wake() {
	select {
	case v.notify <- struct{}{}:
	default:
	}
}

func (v *Viewer) clearLocked() {
	for v.n > 0 {
		v.q[v.head] = nil
		v.head = (v.head + 1) % len(v.q)
		v.n--
	}
	v.head, v.qBytes = 0, 0
}

// restarted makes an H.264 viewer wait for a keyframe; the caller holds
// h.mu.
func (v *Viewer) restarted() {
	if v.info.Codec == H264 {
		v.needKey = true
	}
}

// offer queues f, newer than every frame offered before, or drops it. The
// caller holds h.mu (or owns v, before it is registered).
func (v *Viewer) offer(f *Frame) {
	gap := f.Seq - v.after - 1 // frames the ring lost for this viewer
	if v.after == 0 {
		gap = 0
	}
	v.after = f.Seq
	lost := uint64(0)
	defer func() {
		if lost > 0 {
			v.dropped.Add(lost)
			v.h.dropped.Add(lost)
		}
	}()

	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return
	}
	if v.info.Codec == H264 {
		if gap > 0 && !v.needKey {
			// An access unit is missing: decoding can only resume at a
			// keyframe.
			lost += gap
			v.needKey = true
		}
		if v.needKey && !f.Key {
			lost++
			return
		}
		if v.n == len(v.q) || v.qBytes+len(f.Data) > v.maxBytes {
			// Too slow: drop the queue, resume at a keyframe (this one,
			// if it is one).
			lost += uint64(v.n)
			v.clearLocked()
			if !f.Key {
				lost++
				v.needKey = true
				return
			}
		}
		v.needKey = false
	} else if v.n == len(v.q) {
		// JPEG: keep the newest frames.
		v.qBytes -= len(v.q[v.head].Data)
		v.q[v.head] = nil
		v.head = (v.head + 1) % len(v.q)
		v.n--
		lost++
	}
	v.q[(v.head+v.n)%len(v.q)] = f
	v.n++
	v.qBytes += len(f.Data)
	v.h.delivered.Add(1)
	v.wake()
}
