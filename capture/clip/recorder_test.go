package clip_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/cliptest"
	"github.com/doorbelld/doorbelld/capture/simcam"
	"github.com/doorbelld/doorbelld/capture/storage"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// rig is a Recorder on a fake clock, fed by the test one frame at a time.
type rig struct {
	t      *testing.T
	clk    *clockwork.FakeClock
	ring   *capture.Ring
	store  *storage.Store
	rec    *clip.Recorder
	format capture.Format
	n      int // frames pushed
	cancel context.CancelFunc
	done   chan error
}

// ten frames a second: frame times are whole multiples of 100ms.
var fmt10 = capture.Format{PixelFormat: capture.PixMJPEG, Width: 64, Height: 48, FPS: 10}

func newRig(t *testing.T, ring *capture.Ring, sink clip.Sink, f capture.Format, opts clip.Options) *rig {
	t.Helper()
	return newRigWith(t, ring, sink, f, opts, nil)
}

// newRigWith is newRig calling setup (if not nil) on the Recorder before
// it runs.
func newRigWith(t *testing.T, ring *capture.Ring, sink clip.Sink, f capture.Format, opts clip.Options, setup func(*clip.Recorder)) *rig {
	t.Helper()
	r := &rig{t: t, clk: clockwork.NewFakeClockAt(t0), ring: ring, format: f, done: make(chan error, 1)}
	if sink == nil {
		var err error
		r.store, err = storage.Open(t.TempDir(), storage.Options{Clock: r.clk, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		sink = r.store
	}
	opts.Clock, opts.Logger = r.clk, quiet()
	r.rec = clip.New(ring, sink, opts)
	if setup != nil {
		setup(r.rec)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.rec.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		r.t.Error("Run did not return")
	}
}

// frames advances the clock by d, pushing a frame at every interval.
func (r *rig) frames(d time.Duration) {
	iv := r.format.Interval()
	for end := r.clk.Now().Add(d); r.clk.Now().Before(end); {
		r.clk.Advance(iv)
		r.ring.Push(cliptest.Image(r.format, r.n), r.clk.Now(), r.format)
		r.n++
	}
}

// idle advances the clock by d without frames (the camera is off).
func (r *rig) idle(d time.Duration) { r.clk.Advance(d) }

// clips advances the clock without frames until n clips are ready and
// returns them.
func (r *rig) clips(n int) []storage.Meta {
	r.t.Helper()
	var out []storage.Meta
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		select {
		case m, ok := <-r.rec.Ready():
			if !ok {
				r.t.Fatalf("Ready closed after %d clips, want %d", len(out), n)
			}
			out = append(out, m)
			continue
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d clips ready, want %d (clock at +%v, stats %+v)", len(out), n, r.clk.Now().Sub(t0), r.rec.Stats())
		}
		r.clk.Advance(50 * time.Millisecond)
	}
	return out
}

// noMoreClips checks that no other clip comes within a few seconds.
func (r *rig) noMoreClips() {
	r.t.Helper()
	for range 100 {
		r.clk.Advance(100 * time.Millisecond)
		select {
		case m := <-r.rec.Ready():
			r.t.Fatalf("unexpected clip %+v", m)
		case <-time.After(time.Millisecond):
		}
	}
}

// file returns the path of a stored clip (disk store).
func (r *rig) file(m storage.Meta) string {
	r.t.Helper()
	rc, err := r.store.Open(m.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rc.Close()
	f, ok := rc.(*os.File)
	if !ok {
		b, _ := io.ReadAll(rc)
		path := filepath.Join(r.t.TempDir(), m.ID+".mp4")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			r.t.Fatal(err)
		}
		return path
	}
	return f.Name()
}

// checkClip checks a clip's metadata and what ffprobe says about it: the
// frames from `from` to `to` (times of real frames, 100ms apart).
func (r *rig) checkClip(m storage.Meta, from, to time.Time, events ...string) {
	r.t.Helper()
	iv := r.format.Interval()
	frames := int(to.Sub(from)/iv) + 1
	dur := to.Sub(from) + iv
	if !m.Start.Equal(from) || m.Duration() != dur || m.Frames != frames || m.Codec != clip.CodecMJPEG ||
		m.Width != r.format.Width || m.Height != r.format.Height || !slices.Equal(m.EventIDs, events) || m.Size == 0 {
		r.t.Errorf("clip %+v:\nwant start +%v, duration %v, %d frames, mjpeg %dx%d, events %v",
			m, from.Sub(t0), dur, frames, r.format.Width, r.format.Height, events)
	}
	p := cliptest.ProbeFile(r.t, r.file(m))
	if p.Codec != "mjpeg" || p.Frames != frames || absDur(p.Duration-dur) > iv {
		r.t.Errorf("ffprobe: %s, %d frames, %v; want mjpeg, %d frames, %v within %v", p.Codec, p.Frames, p.Duration, frames, dur, iv)
	}
}

func TestRecorderClip(t *testing.T) {
	r := newRig(t, capture.NewRing(8<<20), nil, fmt10, clip.Options{PreRoll: 2 * time.Second, PostRoll: 3 * time.Second})
	r.frames(5 * time.Second)
	at := r.clk.Now()
	r.rec.Trigger(at, "ring1")
	r.frames(10 * time.Second)
	m := r.clips(1)[0]
	r.checkClip(m, at.Add(-2*time.Second), at.Add(3*time.Second), "ring1")
	if got := r.store.List(); len(got) != 1 || got[0].ID != m.ID {
		t.Errorf("store holds %v, want the clip", got)
	}
	if st := r.rec.Stats(); st.Triggers != 1 || st.Clips != 1 || st.Recording != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// A trigger between frames: the clip holds every frame within
// [at-PreRoll, at+PostRoll], so its first frame is at most PreRoll before
// the trigger.
func TestRecorderTriggerBetweenFrames(t *testing.T) {
	r := newRig(t, capture.NewRing(8<<20), nil, fmt10, clip.Options{PreRoll: time.Second, PostRoll: time.Second})
	r.frames(3 * time.Second)
	at := r.clk.Now().Add(-30 * time.Millisecond)
	r.rec.Trigger(at, "e")
	r.frames(3 * time.Second)
	m := r.clips(1)[0]
	first := at.Add(-time.Second).Add(30 * time.Millisecond) // the first frame time >= at-1s
	r.checkClip(m, first, at.Add(time.Second).Add(-70*time.Millisecond), "e")
}

func TestRecorderMerge(t *testing.T) {
	pre, post := 2*time.Second, 3*time.Second
	tests := []struct {
		merge bool
		want  int // clips
	}{
		{true, 1},
		{false, 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("merge=", tt.merge), func(t *testing.T) {
			r := newRig(t, capture.NewRing(8<<20), nil, fmt10, clip.Options{PreRoll: pre, PostRoll: post, Merge: tt.merge})
			r.frames(5 * time.Second)
			at1 := r.clk.Now()
			r.rec.Trigger(at1, "ring")
			r.frames(2 * time.Second)
			at2 := r.clk.Now()
			r.rec.Trigger(at2, "motion")
			r.frames(10 * time.Second)
			clips := r.clips(tt.want)
			r.noMoreClips()
			if tt.merge {
				r.checkClip(clips[0], at1.Add(-pre), at2.Add(post), "ring", "motion")
				if st := r.rec.Stats(); st.Merged != 1 {
					t.Errorf("Stats.Merged = %d, want 1", st.Merged)
				}
				return
			}
			slices.SortFunc(clips, func(a, b storage.Meta) int { return a.Start.Compare(b.Start) })
			r.checkClip(clips[0], at1.Add(-pre), at1.Add(post), "ring")
			r.checkClip(clips[1], at2.Add(-pre), at2.Add(post), "motion")
		})
	}
}

// A trigger after a clip was stored starts a new clip even with Merge.
func TestRecorderMergeOnlyWhileRecording(t *testing.T) {
	r := newRig(t, capture.NewRing(8<<20), nil, fmt10, clip.Options{PreRoll: time.Second, PostRoll: time.Second, Merge: true})
	r.frames(2 * time.Second)
	at1 := r.clk.Now()
	r.rec.Trigger(at1, "a")
	r.frames(2 * time.Second)
	first := r.clips(1)[0]
	r.frames(2 * time.Second)
	at2 := r.clk.Now()
	r.rec.Trigger(at2, "b")
	r.frames(2 * time.Second)
	second := r.clips(1)[0]
	r.checkClip(first, at1.Add(-time.Second), at1.Add(time.Second), "a")
	r.checkClip(second, at2.Add(-time.Second), at2.Add(time.Second), "b")
}

// Triggers that keep coming (a PIR in a busy street) make clips of at
// most MaxLength that follow each other without a gap or a repeated
// frame.
func TestRecorderMaxLength(t *testing.T) {
	opts := clip.Options{PreRoll: time.Second, PostRoll: 2 * time.Second, Merge: true, MaxLength: 5 * time.Second}
	r := newRig(t, capture.NewRing(8<<20), nil, fmt10, opts)
	r.frames(2 * time.Second)
	start := r.clk.Now()
	for i := range 7 { // every second for 7 s: the last ends at start+6s+2s
		r.rec.Trigger(r.clk.Now(), fmt.Sprint("m", i))
		// Let Run take it before the clock moves on: which clips are
		// open when it does decides where it goes.
		waitAdmitted(t, r.rec, uint64(i+1))
		r.frames(time.Second)
	}
	r.frames(5 * time.Second)
	clips := r.clips(2)
	r.noMoreClips()
	from := start.Add(-time.Second)
	r.checkClip(clips[0], from, from.Add(5*time.Second), "m0", "m1", "m2", "m3", "m4")
	// m3 and m4 (at start+3s and +4s) reach past the first clip's end
	// (start+4s): they are in both.
	r.checkClip(clips[1], from.Add(5*time.Second+100*time.Millisecond), start.Add(8*time.Second), "m3", "m4", "m5", "m6")
}

// When the ring does not reach back to the start of the pre-roll (the
// camera started a moment ago, or the ring is too small), the clip starts
// at the oldest frame the ring has.
func TestRecorderShortRing(t *testing.T) {
	ring := capture.NewRing(8 << 20)
	r := newRig(t, ring, nil, fmt10, clip.Options{PreRoll: 3 * time.Second, PostRoll: time.Second})
	r.idle(10 * time.Second)
	r.frames(time.Second)
	at := r.clk.Now()
	oldest, _, _ := ring.Span()
	r.rec.Trigger(at, "e")
	r.frames(2 * time.Second)
	m := r.clips(1)[0]
	r.checkClip(m, oldest, at.Add(time.Second), "e")
	if got := oldest.Sub(at); got != -900*time.Millisecond {
		t.Errorf("oldest frame at %v from the trigger, want -900ms", got)
	}
}

// A clip longer than the ring holds is complete: the Recorder copies
// frames out every second, so the ring needs only the pre-roll plus a
// second.
func TestRecorderClipLongerThanRing(t *testing.T) {
	ring := capture.NewRingSize(8<<20, 25) // 2.5 s of frames
	r := newRig(t, ring, nil, fmt10, clip.Options{PreRoll: time.Second, PostRoll: 8 * time.Second})
	r.frames(3 * time.Second)
	at := r.clk.Now()
	r.rec.Trigger(at, "e")
	deadline := time.Now().Add(10 * time.Second)
	for r.rec.Stats().Recording != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the clip is not being recorded")
		}
		time.Sleep(time.Millisecond)
	}
	// Step in lockstep with Run, as real time would: after each frame
	// wait until Run waits on its timer again.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 82 { // to at+8.2s: the clip is due at at+8.25s
		r.frames(r.format.Interval())
		if err := r.clk.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal("Run does not wait on a timer")
		}
	}
	m := r.clips(1)[0]
	r.checkClip(m, at.Add(-time.Second), at.Add(8*time.Second), "e")
	if st := ring.Stats(); st.Evicted == 0 {
		t.Errorf("ring evicted nothing: %+v", st)
	}
}

func TestRecorderYUYV(t *testing.T) {
	f := capture.Format{PixelFormat: capture.PixYUYV, Width: 64, Height: 48, FPS: 10}
	r := newRig(t, capture.NewRing(8<<20), nil, f, clip.Options{PreRoll: time.Second, PostRoll: time.Second})
	r.frames(2 * time.Second)
	at := r.clk.Now()
	r.rec.Trigger(at, "e")
	r.frames(2 * time.Second)
	m := r.clips(1)[0]
	r.checkClip(m, at.Add(-time.Second), at.Add(time.Second), "e")
}

func TestRecorderNoCamera(t *testing.T) {
	r := newRig(t, capture.NewRing(1<<20), nil, fmt10, clip.Options{PreRoll: time.Second, PostRoll: time.Second})
	r.rec.Trigger(r.clk.Now(), "e")
	r.idle(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for r.rec.Stats().Empty != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v, want 1 empty clip", r.rec.Stats())
		}
		r.idle(100 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	if n := len(r.store.List()); n != 0 {
		t.Errorf("%d clips stored without a camera", n)
	}
}

// sinkFunc adapts a function to clip.Sink.
type sinkFunc func(storage.Meta, []byte) error

func (f sinkFunc) Put(m storage.Meta, b []byte) error { return f(m, b) }

func TestRecorderSinkError(t *testing.T) {
	var mu sync.Mutex
	var puts int
	sink := sinkFunc(func(storage.Meta, []byte) error {
		mu.Lock()
		defer mu.Unlock()
		puts++
		return errors.New("disk on fire")
	})
	r := newRig(t, capture.NewRing(8<<20), sink, fmt10, clip.Options{PostRoll: time.Second})
	r.frames(time.Second)
	r.rec.Trigger(r.clk.Now(), "e")
	r.frames(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for r.rec.Stats().Failed != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v, want 1 failed clip", r.rec.Stats())
		}
		r.idle(100 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	r.noMoreClips()
	mu.Lock()
	defer mu.Unlock()
	if puts != 1 {
		t.Errorf("%d Puts, want 1", puts)
	}
}

// On shutdown the clip being recorded is stored with the frames so far.
func TestRecorderShutdown(t *testing.T) {
	r := newRig(t, capture.NewRing(8<<20), nil, fmt10, clip.Options{PreRoll: time.Second, PostRoll: 10 * time.Second})
	r.frames(2 * time.Second)
	at := r.clk.Now()
	r.rec.Trigger(at, "e")
	r.frames(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for r.rec.Stats().Recording != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the clip is not being recorded")
		}
		time.Sleep(time.Millisecond)
	}
	r.stop()
	var got []storage.Meta
	for m := range r.rec.Ready() { // closed by Run
		got = append(got, m)
	}
	if len(got) != 1 {
		t.Fatalf("%d clips after shutdown, want 1", len(got))
	}
	r.checkClip(got[0], at.Add(-time.Second), at.Add(2*time.Second), "e")
}

// TestRecorderSimcam is the whole path on a fake clock: the sim camera
// fills the ring through capture.Camera, a ring triggers a clip, the disk
// store keeps it, and ffprobe judges the file.
func TestRecorderSimcam(t *testing.T) {
	const fps = 15
	pre, post := 2*time.Second, 3*time.Second
	clk := clockwork.NewFakeClockAt(t0)
	ring := capture.NewRing(16 << 20)
	cam := capture.New(simcam.New(160, 120, fps, clk), ring, capture.Options{Clock: clk, Logger: quiet()})
	store, err := storage.Open(filepath.Join(t.TempDir(), "clips"), storage.Options{Clock: clk, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	rec := clip.New(ring, store, clip.Options{PreRoll: pre, PostRoll: post, Merge: true, Clock: clk, Logger: quiet()})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Go(func() { _ = cam.Run(ctx) })
	// The camera's ticker is the only timer so far.
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = rec.Run(ctx) })

	// step advances one frame interval and waits for the frame.
	iv := time.Second / fps
	step := func() {
		t.Helper()
		want := ring.Stats().Pushed + 1
		clk.Advance(iv)
		deadline := time.Now().Add(10 * time.Second)
		for ring.Stats().Pushed < want {
			if time.Now().After(deadline) {
				t.Fatalf("no frame after advancing to +%v", clk.Now().Sub(t0))
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	for range 4 * fps {
		step()
	}
	at := clk.Now().Add(-iv / 3) // a press between two frames
	rec.Trigger(at, "press")
	// Keep the frames coming until the clip is there. The recorder muxes
	// and fsyncs in real time, which under emulation can outlast many
	// fake seconds of stepping, so the limit is in real time.
	var m storage.Meta
	deadline := time.Now().Add(30 * time.Second)
	for got := false; !got; {
		step()
		select {
		case m = <-rec.Ready():
			got = true
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no clip by +%v (fake clock); stats %+v", clk.Now().Sub(t0), rec.Stats())
		}
	}

	// The frames the clip must hold: every one taken in [at-pre, at+post].
	var want []time.Time
	for k := 1; ; k++ {
		ft := t0.Add(time.Duration(k) * iv)
		if ft.After(at.Add(post)) {
			break
		}
		if !ft.Before(at.Add(-pre)) {
			want = append(want, ft)
		}
	}
	if m.Start.Before(at.Add(-pre)) || m.Start.Sub(at.Add(-pre)) >= iv || !m.Start.Equal(want[0]) {
		t.Errorf("clip starts at %v, want the first frame at or after the trigger - pre_roll (%v)", m.Start.Sub(at), want[0].Sub(at))
	}
	if m.Frames != len(want) || !slices.Equal(m.EventIDs, []string{"press"}) {
		t.Errorf("clip %+v: want %d frames, events [press]", m, len(want))
	}
	rc, err := store.Open(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	path := rc.(*os.File).Name()
	rc.Close()
	p := cliptest.ProbeFile(t, path)
	wantDur := want[len(want)-1].Sub(want[0]) + iv
	if p.Codec != "mjpeg" || p.Frames != len(want) || absDur(p.Duration-wantDur) > iv || p.Width != 160 {
		t.Errorf("ffprobe: %s %dx%d, %d frames, %v; want mjpeg 160x120, %d frames, %v within %v",
			p.Codec, p.Width, p.Height, p.Frames, p.Duration, len(want), wantDur, iv)
	}
	checkTimes(t, p, want)
}

// Overlapping clips of a YUYV camera encode each frame once: a second
// ring inside the first clip's span (merge off) shares its frames.
func TestRecorderYUYVOverlapEncodesOnce(t *testing.T) {
	f := capture.Format{PixelFormat: capture.PixYUYV, Width: 64, Height: 48, FPS: 10}
	pre, post := 2*time.Second, 3*time.Second
	r := newRig(t, capture.NewRing(8<<20), nil, f, clip.Options{PreRoll: pre, PostRoll: post})
	r.frames(3 * time.Second)
	at1 := r.clk.Now()
	r.rec.Trigger(at1, "ring1")
	r.frames(2 * time.Second)
	at2 := r.clk.Now()
	r.rec.Trigger(at2, "ring2")
	r.frames(6 * time.Second)
	clips := r.clips(2)
	r.noMoreClips()
	sum := clips[0].Frames + clips[1].Frames
	union := int(at2.Add(post).Sub(at1.Add(-pre)) / (100 * time.Millisecond)) // 10 fps
	st := r.rec.Stats()
	if st.Encoded > uint64(union)+2 || st.Encoded+2 < uint64(union) {
		t.Errorf("encoded %d frames for two clips of %d frames together; want about their union, %d", st.Encoded, sum, union)
	}
	t.Logf("two overlapping clips, %d frames in all: %d encoded (union %d)", sum, st.Encoded, union)
}

// A camera that delivers late (a busy CPU: frames are stamped when taken
// but stored when delivered) still gets its last frames into the clip:
// the Recorder waits past settle until a frame taken at or after the end
// is in the ring.
func TestRecorderWaitsForLateFrames(t *testing.T) {
	r := newRig(t, capture.NewRing(8<<20), nil, fmt10, clip.Options{PreRoll: time.Second, PostRoll: time.Second})
	r.frames(2 * time.Second)
	at := r.clk.Now()
	r.rec.Trigger(at, "late")
	r.frames(500 * time.Millisecond) // up to at+500ms on time
	// The camera stalls: nothing is stored while the clock passes the
	// clip's end by well over settle.
	r.idle(1500 * time.Millisecond)
	select {
	case m := <-r.rec.Ready():
		t.Fatalf("clip %+v stored before the camera caught up", m)
	case <-time.After(50 * time.Millisecond):
	}
	// Then it delivers the frames it took meanwhile, stamped at their
	// capture times, up to past the end.
	iv := r.format.Interval()
	for ts := at.Add(500 * time.Millisecond).Add(iv); !ts.After(at.Add(time.Second + iv)); ts = ts.Add(iv) {
		r.ring.Push(cliptest.Image(r.format, r.n), ts, r.format)
		r.n++
	}
	m := r.clips(1)[0]
	r.checkClip(m, at.Add(-time.Second), at.Add(time.Second), "late")
}

// A camera that stops delivering does not hold the clip forever.
func TestRecorderCameraStopsAfterTrigger(t *testing.T) {
	r := newRig(t, capture.NewRing(8<<20), nil, fmt10, clip.Options{PreRoll: time.Second, PostRoll: time.Second})
	r.frames(2 * time.Second)
	at := r.clk.Now()
	r.rec.Trigger(at, "gone")
	r.frames(300 * time.Millisecond)
	m := r.clips(1)[0] // advances the clock without frames
	r.checkClip(m, at.Add(-time.Second), at.Add(300*time.Millisecond), "gone")
}

// waitAdmitted waits until Run has taken n triggers.
func waitAdmitted(t *testing.T, rec *clip.Recorder, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for rec.Stats().Admitted < n {
		if time.Now().After(deadline) {
			t.Fatalf("Run took %d triggers in 30s, want %d", rec.Stats().Admitted, n)
		}
		time.Sleep(time.Millisecond) // polling a counter, not a timing assumption
	}
}
