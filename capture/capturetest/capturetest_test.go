package capturetest

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"image/jpeg"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

func TestSource(t *testing.T) {
	f := capture.Format{PixelFormat: capture.PixMJPEG, Width: 8, Height: 8, FPS: 5}
	src := New(f)
	errDev := errors.New("gone")

	src.SetOpenError(errDev)
	if err := src.Stream(context.Background(), func(capture.Format) { t.Error("started") }, nil); !errors.Is(err, errDev) {
		t.Fatalf("open error: %v", err)
	}
	src.SetOpenError(nil)

	type got struct {
		data []byte
		at   time.Time
	}
	var (
		format capture.Format
		frames []got
	)
	done := make(chan error, 1)
	go func() {
		done <- src.Stream(context.Background(), func(f capture.Format) { format = f }, func(b []byte, at time.Time) {
			frames = append(frames, got{bytes.Clone(b), at})
		})
	}()
	<-src.Started()
	at := time.Unix(100, 0)
	src.Push([]byte{1, 2}, at)
	src.Push([]byte{3}, at.Add(time.Second))
	src.Fail(errDev)
	if err := <-done; !errors.Is(err, errDev) {
		t.Fatalf("Stream returned %v", err)
	}
	if format != f || len(frames) != 2 || !bytes.Equal(frames[1].data, []byte{3}) || !frames[1].at.Equal(at.Add(time.Second)) {
		t.Errorf("format %v frames %v", format, frames)
	}
	if n := src.Opens(); n != 2 {
		t.Errorf("Opens = %d", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := src.Stream(ctx, func(capture.Format) {}, nil); err != nil {
		t.Errorf("Stream after cancel = %v, want nil", err)
	}
}

func TestHelpers(t *testing.T) {
	img, err := jpeg.Decode(bytes.NewReader(JPEG(40, 30, color.White)))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 40 || b.Dy() != 30 {
		t.Errorf("JPEG size %v", b)
	}
	y := YUYV(40, 30, color.White)
	if len(y) != 40*30*2 || y[0] != 255 || y[1] != 128 {
		t.Errorf("YUYV: %d bytes, starts %v", len(y), y[:4])
	}
	if _, err := capture.YUYVImage(y, 40, 30); err != nil {
		t.Error(err)
	}
}
