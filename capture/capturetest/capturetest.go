package capturetest

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"sync"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

// Source is a capture.Source driven by the test. Its zero value is not
// usable: call New.
type Source struct {
	format  capture.Format
	frames  chan pushed
	fails   chan error
	started chan struct{}

	mu      sync.Mutex
	openErr error
	opens   int
}

type pushed struct {
	data []byte
	at   time.Time
	done chan struct{}
}

var _ capture.Source = (*Source)(nil)

// New returns a fake source that reports format f when a stream starts.
func New(f capture.Format) *Source {
	return &Source{
		format:  f,
		frames:  make(chan pushed),
		fails:   make(chan error),
		started: make(chan struct{}, 64),
	}
}

// Stream implements capture.Source. Unless SetOpenError set an error, it
// calls started with the source's format, signals Started, then passes on
// every frame given to Push until ctx is done (nil) or Fail is called (its
// error).
func (s *Source) Stream(ctx context.Context, started func(capture.Format), push func([]byte, time.Time)) error {
	s.mu.Lock()
	s.opens++
	err := s.openErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	started(s.format)
	select {
	case s.started <- struct{}{}:
	default:
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.fails:
			return err
		case p := <-s.frames:
			push(p.data, p.at)
			close(p.done)
		}
	}
}

// Push feeds one frame taken at `at` to the running Stream and returns
// once Stream's push callback has returned. It blocks until a Stream is
// running to take it. data may be reused after Push returns.
func (s *Source) Push(data []byte, at time.Time) {
	p := pushed{data: data, at: at, done: make(chan struct{})}
	s.frames <- p
	<-p.done
}

// Fail makes the running Stream return err. It blocks until a Stream is
// running to take it.
func (s *Source) Fail(err error) {
	s.fails <- err
}

// SetOpenError makes every later Stream call return err at once, without
// calling started, as if the device were missing; nil undoes it.
func (s *Source) SetOpenError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.openErr = err
}

// Opens returns how many times Stream has been called.
func (s *Source) Opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// Started receives one value each time Stream has called started (up to 64
// unread values are kept).
func (s *Source) Started() <-chan struct{} {
	return s.started
}

// JPEG returns a w×h JPEG file filled with colour c.
func JPEG(w, h int, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic("capturetest: encode jpeg: " + err.Error())
	}
	return buf.Bytes()
}

// YUYV returns a w×h packed YUV 4:2:2 frame (capture.PixYUYV) filled with
// colour c; w must be even.
func YUYV(w, h int, c color.Color) []byte {
	r, g, b, _ := c.RGBA()
	y, cb, cr := color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(b>>8))
	out := make([]byte, 0, w*h*2)
	for i := 0; i < w*h/2; i++ {
		out = append(out, y, cb, y, cr)
	}
	return out
}
