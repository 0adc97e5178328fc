package simcam

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
)

var t0 = time.Date(2025, 6, 1, 12, 34, 56, 789_000_000, time.UTC)

type frame struct {
	data []byte
	at   time.Time
}

// stream runs cam.Stream until the test ends and returns its format and
// frames (copied, as push must not retain them).
func stream(t *testing.T, cam *Cam) (capture.Format, <-chan frame) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	formats := make(chan capture.Format, 1)
	frames := make(chan frame, 100)
	done := make(chan error, 1)
	go func() {
		done <- cam.Stream(ctx, func(f capture.Format) { formats <- f }, func(b []byte, at time.Time) {
			frames <- frame{bytes.Clone(b), at}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Stream returned %v, want nil", err)
		}
	})
	select {
	case f := <-formats:
		return f, frames
	case err := <-done:
		t.Fatalf("Stream: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Stream did not start")
	}
	return capture.Format{}, nil
}

func next(t *testing.T, clk *clockwork.FakeClock, frames <-chan frame, d time.Duration) frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal("no ticker")
	}
	clk.Advance(d)
	select {
	case f := <-frames:
		return f
	case <-ctx.Done():
		t.Fatal("no frame")
		return frame{}
	}
}

func TestFrames(t *testing.T) {
	tests := []struct {
		w, h, fps int
	}{
		{640, 480, 15},
		{320, 240, 10},
		{1280, 720, 30},
		{16, 16, 1},
	}
	for _, tt := range tests {
		clk := clockwork.NewFakeClockAt(t0)
		cam := New(tt.w, tt.h, tt.fps, clk)
		f, frames := stream(t, cam)
		want := capture.Format{PixelFormat: capture.PixMJPEG, Width: tt.w, Height: tt.h, FPS: float64(tt.fps)}
		if f != want {
			t.Errorf("format %v, want %v", f, want)
		}
		interval := time.Second / time.Duration(tt.fps)
		var prev frame
		for i := 1; i <= 3; i++ {
			fr := next(t, clk, frames, interval)
			if want := t0.Add(time.Duration(i) * interval); !fr.at.Equal(want) {
				t.Errorf("%dx%d frame %d at %v, want %v", tt.w, tt.h, i, fr.at, want)
			}
			img, err := jpeg.Decode(bytes.NewReader(fr.data))
			if err != nil {
				t.Fatalf("%dx%d frame %d: %v", tt.w, tt.h, i, err)
			}
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Errorf("frame %d is %v, want %dx%d", i, b, tt.w, tt.h)
			}
			if prev.data != nil && bytes.Equal(prev.data, fr.data) {
				t.Errorf("%dx%d: frames %d and %d are identical", tt.w, tt.h, i-1, i)
			}
			prev = fr
		}
	}
}

// TestFramesShowTime checks that frames 1ms apart differ where the clock
// is drawn, and that the pattern scrolls.
func TestFramesShowTime(t *testing.T) {
	cam := New(640, 480, 10, nil)
	cam.prepare()
	decode := func(at time.Time) image.Image {
		b, err := cam.render(at)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	a := decode(t0)
	b := decode(t0.Add(time.Millisecond)) // only the last digit (and counter) change
	c := decode(t0.Add(time.Second))      // the bars have moved
	if diff(a, b, image.Rect(0, 250, 640, 300)) == 0 {
		t.Error("clock row unchanged after 1ms")
	}
	if diff(a, b, image.Rect(0, 0, 640, 100)) != 0 {
		t.Error("bars moved within 1ms")
	}
	if diff(a, c, image.Rect(0, 0, 640, 100)) == 0 {
		t.Error("bars did not scroll in 1s")
	}
}

func diff(a, b image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				n++
			}
		}
	}
	return n
}

func TestAppendClock(t *testing.T) {
	for _, at := range []time.Time{t0, t0.Add(time.Hour * 12), time.Date(2025, 1, 1, 0, 0, 0, 5_000_000, time.UTC)} {
		if got, want := string(appendClock(nil, at)), at.Format("15:04:05.000"); got != want {
			t.Errorf("appendClock = %q, want %q", got, want)
		}
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name      string
		w, h, fps int
	}{
		{"odd width", 641, 480, 10},
		{"tiny", 8, 8, 10},
		{"zero fps", 640, 480, 0},
		{"huge", 100000, 480, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(tt.w, tt.h, tt.fps, nil).Stream(context.Background(), func(capture.Format) {
				t.Error("started called")
			}, func([]byte, time.Time) {})
			if !errors.Is(err, ErrBadConfig) {
				t.Errorf("err = %v, want ErrBadConfig", err)
			}
		})
	}
}

// BenchmarkRender measures the cost of one 640x480 frame (draw + encode).
func BenchmarkRender(b *testing.B) {
	cam := New(640, 480, 15, nil)
	cam.prepare()
	at := t0
	b.ReportAllocs()
	var n int
	for i := 0; i < b.N; i++ {
		at = at.Add(66 * time.Millisecond)
		data, err := cam.render(at)
		if err != nil {
			b.Fatal(err)
		}
		n += len(data)
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/frame")
}
