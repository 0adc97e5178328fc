//go:build hil && linux && cgo

// Hardware-in-the-loop tests: they need a real V4L2 capture device (a
// camera, or the vivid driver in an emulated machine). Run with
//
//	go test -tags hil ./capture/v4l2src -device /dev/video0
package v4l2src

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image/jpeg"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

var (
	hilDevice = flag.String("device", "/dev/video0", "V4L2 capture device to test")
	hilWidth  = flag.Int("width", 640, "frame width to ask for")
	hilHeight = flag.Int("height", 480, "frame height to ask for")
	hilFPS    = flag.Int("fps", 30, "frame rate to ask for")
)

func hilOptions(format string) Options {
	return Options{
		Width: *hilWidth, Height: *hilHeight, FPS: *hilFPS, Format: format,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

type hilFrame struct {
	n  int
	at time.Time
	rx time.Time
}

// hilStream streams n frames and returns the format and frame metadata.
func hilStream(t *testing.T, src *Source, n int) (capture.Format, []hilFrame) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var (
		f      capture.Format
		frames []hilFrame
	)
	err := src.Stream(ctx, func(got capture.Format) { f = got }, func(b []byte, at time.Time) {
		frames = append(frames, hilFrame{len(b), at, time.Now()})
		if len(frames) == n {
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if len(frames) < n {
		t.Fatalf("got %d frames, want %d", len(frames), n)
	}
	return f, frames
}

func TestHILStream(t *testing.T) {
	f, frames := hilStream(t, New(*hilDevice, hilOptions("auto")), 30)
	t.Logf("format %s", f)
	if f.Width <= 0 || f.Height <= 0 || f.FPS <= 0 {
		t.Errorf("format %v incomplete", f)
	}
	var intervals []time.Duration
	for i, fr := range frames {
		if f.PixelFormat == capture.PixYUYV && fr.n != f.Width*f.Height*2 {
			t.Errorf("frame %d: %d bytes, want %d", i, fr.n, f.Width*f.Height*2)
		}
		if lag := fr.rx.Sub(fr.at); lag < 0 || lag > time.Second {
			t.Errorf("frame %d: stamped %v before delivery, want 0..1s", i, lag)
		}
		if i > 0 {
			d := fr.at.Sub(frames[i-1].at)
			if d <= 0 {
				t.Errorf("frame %d: stamped %v after the previous", i, d)
			}
			intervals = append(intervals, d)
		}
	}
	// The first frames after STREAMON may come early; judge the median.
	slices.Sort(intervals)
	med := intervals[len(intervals)/2]
	if want := f.Interval(); med < want*2/3 || med > want*3/2 {
		t.Errorf("median frame interval %v, want about %v", med, want)
	}
	t.Logf("frame intervals: min %v median %v max %v", intervals[0], med, intervals[len(intervals)-1])
	t.Logf("first lag %v, last lag %v", frames[0].rx.Sub(frames[0].at), frames[len(frames)-1].rx.Sub(frames[len(frames)-1].at))
}

func TestHILMJPEGFallsBack(t *testing.T) {
	f, _ := hilStream(t, New(*hilDevice, hilOptions("mjpeg")), 3)
	if f.PixelFormat != capture.PixMJPEG && f.PixelFormat != capture.PixYUYV {
		t.Errorf("format %v", f)
	}
}

// TestHILReopen opens and closes the device repeatedly, reading 3 frames
// each time, and checks that no file descriptor leaks (Camera reopens
// after every failure).
func TestHILReopen(t *testing.T) {
	src := New(*hilDevice, hilOptions("auto"))
	hilStream(t, src, 2)
	before := openFDs(t)
	for i := 0; i < 20; i++ {
		start := time.Now()
		_, frames := hilStream(t, src, 3)
		t.Logf("stream %d: %d frames in %v", i, len(frames), time.Since(start))
	}
	if after := openFDs(t); after > before {
		t.Errorf("open fds %d -> %d after 5 streams", before, after)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestHILCameraSnapshot(t *testing.T) {
	cam := capture.New(New(*hilDevice, hilOptions("auto")), capture.NewRing(16<<20), capture.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cam.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for cam.Status().Frames < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("no frames: %+v", cam.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	at := time.Now()
	snap, err := cam.Snapshot(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	st := cam.Status()
	if skew := snap.At.Sub(at).Abs(); skew > st.Format.Interval() {
		t.Errorf("snapshot %v away from the time asked, more than one frame (%v)", skew, st.Format.Interval())
	}
	img, err := jpeg.Decode(bytes.NewReader(snap.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != st.Format.Width || b.Dy() != st.Format.Height {
		t.Errorf("snapshot %v, format %v", b, st.Format)
	}
	t.Logf("snapshot %d bytes, %v from the time asked, status %+v", len(snap.JPEG), snap.At.Sub(at), st)
}

func TestHILBadFormatOption(t *testing.T) {
	err := New(*hilDevice, hilOptions("h264")).Stream(context.Background(), func(capture.Format) {
		t.Error("started called")
	}, func([]byte, time.Time) {})
	if err == nil || errors.Is(err, ErrNotSupported) {
		t.Fatalf("err = %v", err)
	}
}
