package live_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/capturetest"
	"github.com/doorbelld/doorbelld/capture/live"
)

var vga = capture.Format{PixelFormat: capture.PixMJPEG, Width: 640, Height: 480, FPS: 30}

// vgaJPEG is a 640x480 JPEG of about 42 KB, like a camera's MJPEG frame of
// a textured scene.
var vgaJPEG = sync.OnceValue(func() []byte {
	img := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range 480 {
		for x := range 640 {
			img.Y[y*img.YStride+x] = uint8((x*255/640+y/4)%200 + rng.IntN(12))
		}
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(100+i%50), uint8(140-i%40)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(err)
	}
	return b.Bytes()
})

// benchRig runs a real camera (fake source, real clock) and a hub.
func benchRig(b *testing.B, f capture.Format) (*capturetest.Source, *live.Hub) {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	src := capturetest.New(f)
	cam := capture.New(src, capture.NewRing(32<<20), capture.Options{Logger: log})
	hub := live.New(cam, live.Options{Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); cam.Run(ctx) }()
	go func() { defer wg.Done(); hub.Run(ctx) }()
	b.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-src.Started():
	case <-time.After(wait):
		b.Fatal("stream did not start")
	}
	for !cam.Status().Available {
		time.Sleep(time.Millisecond)
	}
	return src, hub
}

// progress tracks what each of n consumers has seen, so the producer can
// keep them busy without running ahead (frames skipped) or waiting for
// one frame at a time (latency bound).
type progress struct {
	last  []atomic.Int64 // capture time (UnixNano) of the newest frame seen, per consumer
	got   atomic.Int64   // frames received, all consumers
	moved chan struct{}
}

func newProgress(n int) *progress {
	return &progress{last: make([]atomic.Int64, n), moved: make(chan struct{}, 1)}
}

func (p *progress) saw(i int, at time.Time) {
	p.last[i].Store(at.UnixNano())
	p.got.Add(1)
	select {
	case p.moved <- struct{}{}:
	default:
	}
}

// waitAll waits until every consumer has seen the frame taken at `at`.
func (p *progress) waitAll(b *testing.B, at time.Time) {
	deadline := time.Now().Add(wait)
	for i := range p.last {
		for p.last[i].Load() < at.UnixNano() {
			select {
			case <-p.moved:
			case <-time.After(time.Until(deadline)):
				b.Fatalf("consumer %d stuck", i)
			}
		}
	}
}

// pump pushes n frames, each once every consumer has seen the one before
// it (one frame in flight), and returns how long it took.
func (p *progress) pump(b *testing.B, src *capturetest.Source, data []byte, n int) time.Duration {
	begin := time.Now()
	var prev time.Time
	for i := range n {
		at := time.Now().Truncate(time.Microsecond) // X-Timestamp has µs
		src.Push(data, at)
		if i > 0 {
			p.waitAll(b, prev)
		}
		prev = at
	}
	p.waitAll(b, prev)
	return time.Since(begin)
}

// socketCopyNs is the baseline: ns to write data once to a loopback TCP
// socket that another goroutine drains.
func socketCopyNs(b *testing.B, data []byte, n int) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	begin := time.Now()
	for range n {
		if _, err := c.Write(data); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	<-done // every byte read, as the viewers read theirs
	return float64(time.Since(begin).Nanoseconds()) / float64(n)
}

// mjpegClient reads the stream at url, calling part for each frame.
func mjpegClient(ctx context.Context, url string, part func(body []byte, at time.Time) error) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET: %s", resp.Status)
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var buf bytes.Buffer
	for {
		p, err := mr.NextPart()
		if err != nil {
			return err
		}
		buf.Reset()
		if _, err := buf.ReadFrom(p); err != nil {
			return err
		}
		at, err := parseTimestamp(p.Header.Get("X-Timestamp"))
		if err != nil {
			return err
		}
		if err := part(buf.Bytes(), at); err != nil {
			return err
		}
	}
}

func parseTimestamp(ts string) (time.Time, error) {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("X-Timestamp %q: %w", ts, err)
	}
	us, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("X-Timestamp %q: %w", ts, err)
	}
	return time.Unix(s, us*1000), nil
}

// startClients connects n MJPEG clients and waits until each has its
// fast-start frame.
func startClients(b *testing.B, hub *live.Hub, src *capturetest.Source, n int, part func(i int, body []byte, at time.Time) error) *progress {
	srv := httptest.NewServer(live.MJPEG(hub, live.MJPEGOptions{}))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait(); srv.Close() })
	p := newProgress(n)
	first := time.Now().Truncate(time.Microsecond)
	src.Push(vgaJPEG(), first)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := mjpegClient(ctx, srv.URL, func(body []byte, at time.Time) error {
				if part != nil {
					if err := part(i, body, at); err != nil {
						return err
					}
				}
				p.saw(i, at)
				return nil
			})
			if ctx.Err() == nil {
				b.Errorf("client %d: %v", i, err)
			}
		}()
	}
	p.waitAll(b, first)
	p.got.Store(0)
	return p
}

// BenchmarkMJPEGViewers is the cost of one viewer-frame of a 640x480
// stream through the hub, the handler and real HTTP over loopback, as a
// multiple of writing the same bytes to a loopback TCP socket.
func BenchmarkMJPEGViewers(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			src, hub := benchRig(b, vga)
			p := startClients(b, hub, src, n, nil)
			data := vgaJPEG()
			b.SetBytes(int64(len(data) * n))
			b.ReportAllocs()
			b.ResetTimer()
			elapsed := p.pump(b, src, data, b.N)
			b.StopTimer()
			got := p.got.Load()
			perVF := float64(elapsed.Nanoseconds()) / float64(got)
			base := socketCopyNs(b, data, int(max(got, 200)))
			b.ReportMetric(perVF, "ns/viewer-frame")
			b.ReportMetric(perVF/base, "x-socket-copy")
			b.ReportMetric(float64(got)/float64(b.N*n), "delivered/sent")
		})
	}
}

// BenchmarkMJPEGLatency is the time from capture to a client having
// decoded the JPEG, one frame in flight.
func BenchmarkMJPEGLatency(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			src, hub := benchRig(b, vga)
			var mu sync.Mutex
			var lat []time.Duration
			measure := atomic.Bool{}
			p := startClients(b, hub, src, n, func(i int, body []byte, at time.Time) error {
				if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
					return err
				}
				d := time.Since(at)
				if measure.Load() {
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
				return nil
			})
			measure.Store(true)
			b.ResetTimer()
			for range b.N {
				at := time.Now().Truncate(time.Microsecond) // X-Timestamp has µs
				src.Push(vgaJPEG(), at)
				p.waitAll(b, at)
			}
			b.StopTimer()
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(lat)
			if len(lat) == 0 {
				return
			}
			q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(q(0.5), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
		})
	}
}

// BenchmarkHubFanout is the hub alone: one viewer-frame handed from the
// camera to a viewer's Next, as a multiple of copying the frame once.
func BenchmarkHubFanout(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			src, hub := benchRig(b, vga)
			p := newProgress(n)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			b.Cleanup(func() { cancel(); wg.Wait() })
			for i := range n {
				v, err := hub.Subscribe(live.KindRTSP)
				if err != nil {
					b.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer v.Close()
					for {
						f, err := v.Next(ctx)
						if err != nil {
							return
						}
						p.saw(i, f.At)
					}
				}()
			}
			data := vgaJPEG()
			b.ReportAllocs()
			b.ResetTimer()
			elapsed := p.pump(b, src, data, b.N)
			b.StopTimer()
			got := p.got.Load()
			perVF := float64(elapsed.Nanoseconds()) / float64(got)
			dst := make([]byte, len(data))
			const copies = 2000
			begin := time.Now()
			for range copies {
				copy(dst, data)
			}
			base := float64(time.Since(begin).Nanoseconds()) / copies
			b.ReportMetric(perVF, "ns/viewer-frame")
			b.ReportMetric(perVF/base, "x-memcpy")
			b.ReportMetric(float64(got)/float64(b.N*n), "delivered/sent")
		})
	}
}
