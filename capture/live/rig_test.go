package live_test

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/capturetest"
	"github.com/doorbelld/doorbelld/capture/live"
)

// wait is the generous deadline of every wait for a condition.
const wait = 20 * time.Second

var (
	start  = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mjpg   = capture.Format{PixelFormat: capture.PixMJPEG, Width: 64, Height: 48, FPS: 10}
	yuyv   = capture.Format{PixelFormat: capture.PixYUYV, Width: 64, Height: 48, FPS: 10}
	h264   = capture.Format{PixelFormat: capture.PixH264, Width: 64, Height: 48, FPS: 10}
	errDev = errors.New("unplugged")
)

// source is a capturetest.Source whose format can change between streams.
type source struct {
	*capturetest.Source
	mu sync.Mutex
	f  capture.Format
}

func (s *source) setFormat(f capture.Format) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
}

func (s *source) Stream(ctx context.Context, started func(capture.Format), push func([]byte, time.Time)) error {
	return s.Source.Stream(ctx, func(capture.Format) {
		s.mu.Lock()
		f := s.f
		s.mu.Unlock()
		started(f)
	}, push)
}

// rig is a real capture.Camera and Ring fed by a fake source, and a hub,
// on a fake clock.
type rig struct {
	t   *testing.T
	clk *clockwork.FakeClock
	src *source
	cam *capture.Camera
	hub *live.Hub
	ctx context.Context

	cancelHub context.CancelFunc
	hubDone   chan error
}

type rigOpts struct {
	ring     *capture.Ring // default 4 MiB
	hub      live.Options
	noHubRun bool  // start the hub later, with startHub
	noStart  bool  // do not wait for the stream to start
	openErr  error // the source fails to open: no camera
}

func newRig(t *testing.T, f capture.Format, o rigOpts) *rig {
	t.Helper()
	clk := clockwork.NewFakeClockAt(start)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.ring == nil {
		o.ring = capture.NewRing(4 << 20)
	}
	r := &rig{t: t, clk: clk, src: &source{Source: capturetest.New(f), f: f}}
	r.src.SetOpenError(o.openErr)
	r.cam = capture.New(r.src, o.ring, capture.Options{Clock: clk, Logger: log, MinBackoff: time.Second, MaxBackoff: time.Second})
	o.hub.Clock, o.hub.Logger = clk, log
	r.hub = live.New(r.cam, o.hub)
	ctx, cancel := context.WithCancel(context.Background())
	r.ctx = ctx
	camDone := make(chan error, 1)
	go func() { camDone <- r.cam.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, ch := range []chan error{camDone, r.hubDone} {
			if ch == nil {
				continue
			}
			select {
			case err := <-ch:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(wait):
				t.Error("Run did not return after cancel")
			}
		}
	})
	if !o.noStart {
		r.waitStarted()
	}
	if !o.noHubRun {
		r.startHub()
	}
	return r
}

func (r *rig) startHub() {
	ctx, cancel := context.WithCancel(r.ctx)
	r.cancelHub = cancel
	r.hubDone = make(chan error, 1)
	go func() { r.hubDone <- r.hub.Run(ctx) }()
}

func (r *rig) waitStarted() {
	r.t.Helper()
	select {
	case <-r.src.Started():
	case <-time.After(wait):
		r.t.Fatal("stream did not start")
	}
	eventually(r.t, "camera available", func() bool { return r.cam.Status().Available })
}

// push stores one frame taken now (on the fake clock) and returns its time.
func (r *rig) push(data []byte) time.Time {
	at := r.clk.Now()
	r.src.Push(data, at)
	return at
}

func (r *rig) subscribe(kind string) *live.Viewer {
	r.t.Helper()
	v, err := r.hub.Subscribe(kind)
	if err != nil {
		r.t.Fatalf("Subscribe(%q): %v", kind, err)
	}
	r.t.Cleanup(v.Close)
	return v
}

// next returns v's next frame, failing the test if none comes in time.
func next(t *testing.T, v *live.Viewer) *live.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	f, err := v.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return f
}

// nextErr waits for v's stream to end and returns why.
func nextErr(t *testing.T, v *live.Viewer) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, err := v.Next(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("stream did not end")
		}
		if err != nil {
			return err
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// jpegN returns a small JPEG whose colour encodes n.
func jpegN(n int) []byte {
	return capturetest.JPEG(64, 48, color.RGBA{uint8(n * 40), uint8(255 - n*40), uint8(n * 7), 255})
}

// Hand-made H.264 access units: real NAL headers, dummy payloads. The
// payload's last byte is the unit's number, so tests can tell them apart.
var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x01}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

func keyAU(n byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0, 1, 0x09, 0xf0}) // access unit delimiter
	b.Write([]byte{0, 0, 0, 1})
	b.Write(testSPS)
	b.Write([]byte{0, 0, 0, 1})
	b.Write(testPPS)
	b.Write([]byte{0, 0, 1, 0x65, 0x88, 0x84, 0x21, n})
	return b.Bytes()
}

func deltaAU(n byte) []byte {
	return []byte{0, 0, 0, 1, 0x41, 0x9a, 0x02, n}
}

// auNum returns the number a hand-made unit carries.
func auNum(f *live.Frame) byte { return f.Data[len(f.Data)-1] }

func colourN(n int) color.Color {
	return color.RGBA{uint8(n * 40), uint8(255 - n*30), uint8(n * 70), 255}
}
