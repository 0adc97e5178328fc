package clip_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/cliptest"
	"github.com/doorbelld/doorbelld/capture/storage"
)

func ExampleMux() {
	f := capture.Format{PixelFormat: capture.PixMJPEG, Width: 64, Height: 48, FPS: 10}
	frames := cliptest.Frames(f, 20, time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	frames[10].At = frames[10].At.Add(30 * time.Millisecond) // real capture times, jitter and all

	var mp4 bytes.Buffer
	info, err := clip.Mux(frames, &mp4)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Codec, info.Width, "x", info.Height, info.Frames, "frames", info.Duration())
	fmt.Println("ftyp:", string(mp4.Bytes()[4:8]), "bytes:", info.Size == int64(mp4.Len()))
	// Output:
	// mjpeg 64 x 48 20 frames 2s
	// ftyp: ftyp bytes: true
}

func ExampleRecorder() {
	ring := capture.NewRing(8 << 20) // filled by a capture.Camera
	store, err := storage.Open("", storage.Options{Mode: storage.ModeRAM})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := clip.New(ring, store, clip.Options{
		PreRoll:  500 * time.Millisecond,
		PostRoll: 500 * time.Millisecond,
		Merge:    true,
		Logger:   slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rec.Run(ctx)

	// Stand-in for the camera: 10 frames a second.
	f := capture.Format{PixelFormat: capture.PixMJPEG, Width: 64, Height: 48, FPS: 10}
	go func() {
		start := time.Now()
		for i := 0; ctx.Err() == nil; i++ {
			at := start.Add(time.Duration(i) * 100 * time.Millisecond)
			time.Sleep(time.Until(at))
			ring.Push(cliptest.Image(f, i), at, f)
		}
	}()
	time.Sleep(600 * time.Millisecond)

	rec.Trigger(time.Now(), "d4k9s3p2v5q8m1n0c7b6") // the bell rang
	m := <-rec.Ready()                              // about 750 ms later
	fmt.Println(m.Codec, m.EventIDs, m.Frames >= 8, m.Size > 0)
	_ = store.MarkDelivered(m.ID) // published: RAM mode frees it
	// Output:
	// mjpeg [d4k9s3p2v5q8m1n0c7b6] true true
}

func ExampleMuxAV() {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f := capture.Format{PixelFormat: capture.PixMJPEG, Width: 64, Height: 48, FPS: 10}
	frames := cliptest.Frames(f, 20, start) // 2 s of video
	// The microphone opened 500 ms late and stalled for 200 ms.
	sound := append(cliptest.AudioChunks(start.Add(500*time.Millisecond), time.Second, 20*time.Millisecond, 16000, 1, cliptest.Constant(0.1)),
		cliptest.AudioChunks(start.Add(1700*time.Millisecond), time.Second, 20*time.Millisecond, 16000, 1, cliptest.Constant(0.1))...)

	var mp4 bytes.Buffer
	info, err := clip.MuxAV(frames, sound, &mp4)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Codec, info.Duration(), "+", info.Audio, info.Audio.Duration())
	fmt.Println("silence:", time.Duration(info.Audio.Silence)*time.Second/16000)
	// Output:
	// mjpeg 2s + pcm_s16le 16000 Hz 1ch 2s
	// silence: 700ms
}
