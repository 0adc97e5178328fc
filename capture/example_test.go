package capture_test

import (
	"context"
	"fmt"
	"image/color"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/capturetest"
)

func ExampleRing() {
	ring := capture.NewRing(1 << 20) // 1 MiB, allocated once
	f := capture.Format{PixelFormat: capture.PixMJPEG, Width: 640, Height: 480, FPS: 10}
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		ring.Push([]byte{0xff, 0xd8, byte(i)}, t0.Add(time.Duration(i)*100*time.Millisecond), f)
	}
	fr, _ := ring.Nearest(t0.Add(260 * time.Millisecond))
	fmt.Println("nearest:", fr.Seq, fr.At.Format("15:04:05.000"), fr.Format)
	oldest, newest, n := ring.Span()
	fmt.Println("span:", oldest.Format("05.000"), newest.Format("05.000"), n)
	fmt.Println("clip:", len(ring.Frames(t0.Add(100*time.Millisecond), t0.Add(300*time.Millisecond))), "frames")
	// Output:
	// nearest: 4 12:00:00.300 MJPG 640x480@10fps
	// span: 00.000 00.400 5
	// clip: 3 frames
}

func ExampleCamera() {
	src := capturetest.New(capture.Format{PixelFormat: capture.PixMJPEG, Width: 64, Height: 48, FPS: 15})
	cam := capture.New(src, capture.NewRing(8<<20), capture.Options{})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- cam.Run(ctx) }()

	<-src.Started()
	now := time.Now()
	src.Push(capturetest.JPEG(64, 48, color.White), now) // the driver delivers a frame

	snap, err := cam.Snapshot(ctx, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("snapshot:", snap.Format, "jpeg:", snap.JPEG[0] == 0xff && snap.JPEG[1] == 0xd8)
	st := cam.Status()
	fmt.Println("available:", st.Available, "frames:", st.Frames)

	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// snapshot: MJPG 64x48@15fps jpeg: true
	// available: true frames: 1
	// run: <nil>
}
