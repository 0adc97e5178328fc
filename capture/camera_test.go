package capture_test

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"image/jpeg"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/capturetest"
)

var (
	start  = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mjpg10 = capture.Format{PixelFormat: capture.PixMJPEG, Width: 32, Height: 24, FPS: 10}
	errDev = errors.New("no such device")
)

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

type rig struct {
	t    *testing.T
	clk  *clockwork.FakeClock
	src  *capturetest.Source
	cam  *capture.Camera
	logs *syncBuffer
	ctx  context.Context
	done chan error
	ran  bool
}

// newRig runs a Camera on a fake source and a fake clock until the test
// ends, and checks that Run then returns nil.
func newRig(t *testing.T, f capture.Format, opts capture.Options) *rig {
	t.Helper()
	r := &rig{t: t, clk: clockwork.NewFakeClockAt(start), src: capturetest.New(f), logs: &syncBuffer{}, done: make(chan error, 1)}
	opts.Clock = r.clk
	opts.Logger = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r.cam = capture.New(r.src, capture.NewRing(1<<20), opts)
	ctx, cancel := context.WithCancel(context.Background())
	r.ctx = ctx
	t.Cleanup(func() {
		cancel()
		if !r.ran {
			return
		}
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

func (r *rig) run() {
	r.ran = true
	go func() { r.done <- r.cam.Run(r.ctx) }()
}

// waitStarted waits until the source has started a stream.
func (r *rig) waitStarted() {
	r.t.Helper()
	select {
	case <-r.src.Started():
	case <-time.After(5 * time.Second):
		r.t.Fatal("stream did not start")
	}
}

// waitTimer waits until the camera (or a snapshot) waits on the clock.
func (r *rig) waitTimer(n int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.clk.BlockUntilContext(ctx, n); err != nil {
		r.t.Fatalf("no timer: %v", err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCameraBackoff(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{MinBackoff: time.Second, MaxBackoff: 8 * time.Second})
	r.src.SetOpenError(errDev)
	r.run()
	// Each failed open waits 1s, 2s, 4s, 8s, 8s before the next try.
	for i, wait := range []time.Duration{1, 2, 4, 8, 8} {
		wait *= time.Second
		r.waitTimer(1)
		opens := r.src.Opens()
		if opens != i+1 {
			t.Fatalf("try %d: %d opens", i+1, opens)
		}
		r.clk.Advance(wait - time.Millisecond)
		if got := r.src.Opens(); got != opens {
			t.Fatalf("try %d: reopened before %v", i+1, wait)
		}
		r.clk.Advance(time.Millisecond)
		eventually(t, "reopen", func() bool { return r.src.Opens() == opens+1 })
	}
	st := r.cam.Status()
	if st.Available || st.LastError != errDev.Error() {
		t.Errorf("status = %+v", st)
	}
	if n := r.logs.count("camera: unavailable"); n != 1 {
		t.Errorf("logged unavailable %d times, want once", n)
	}
}

func TestCameraRecovers(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{})
	r.src.SetOpenError(errDev)
	r.run()
	r.waitTimer(1)
	r.src.SetOpenError(nil)
	r.clk.Advance(time.Second)
	r.waitStarted()

	st := r.cam.Status()
	if !st.Available || st.Format != mjpg10 || !st.Since.Equal(start.Add(time.Second)) {
		t.Errorf("after start: %+v", st)
	}
	img := capturetest.JPEG(32, 24, color.White)
	r.src.Push(img, start)
	r.src.Push(img, start.Add(100*time.Millisecond))

	// A failure after frames were delivered retries after MinBackoff again.
	r.src.Fail(errors.New("stream broke"))
	r.waitTimer(1)
	st = r.cam.Status()
	if st.Available || st.LastError != "stream broke" || st.Frames != 2 {
		t.Errorf("after failure: %+v", st)
	}
	r.clk.Advance(time.Second)
	r.waitStarted()
	if !r.cam.Status().Available {
		t.Error("not available after restart")
	}
	if n := r.logs.count("camera: unavailable"); n != 2 {
		t.Errorf("logged unavailable %d times, want 2", n)
	}
	if n := r.logs.count("camera: available"); n != 2 {
		t.Errorf("logged available %d times, want 2", n)
	}
}

func TestCameraStatusCounts(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{})
	r.run()
	r.waitStarted()
	r.src.Push([]byte{1, 2, 3}, start)
	r.src.Push(nil, start) // refused by the ring
	if st := r.cam.Status(); st.Frames != 2 || st.Dropped != 1 {
		t.Errorf("Frames %d Dropped %d, want 2 1", st.Frames, st.Dropped)
	}
}

func TestSnapshotBuffered(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{})
	r.run()
	r.waitStarted()
	frames := [][]byte{
		capturetest.JPEG(32, 24, color.Black),
		capturetest.JPEG(32, 24, color.White),
		capturetest.JPEG(32, 24, color.Gray{128}),
	}
	for i, f := range frames { // at start, +100ms, +200ms
		r.src.Push(f, start.Add(time.Duration(i)*100*time.Millisecond))
	}
	tests := []struct {
		name    string
		at      time.Duration
		want    int
		wantErr error
	}{
		{name: "exact", at: 100 * time.Millisecond, want: 1},
		{name: "between", at: 40 * time.Millisecond, want: 0},
		{name: "newest at", at: 200 * time.Millisecond, want: 2},
		{name: "before buffer, within skew", at: -time.Second, want: 0},
		{name: "before buffer, too far", at: -time.Minute, wantErr: capture.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := r.cam.Snapshot(context.Background(), start.Add(tt.at))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(snap.JPEG, frames[tt.want]) {
				t.Errorf("got another frame than %d", tt.want)
			}
			if want := start.Add(time.Duration(tt.want) * 100 * time.Millisecond); !snap.At.Equal(want) || snap.Format != mjpg10 {
				t.Errorf("At %v Format %v", snap.At, snap.Format)
			}
		})
	}
}

// snapshotAsync starts a Snapshot and waits until it waits on the clock.
func (r *rig) snapshotAsync(ctx context.Context, at time.Time) <-chan snapResult {
	ch := make(chan snapResult, 1)
	go func() {
		s, err := r.cam.Snapshot(ctx, at)
		ch <- snapResult{s, err}
	}()
	r.waitTimer(1)
	return ch
}

type snapResult struct {
	s   capture.Snapshot
	err error
}

func (r *rig) result(ch <-chan snapResult) snapResult {
	r.t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(5 * time.Second):
		r.t.Fatal("Snapshot did not return")
		return snapResult{}
	}
}

func TestSnapshotWaitsForNextFrame(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{})
	r.run()
	r.waitStarted()
	old := capturetest.JPEG(32, 24, color.Black)
	next := capturetest.JPEG(32, 24, color.White)
	r.src.Push(old, start)

	// Asked for +70ms: the buffered frame is 70ms old, the next one (at
	// +100ms) is nearer, so Snapshot waits for it.
	ch := r.snapshotAsync(context.Background(), start.Add(70*time.Millisecond))
	r.src.Push(next, start.Add(100*time.Millisecond))
	res := r.result(ch)
	if res.err != nil || !bytes.Equal(res.s.JPEG, next) {
		t.Fatalf("got err %v, frame at %v; want the next frame", res.err, res.s.At)
	}

	// Asked for +130ms: the next frame (+200ms) is farther than the
	// buffered one (+100ms); Snapshot still waits for it, then picks the
	// nearer.
	ch = r.snapshotAsync(context.Background(), start.Add(130*time.Millisecond))
	r.src.Push(old, start.Add(200*time.Millisecond))
	if res := r.result(ch); res.err != nil || !res.s.At.Equal(start.Add(100*time.Millisecond)) {
		t.Fatalf("got err %v, frame at %v; want +100ms", res.err, res.s.At)
	}
}

func TestSnapshotWaitBounded(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{})
	r.run()
	r.waitStarted()
	img := capturetest.JPEG(32, 24, color.Black)
	r.src.Push(img, start)
	// No frame comes: after two frame intervals (200ms at 10fps) the
	// buffered frame is the answer.
	ch := r.snapshotAsync(context.Background(), start.Add(50*time.Millisecond))
	r.clk.Advance(199 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("returned before two frame intervals")
	case <-time.After(10 * time.Millisecond):
	}
	r.clk.Advance(time.Millisecond)
	if res := r.result(ch); res.err != nil || !res.s.At.Equal(start) {
		t.Fatalf("err %v at %v", res.err, res.s.At)
	}
}

func TestSnapshotContextDone(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{})
	r.run()
	r.waitStarted()
	r.src.Push(capturetest.JPEG(32, 24, color.Black), start)
	ctx, cancel := context.WithCancel(context.Background())
	ch := r.snapshotAsync(ctx, start.Add(time.Second))
	cancel()
	if res := r.result(ch); !errors.Is(res.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", res.err)
	}
}

func TestSnapshotUnavailable(t *testing.T) {
	tests := []struct {
		name  string
		setup func(r *rig)
	}{
		{name: "never started", setup: func(r *rig) {}},
		{name: "no camera", setup: func(r *rig) {
			r.src.SetOpenError(errDev)
			r.run()
			r.waitTimer(1)
		}},
		{name: "camera died long ago", setup: func(r *rig) {
			r.run()
			r.waitStarted()
			r.src.Push(capturetest.JPEG(32, 24, color.Black), start)
			r.src.SetOpenError(errDev)
			r.src.Fail(errDev)
			r.waitTimer(1)
			r.clk.Advance(10 * time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, mjpg10, capture.Options{})
			tt.setup(r)
			_, err := r.cam.Snapshot(context.Background(), r.clk.Now())
			if !errors.Is(err, capture.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestSnapshotYUYV(t *testing.T) {
	f := capture.Format{PixelFormat: capture.PixYUYV, Width: 64, Height: 48, FPS: 25}
	r := newRig(t, f, capture.Options{JPEGQuality: 70})
	r.run()
	r.waitStarted()
	r.src.Push(capturetest.YUYV(64, 48, color.RGBA{0, 0, 255, 255}), start)
	snap, err := r.cam.Snapshot(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(snap.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 64 || img.Bounds().Dy() != 48 {
		t.Errorf("size %v", img.Bounds())
	}
	if r, g, b, _ := img.At(10, 10).RGBA(); b>>8 < 200 || r>>8 > 60 || g>>8 > 60 {
		t.Errorf("pixel %d,%d,%d; want blue", r>>8, g>>8, b>>8)
	}
}

// SetPaused ends the stream (the device is closed) without an error or a
// backoff, keeps it closed, and opens it again when switched off.
func TestCameraPaused(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{})
	r.run()
	r.waitStarted()
	r.src.Push(capturetest.JPEG(64, 48, color.Gray{Y: 90}), r.clk.Now())
	r.cam.SetPaused(true)
	eventually(t, "the stream closed", func() bool { st := r.cam.Status(); return !st.Available && st.Paused })
	if st := r.cam.Status(); st.LastError != "" {
		t.Errorf("paused: LastError %q, want none (closed on purpose)", st.LastError)
	}
	opens := r.src.Opens()
	r.cam.SetPaused(true) // again: nothing changes
	if r.cam.Status().Available || r.src.Opens() != opens {
		t.Fatalf("paused camera opened again: %+v, opens %d → %d", r.cam.Status(), opens, r.src.Opens())
	}
	if n := r.logs.count("camera: unavailable"); n != 0 {
		t.Errorf("pausing logged the camera as unavailable %d times", n)
	}
	r.cam.SetPaused(false)
	r.waitStarted()
	eventually(t, "the stream back", func() bool { st := r.cam.Status(); return st.Available && !st.Paused })
	if r.src.Opens() != opens+1 {
		t.Errorf("opens %d after unpausing, want %d", r.src.Opens(), opens+1)
	}
}

// gatedSource holds each Stream until the test lets it open.
type gatedSource struct {
	*capturetest.Source
	gate chan struct{}
}

func (g gatedSource) Stream(ctx context.Context, started func(capture.Format), push func([]byte, time.Time)) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil
	}
	return g.Source.Stream(ctx, started, push)
}

// A snapshot asked for while the camera reopens after a pause (a ring
// just after privacy mode is switched off) waits for the stream instead of
// failing at once.
func TestSnapshotWaitsForReopening(t *testing.T) {
	clk := clockwork.NewFakeClockAt(start)
	src := capturetest.New(mjpg10)
	g := gatedSource{src, make(chan struct{}, 1)}
	cam := capture.New(g, capture.NewRing(1<<20), capture.Options{Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cam.Run(ctx) }()
	defer func() { cancel(); <-done }()
	g.gate <- struct{}{}
	<-src.Started()
	cam.SetPaused(true)
	eventually(t, "the stream closed", func() bool { return !cam.Status().Available })
	clk.Advance(time.Minute) // nothing buffered is near the next snapshot's time
	cam.SetPaused(false)     // Stream is held at the gate: the camera is reopening
	at := clk.Now()
	type result struct {
		s   capture.Snapshot
		err error
	}
	res := make(chan result, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		s, err := cam.Snapshot(sctx, at)
		res <- result{s, err}
	}()
	eventually(t, "the snapshot waiting", func() bool { return capture.Waiting(cam) > 0 })
	select {
	case r := <-res:
		t.Fatalf("snapshot returned while the camera reopens: %v", r.err)
	default:
	}
	g.gate <- struct{}{}
	<-src.Started()
	src.Push(capturetest.JPEG(64, 48, color.Gray{Y: 200}), at)
	r := <-res
	if r.err != nil || !r.s.At.Equal(at) {
		t.Fatalf("snapshot after reopening: at %v, %v; want the new frame at %v", r.s.At, r.err, at)
	}
}
