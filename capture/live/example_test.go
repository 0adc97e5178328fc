package live_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/capturetest"
	"github.com/doorbelld/doorbelld/capture/live"
)

func Example() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	src := capturetest.New(capture.Format{PixelFormat: capture.PixMJPEG, Width: 64, Height: 48, FPS: 10})
	cam := capture.New(src, capture.NewRing(1<<20), capture.Options{Logger: log})
	hub := live.New(cam, live.Options{Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cam.Run(ctx)
	go hub.Run(ctx)
	<-src.Started()
	for !cam.Status().Available {
		time.Sleep(time.Millisecond)
	}

	v, err := hub.Subscribe(live.KindWeb)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	src.Push(jpegN(1), time.Now())
	f, err := v.Next(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Codec, f.Width, f.Height, f.Key)

	hub.SetPrivate(true)
	_, err = v.Next(ctx)
	fmt.Println(err)
	// Output:
	// jpeg 64 48 true
	// live: privacy mode is on: the camera is not shown
}
