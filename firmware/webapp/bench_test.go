package webapp

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture/cliptest"
)

// connWriter is a minimal http.ResponseWriter on a TCP connection.
type connWriter struct {
	c net.Conn
	h http.Header
}

func (w *connWriter) Header() http.Header         { return w.h }
func (w *connWriter) WriteHeader(int)             {}
func (w *connWriter) Write(p []byte) (int, error) { return w.c.Write(p) }
func (w *connWriter) Flush()                      {}

// loopback returns a TCP connection whose far end is drained.
func loopback(b *testing.B) net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkPlayback measures serving a 45-frame MJPEG clip (demux the MP4,
// write every frame as a multipart part, pacing turned off) against
// writing the same JPEG bytes to the same socket, frame by frame.
// x_baseline is the ratio of the two.
func BenchmarkPlayback(b *testing.B) {
	_, mp4 := muxClip(b, "bench", cliptest.Frames(mjpegFormat, 45, t0))
	cf, err := demux(bytes.NewReader(mp4))
	if err != nil {
		b.Fatal(err)
	}
	var jpegs [][]byte
	for i := range cf.durations {
		p, _ := cf.payload(i)
		jpegs = append(jpegs, p)
	}
	conn := loopback(b)
	// Pacing compares each frame's due time with the clock: a clock whose
	// Since is always a day never waits, so this measures the work alone.
	a := &app{opts: Options{StallTimeout: 1}, clk: &aheadClock{clockwork.NewFakeClock()}}
	w := &connWriter{c: conn, h: http.Header{}}

	b.SetBytes(int64(len(mp4)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		cf, err := demux(bytes.NewReader(mp4))
		if err != nil {
			b.Fatal(err)
		}
		if err := a.streamFrames(context.Background(), w, cf); err != nil {
			b.Fatal(err)
		}
		n++
	}
	elapsed := b.Elapsed()
	// Baseline, same run, same socket, same number of clips: the JPEG
	// bytes written raw, one write per frame.
	start := time.Now()
	for range n {
		for _, p := range jpegs {
			if _, err := conn.Write(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(elapsed)/float64(time.Since(start)), "x_baseline")
}

// aheadClock's Since is always a day: every frame is due already.
type aheadClock struct{ *clockwork.FakeClock }

func (c *aheadClock) Since(time.Time) time.Duration { return 24 * time.Hour }
