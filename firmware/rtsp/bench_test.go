package rtsp_test

import (
	"fmt"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"

	"github.com/doorbelld/doorbelld/firmware/rtsp"
	"github.com/doorbelld/doorbelld/firmware/rtsp/rtsptest"
)

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawTCP measures the process CPU to write size bytes to each of n
// loopback sockets (and read them on the other end) frames times.
func rawTCP(b *testing.B, n, size, frames int) time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{}, n)
	var writers []net.Conn
	for i := 0; i < n; i++ {
		w, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		r, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		writers = append(writers, w)
		go func() {
			buf := make([]byte, size)
			for {
				if _, err := io.ReadFull(r, buf); err != nil {
					return
				}
				done <- struct{}{}
			}
		}()
	}
	data := make([]byte, size)
	start := cpuTime(b)
	for f := 0; f < frames; f++ {
		for _, w := range writers {
			if _, err := w.Write(data); err != nil {
				b.Fatal(err)
			}
		}
		for i := 0; i < n; i++ {
			<-done
		}
	}
	return cpuTime(b) - start
}

// BenchmarkReaders: cost per reader of a 640x480 JPEG stream to n TCP
// readers (gortsplib clients in this process, so their receive work is
// counted too, as is the reading side of the baseline), as a ratio to
// writing the same bytes to n loopback sockets; and latency from the
// frame's publication to a reader holding the complete frame.
func BenchmarkReaders(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("readers=%d", n), func(b *testing.B) {
			src := jpegSource(b)
			_, url, _ := start(b, src, accounts, func(o *rtsp.Options) { o.MaxConns, o.MaxSessions = 128, 128 })
			lat := make(chan time.Duration, n)
			var t0 atomic.Int64 // UnixNano of the frame in flight
			readers := make([]*rtsptest.Reader, n)
			for i := range readers {
				r, err := play(b, url, gortsplib.ProtocolTCP)
				if err != nil {
					b.Fatal(err)
				}
				readers[i] = r
			}
			// Warm up: every reader holds a frame.
			src.Publish()
			for _, r := range readers {
				r.Next(b, deadline)
			}
			for _, r := range readers {
				go func() {
					for {
						select {
						case <-r.Frames():
							lat <- time.Duration(time.Now().UnixNano() - t0.Load())
						case <-r.Done():
							return
						}
					}
				}()
			}
			size := len(src.Publish().Data) // the size the baseline writes
			for i := 0; i < n; i++ {
				<-lat
			}
			samples := make([]time.Duration, 0, b.N*n)
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for i := 0; i < b.N; i++ {
				t0.Store(time.Now().UnixNano())
				src.Publish()
				for j := 0; j < n; j++ {
					samples = append(samples, <-lat)
				}
			}
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			raw := rawTCP(b, n, size, b.N)
			perRTSP := float64(cpu.Nanoseconds()) / float64(b.N*n)
			perRaw := float64(raw.Nanoseconds()) / float64(b.N*n)
			slices.Sort(samples)
			b.ReportMetric(perRTSP, "cpu-ns/reader-frame")
			b.ReportMetric(perRaw, "raw-cpu-ns/reader-frame")
			b.ReportMetric(perRTSP/max(perRaw, 1), "x-raw-tcp")
			b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(size), "frame-bytes")
		})
	}
}

// rawLatency is the median and 99th percentile of sending size bytes
// over a loopback TCP connection until the other end has read them, n
// times.
func rawLatency(b *testing.B, size, n int) (p50, p99 time.Duration) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	w, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	r, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	got := make(chan time.Time, 1)
	go func() {
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
			got <- time.Now()
		}
	}()
	data := make([]byte, size)
	samples := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := w.Write(data); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, (<-got).Sub(t0))
	}
	slices.Sort(samples)
	return samples[len(samples)/2], samples[len(samples)*99/100]
}

// BenchmarkTalkLatency: from a back-channel RTP packet written by the
// client (20 ms of µ-law, over RTSP/TCP on loopback) to the speaker's
// Write with its decoded samples, against the same bytes sent over a
// plain loopback socket.
func BenchmarkTalkLatency(b *testing.B) {
	sp := rtsptest.NewSpeaker()
	written := make(chan time.Time, 1)
	sp.OnWrite = func([]int16) { written <- time.Now() }
	_, url, _ := start(b, jpegSource(b), accounts, func(o *rtsp.Options) { o.Talk = sp })
	tk, err := dialTalk(b, url, true, gortsplib.ProtocolTCP)
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = byte(i)
	}
	tk.send(b, 0, 0, 0, payload) // warm up
	<-written
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		t0 := time.Now()
		tk.send(b, 0, uint16(i), uint32(160*i), payload)
		samples = append(samples, (<-written).Sub(t0))
	}
	b.StopTimer()
	slices.Sort(samples)
	p50, p99 := samples[len(samples)/2], samples[len(samples)*99/100]
	raw50, raw99 := rawLatency(b, 4+12+160, max(b.N, 100))
	b.ReportMetric(float64(p50.Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(p99.Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(raw50.Nanoseconds())/1e3, "raw-tcp-p50-µs")
	b.ReportMetric(float64(raw99.Nanoseconds())/1e3, "raw-tcp-p99-µs")
	b.ReportMetric(float64(p50)/float64(max(raw50, 1)), "x-raw-tcp-p50")
}
