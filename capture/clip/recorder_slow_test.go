package clip_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/cliptest"
	"github.com/doorbelld/doorbelld/capture/storage"
)

// gate is a JPEG encoder that is as slow as the test wants: each call
// announces itself on entered and waits until release is closed.
type gate struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

// slowRig is a rig whose Recorder encodes through a gate, released (if
// the test did not) before the rig stops.
func slowRig(t *testing.T, ring *capture.Ring, opts clip.Options) (*rig, *gate) {
	g := &gate{entered: make(chan struct{}, 1), release: make(chan struct{})}
	r := newRigWith(t, ring, nil, yuyv10, opts, func(rec *clip.Recorder) { clip.SetEncoder(rec, g.encode) })
	t.Cleanup(g.open) // runs before the rig's stop
	return r, g
}

// open lets the encoder go on.
func (g *gate) open() {
	g.once.Do(func() { close(g.release) })
}

func (g *gate) encode(f capture.Frame, q int) ([]byte, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
	return capture.EncodeJPEG(f, q)
}

// blocked waits until the Recorder is stuck in the encoder.
func (g *gate) blocked(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the Recorder never called the encoder")
	}
}

var yuyv10 = capture.Format{PixelFormat: capture.PixYUYV, Width: 64, Height: 48, FPS: 10}

// A ring that holds PreRoll plus half a second (25 frames at 10 fps)
// and an encoder stuck on the clip's first frame while the camera goes
// on for four seconds, evicting the whole pre-roll and most of the
// post-roll: the clip still has every frame from the trigger - PreRoll
// to the end, because the ring kept them for it.
func TestRecorderSlowEncoderKeepsPreRoll(t *testing.T) {
	ring := capture.NewRingSize(8<<20, 25)
	pre, post := 2*time.Second, 2*time.Second
	r, g := slowRig(t, ring, clip.Options{PreRoll: pre, PostRoll: post})
	r.frames(3 * time.Second)
	at := r.clk.Now()
	r.rec.Trigger(at, "motion")
	g.blocked(t)
	r.frames(4 * time.Second)
	if st := ring.Stats(); st.Kept == 0 || st.Lost != 0 {
		t.Errorf("ring %+v: want frames kept aside for the clip, none lost", st)
	}
	if oldest, _, _ := ring.Span(); !oldest.After(at.Add(time.Second)) {
		t.Fatalf("the ring still reaches back to %v; the test needs the clip's frames evicted", oldest.Sub(at))
	}
	g.open()
	m := r.clips(1)[0]
	r.checkClip(m, at.Add(-pre), at.Add(post), "motion")
	if st := r.rec.Stats(); st.Lost != 0 || st.Encoded != 41 {
		t.Errorf("Stats = %+v, want 41 frames encoded, none lost", st)
	}
	if st := ring.Stats(); st.Held != 0 || st.Holds != 1 {
		t.Errorf("ring %+v: want nothing held aside after the clip, one hold", st)
	}
}

// Three triggers in quick succession while the encoder is stuck: none
// loses its pre-roll, merged or not, and each frame is encoded once.
func TestRecorderSlowEncoderThreeTriggers(t *testing.T) {
	pre, post := 2*time.Second, 2*time.Second
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprint("merge=", merge), func(t *testing.T) {
			ring := capture.NewRingSize(8<<20, 25)
			r, g := slowRig(t, ring, clip.Options{PreRoll: pre, PostRoll: post, Merge: merge})
			r.frames(3 * time.Second)
			var ats []time.Time
			for i := range 3 {
				if i > 0 {
					r.frames(300 * time.Millisecond)
				}
				ats = append(ats, r.clk.Now())
				r.rec.Trigger(r.clk.Now(), fmt.Sprint("e", i))
				if i == 0 {
					g.blocked(t)
				}
			}
			r.frames(4 * time.Second)
			if st := ring.Stats(); st.Lost != 0 {
				t.Errorf("ring %+v: frames lost", st)
			}
			g.open()
			if merge {
				m := r.clips(1)[0]
				r.noMoreClips()
				r.checkClip(m, ats[0].Add(-pre), ats[2].Add(post), "e0", "e1", "e2")
			} else {
				clips := r.clips(3)
				r.noMoreClips()
				slices.SortFunc(clips, func(a, b storage.Meta) int { return a.Start.Compare(b.Start) })
				for i, m := range clips {
					r.checkClip(m, ats[i].Add(-pre), ats[i].Add(post), fmt.Sprint("e", i))
				}
			}
			// The union: from ats[0]-2s to ats[2]+2s, 47 frames.
			if st := r.rec.Stats(); st.Lost != 0 || st.Encoded != 47 {
				t.Errorf("Stats = %+v, want 47 frames encoded, none lost", st)
			}
		})
	}
}

// Past the ring's hold limit the frames a clip wants are lost, counted
// and the clip stored with the others.
func TestRecorderSlowEncoderHoldLimit(t *testing.T) {
	ring := capture.NewRingSize(8<<20, 25)
	frame := len(capturetestFrame(yuyv10))
	ring.SetHoldLimit(10 * frame)
	pre, post := 2*time.Second, 2*time.Second
	r, g := slowRig(t, ring, clip.Options{PreRoll: pre, PostRoll: post})
	r.frames(3 * time.Second) // frames 1..30; the ring holds 6..30
	at := r.clk.Now()         // frame 30; the clip wants 10..50
	r.rec.Trigger(at, "motion")
	g.blocked(t) // on frame 10, taken
	// Frames 31..70 evict 6..45: of the 35 the clip wants (11..45), the
	// first 10 are kept aside, 25 lost.
	r.frames(4 * time.Second)
	if st := ring.Stats(); st.Kept != 10 || st.Lost != 25 {
		t.Errorf("ring %+v: want 10 frames kept, 25 lost", st)
	}
	g.open()
	m := r.clips(1)[0]
	if !m.Start.Equal(at.Add(-pre)) || m.Frames != 1+10+5 {
		t.Errorf("clip %+v: want start -2s, 16 frames (10..20, 46..50)", m)
	}
	if st := r.rec.Stats(); st.Lost != 25 || st.Clips != 1 {
		t.Errorf("Stats = %+v, want 25 lost, 1 clip", st)
	}
}

func capturetestFrame(f capture.Format) []byte { return make([]byte, f.Width*f.Height*2) }

// copyNs measures a plain copy of n bytes, the baseline the benchmarks
// report their cost against.
func copyNs(n int) float64 {
	src, dst := make([]byte, n), make([]byte, n)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // fault the pages in
	const rounds = 20
	start := time.Now()
	for range rounds {
		copy(dst, src)
	}
	return float64(time.Since(start).Nanoseconds()) / rounds
}

// BenchmarkEncodeJPEG measures what the Recorder pays per frame of a YUYV
// camera: capture.EncodeJPEG at the default quality. ms/frame, and
// x_copy: the cost as a multiple of copying the frame's bytes (what a
// frame costs the ring). A camera at F fps needs ms/frame below 1000/F
// for the Recorder to keep up.
func BenchmarkEncodeJPEG(b *testing.B) {
	for _, size := range []struct{ w, h int }{{640, 480}, {320, 240}} {
		b.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(b *testing.B) {
			f := capture.Format{PixelFormat: capture.PixYUYV, Width: size.w, Height: size.h, FPS: 15}
			frame := capture.Frame{Data: cliptest.Image(f, 3), Format: f}
			b.SetBytes(int64(len(frame.Data)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := capture.EncodeJPEG(frame, capture.DefaultJPEGQuality); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(per/1e6, "ms/frame")
			b.ReportMetric(per/copyNs(len(frame.Data)), "x_copy")
		})
	}
}

// BenchmarkTrigger measures Trigger, which reserves the clip's frames in
// a ring holding 2.5 s of 640x480 YUYV at 15 fps (23 MB) and queues:
// x_frame_copy is its cost as a fraction of copying one frame's bytes
// (614400), what a reservation by copying would pay per frame of the
// pre-roll.
func BenchmarkTrigger(b *testing.B) {
	f := capture.Format{PixelFormat: capture.PixYUYV, Width: 640, Height: 480, FPS: 15}
	img := cliptest.Image(f, 1)
	ring := capture.NewRingSize(38*len(img), 64)
	at := t0
	for range 38 {
		at = at.Add(f.Interval())
		ring.Push(img, at, f)
	}
	sink := sinkFunc(func(storage.Meta, []byte) error { return nil })
	rec := clip.New(ring, sink, clip.Options{PreRoll: 2 * time.Second, PostRoll: 3 * time.Second, Merge: true, Logger: quiet()})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N { // Run is not running: the queue drops the oldest past 256
		rec.Trigger(at, "press")
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/copyNs(len(img)), "x_frame_copy")
}
