package live_test

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/capturetest"
	"github.com/doorbelld/doorbelld/capture/live"
)

func TestFastStartJPEG(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{})
	r.push(jpegN(1))
	at := r.push(jpegN(2))

	v := r.subscribe(live.KindWeb)
	f := next(t, v) // no further frame is pushed: this is the buffered one
	if !bytes.Equal(f.Data, jpegN(2)) || !f.At.Equal(at) || f.Seq != 2 || f.Codec != live.JPEG || !f.Key || f.Width != 64 || f.Height != 48 {
		t.Fatalf("fast start frame: seq %d at %v codec %s key %v %dx%d; want the newest (seq 2)", f.Seq, f.At, f.Codec, f.Key, f.Width, f.Height)
	}
	r.push(jpegN(3))
	if f := next(t, v); f.Seq != 3 {
		t.Errorf("next frame: seq %d, want 3", f.Seq)
	}

	// A stale frame is not shown: the viewer waits for a new one.
	r.clk.Advance(3 * time.Second)
	stale := r.subscribe(live.KindMJPEG)
	if n := stale.Queued(); n != 0 {
		t.Errorf("viewer of a stale stream has %d frames queued, want 0", n)
	}
	r.push(jpegN(4))
	if f := next(t, stale); f.Seq != 4 {
		t.Errorf("after a stale frame: seq %d, want 4", f.Seq)
	}
}

func TestYUYVEncodedOncePerFrame(t *testing.T) {
	r := newRig(t, yuyv, rigOpts{})
	for i := range 5 {
		r.push(capturetest.YUYV(64, 48, colourN(i)))
	}
	if st := r.cam.Status(); st.Frames != 5 {
		t.Fatalf("camera frames %d, want 5", st.Frames)
	}
	if s := r.hub.Stats(); s.Encoded != 0 || s.Frames != 0 {
		t.Fatalf("no viewer: encoded %d, frames %d; want 0", s.Encoded, s.Frames)
	}

	viewers := []*live.Viewer{r.subscribe(live.KindWeb), r.subscribe(live.KindMJPEG), r.subscribe(live.KindRTSP)}
	// The fast-start frame was encoded once, for all three.
	first := next(t, viewers[0])
	for _, v := range viewers[1:] {
		if f := next(t, v); f != first {
			t.Fatalf("viewers got different copies of frame %d", f.Seq)
		}
	}
	if s := r.hub.Stats(); s.Encoded != 1 {
		t.Fatalf("after fast start: encoded %d, want 1", s.Encoded)
	}
	const frames = 6
	for i := range frames {
		r.push(capturetest.YUYV(64, 48, colourN(i)))
		got := next(t, viewers[0])
		for _, v := range viewers[1:] {
			if f := next(t, v); f != got {
				t.Fatalf("frame %d: viewers got different copies", got.Seq)
			}
		}
		img, err := jpeg.Decode(bytes.NewReader(got.Data))
		if err != nil || img.Bounds().Dx() != 64 || img.Bounds().Dy() != 48 {
			t.Fatalf("frame %d: decode: %v", got.Seq, err)
		}
	}
	if s := r.hub.Stats(); s.Encoded != 1+frames {
		t.Errorf("encoded %d frames for %d frames and 3 viewers, want %d", s.Encoded, frames, 1+frames)
	}
	for _, v := range viewers {
		v.Close()
	}
	eventually(t, "viewers gone", func() bool { return r.hub.Stats().Viewers[live.KindWeb] == 0 })
	before := r.hub.Stats().Encoded
	for i := range 5 {
		r.push(capturetest.YUYV(64, 48, colourN(i)))
	}
	// A viewer must see the hub's state after those frames: its fast
	// start encodes the newest frame only.
	v := r.subscribe(live.KindWeb)
	next(t, v)
	if s := r.hub.Stats(); s.Encoded != before+1 {
		t.Errorf("no viewer for 5 frames then one: encoded %d more, want 1", s.Encoded-before)
	}
}

func TestSlowViewer(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{})
	slow := r.subscribe(live.KindMJPEG) // never reads
	fast := r.subscribe(live.KindWeb)
	const frames = 40
	for i := 1; i <= frames; i++ {
		r.push(jpegN(i % 6))
		if f := next(t, fast); f.Seq != uint64(i) {
			t.Fatalf("fast viewer: seq %d, want %d", f.Seq, i)
		}
	}
	if st := r.cam.Status(); st.Frames != frames {
		t.Errorf("camera frames %d, want %d", st.Frames, frames)
	}
	if n, d := slow.Queued(), slow.Dropped(); n != 2 || d != frames-2 {
		t.Errorf("slow viewer: %d queued, %d dropped; want 2, %d", n, d, frames-2)
	}
	if d := fast.Dropped(); d != 0 {
		t.Errorf("fast viewer dropped %d", d)
	}
	for _, want := range []uint64{frames - 1, frames} {
		if f := next(t, slow); f.Seq != want {
			t.Errorf("slow viewer: seq %d, want %d (the newest)", f.Seq, want)
		}
	}
	s := r.hub.Stats()
	if s.Dropped != frames-2 || s.Delivered != 2*frames {
		t.Errorf("stats: dropped %d delivered %d; want %d, %d", s.Dropped, s.Delivered, frames-2, 2*frames)
	}
}

func TestPrivacy(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{})
	r.push(jpegN(1))
	v := r.subscribe(live.KindRTSP)
	if v.Queued() != 1 {
		t.Fatal("no fast start frame")
	}
	r.hub.SetPrivate(true)
	// Queued frames are not shown any more.
	if _, err := v.Next(context.Background()); !errors.Is(err, live.ErrPrivate) {
		t.Fatalf("Next in privacy mode: %v, want ErrPrivate", err)
	}
	if _, err := r.hub.Subscribe(live.KindWeb); !errors.Is(err, live.ErrPrivate) {
		t.Errorf("Subscribe in privacy mode: %v, want ErrPrivate", err)
	}
	if _, err := r.hub.Info(); !errors.Is(err, live.ErrPrivate) {
		t.Errorf("Info in privacy mode: %v, want ErrPrivate", err)
	}
	if _, err := r.hub.Latest(); !errors.Is(err, live.ErrPrivate) {
		t.Errorf("Latest in privacy mode: %v, want ErrPrivate", err)
	}
	r.push(jpegN(2))
	if _, err := v.Next(context.Background()); !errors.Is(err, live.ErrPrivate) {
		t.Errorf("Next after a frame in privacy mode: %v, want ErrPrivate", err)
	}
	if s := r.hub.Stats(); s.Viewers[live.KindRTSP] != 0 {
		t.Errorf("viewers in privacy mode: %v", s.Viewers)
	}

	r.hub.SetPrivate(false)
	v = r.subscribe(live.KindWeb)
	if f := next(t, v); f.Seq != 2 {
		t.Errorf("after privacy: seq %d, want 2", f.Seq)
	}
}

func TestFormatChange(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{})
	r.push(jpegN(1))
	v := r.subscribe(live.KindWeb)
	next(t, v)

	big := capture.Format{PixelFormat: capture.PixMJPEG, Width: 128, Height: 96, FPS: 10}
	r.src.setFormat(big)
	r.src.Fail(errDev)
	// Camera's retry timer and the hub's grace timer.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.clk.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("timers: %v", err)
	}
	r.clk.Advance(time.Second) // the camera restarts, within the grace time
	r.waitStarted()
	if err := nextErr(t, v); !errors.Is(err, live.ErrFormatChanged) {
		t.Fatalf("after a format change: %v, want ErrFormatChanged", err)
	}
	v = r.subscribe(live.KindWeb)
	if info := v.Info(); info.Width != 128 || info.Height != 96 || info.Codec != live.JPEG {
		t.Errorf("new viewer's info %+v, want 128x96 jpeg", info)
	}
	r.push(capturetest.JPEG(128, 96, colourN(1)))
	if f := next(t, v); f.Width != 128 {
		t.Errorf("frame width %d, want 128", f.Width)
	}
}

func TestCameraRestartSameFormat(t *testing.T) {
	r := newRig(t, h264, rigOpts{})
	r.push(keyAU(1))
	v := r.subscribe(live.KindRTSP)
	next(t, v)
	r.src.Fail(errDev)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.clk.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("timers: %v", err)
	}
	r.clk.Advance(time.Second)
	r.waitStarted()
	// The stream goes on, from the next keyframe.
	eventually(t, "hub sees the restart", func() bool {
		r.push(deltaAU(2))
		return v.Dropped() > 0
	})
	r.push(keyAU(3))
	r.push(deltaAU(4))
	// Units delivered before the hub saw the restart may come first.
	f := next(t, v)
	for auNum(f) == 2 && !f.Key {
		f = next(t, v)
	}
	if auNum(f) != 3 || !f.Key {
		t.Errorf("after a restart: unit %d (key %v), want keyframe 3", auNum(f), f.Key)
	}
	if f := next(t, v); auNum(f) != 4 {
		t.Errorf("then unit %d, want 4", auNum(f))
	}
}

func TestCameraGone(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{hub: live.Options{Grace: 3 * time.Second}})
	r.push(jpegN(1))
	v := r.subscribe(live.KindWeb)
	next(t, v)
	r.src.SetOpenError(errDev)
	r.src.Fail(errDev)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.clk.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("timers: %v", err)
	}
	if v.Queued() != 0 {
		t.Fatal("frame queued while the camera is down")
	}
	r.clk.Advance(3 * time.Second)
	if err := nextErr(t, v); !errors.Is(err, live.ErrNoCamera) {
		t.Fatalf("camera gone: %v, want ErrNoCamera", err)
	}
	if _, err := r.hub.Subscribe(live.KindWeb); !errors.Is(err, live.ErrNoCamera) {
		t.Errorf("Subscribe without camera: %v, want ErrNoCamera", err)
	}
	if _, err := r.hub.Info(); !errors.Is(err, live.ErrNoCamera) {
		t.Errorf("Info without camera: %v, want ErrNoCamera", err)
	}
}

func TestHubStops(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{})
	v := r.subscribe(live.KindWeb)
	r.cancelHub()
	if err := nextErr(t, v); !errors.Is(err, live.ErrClosed) {
		t.Fatalf("hub stopped: %v, want ErrClosed", err)
	}
	if _, err := r.hub.Subscribe(live.KindWeb); !errors.Is(err, live.ErrClosed) {
		t.Errorf("Subscribe after Run: %v, want ErrClosed", err)
	}
}

func TestViewerClose(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{})
	v := r.subscribe(live.KindMJPEG)
	w := r.subscribe(live.KindMJPEG)
	if n := r.hub.Stats().Viewers[live.KindMJPEG]; n != 2 {
		t.Fatalf("viewers %d, want 2", n)
	}
	done := make(chan error, 1)
	go func() { _, err := v.Next(context.Background()); done <- err }()
	v.Close()
	v.Close()
	select {
	case err := <-done:
		if !errors.Is(err, live.ErrClosed) {
			t.Errorf("Next after Close: %v, want ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not end a waiting Next")
	}
	if n := r.hub.Stats().Viewers[live.KindMJPEG]; n != 1 {
		t.Errorf("viewers after Close %d, want 1", n)
	}
	r.push(jpegN(1))
	if f := next(t, w); f.Seq != 1 {
		t.Errorf("other viewer: seq %d", f.Seq)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a done context: %v", err)
	}
}

func TestSubscribeBadKind(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{})
	_, err := r.hub.Subscribe("vnc")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`"vnc"`)) {
		t.Errorf("Subscribe(vnc): %v, want an error naming the kind", err)
	}
}

func TestLatest(t *testing.T) {
	r := newRig(t, yuyv, rigOpts{})
	if _, err := r.hub.Latest(); !errors.Is(err, live.ErrNoCamera) {
		t.Errorf("Latest with no frame: %v, want ErrNoCamera", err)
	}
	at := r.push(capturetest.YUYV(64, 48, colourN(2)))
	f, err := r.hub.Latest()
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if !f.At.Equal(at) || f.Codec != live.JPEG {
		t.Errorf("Latest: at %v codec %s", f.At, f.Codec)
	}
	if _, err := jpeg.Decode(bytes.NewReader(f.Data)); err != nil {
		t.Errorf("Latest: decode: %v", err)
	}
	if g, _ := r.hub.Latest(); g != f || r.hub.Stats().Encoded != 1 {
		t.Errorf("Latest twice: encoded %d times", r.hub.Stats().Encoded)
	}
	r.clk.Advance(3 * time.Second)
	if _, err := r.hub.Latest(); !errors.Is(err, live.ErrNoCamera) {
		t.Errorf("Latest with a stale frame: %v, want ErrNoCamera", err)
	}
}
