package mask

import (
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

// copyNs measures copying data once, the baseline the benchmarks report
// against ("x-copy"), in the same run.
func copyNs(data []byte) float64 {
	dst := make([]byte, len(data))
	const reps = 3000
	t0 := time.Now()
	for range reps {
		copy(dst, data)
	}
	return float64(time.Since(t0).Nanoseconds()) / reps
}

// strip20 is a 20 %-area mask: the left fifth of the frame.
var strip20 = []Shape{Rect(0, 0, 0.2, 1)}

// corner20 is a 20 %-area polygon in the upper half of the frame.
var corner20 = []Shape{{Points: [][2]float64{{0.55, 0}, {1, 0}, {1, 0.45}, {0.85, 0.5}, {0.6, 0.35}}}}

func benchApply(b *testing.B, data []byte, shapes []Shape, wantFast bool) {
	m, err := New(shapes, Options{})
	if err != nil {
		b.Fatal(err)
	}
	f := capture.Format{PixelFormat: capture.PixMJPEG}
	if _, err := m.Apply(data, f); err != nil {
		b.Fatal(err)
	}
	if st := m.Stats(); wantFast != (st.Fast == 1) {
		b.Fatalf("stats %+v: fast path %v, want %v", st, st.Fast == 1, wantFast)
	}
	base := copyNs(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Apply(data, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-copy")
	b.ReportMetric(float64(len(data)), "frame-bytes")
}

func BenchmarkMaskMJPEG(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"640x480", 640, 480}, {"1280x720", 1280, 720}} {
		frame := goJPEG(b, scene(sz.w, sz.h, 42), 80)
		b.Run(sz.name+"/strip20", func(b *testing.B) { benchApply(b, frame, strip20, true) })
		b.Run(sz.name+"/corner20", func(b *testing.B) { benchApply(b, frame, corner20, true) })
		src := "testsrc2=size=" + sz.name
		restart := ffmpegJPEG(b, src, "yuvj420p", "-huffman", "default", "-q:v", "5", "-threads", "4", "-slices", "30")
		b.Run(sz.name+"/restart/strip20", func(b *testing.B) { benchApply(b, restart, strip20, true) })
		b.Run(sz.name+"/restart/corner20", func(b *testing.B) { benchApply(b, restart, corner20, true) })
		b.Run(sz.name+"/fallback", func(b *testing.B) {
			m, err := New(strip20, Options{})
			if err != nil {
				b.Fatal(err)
			}
			base := copyNs(frame)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := m.fullDecode(frame, capture.Format{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-copy")
		})
	}
}

func BenchmarkMaskYUYV(b *testing.B) {
	const w, h = 1280, 720
	data := make([]byte, w*h*2)
	m, err := New(strip20, Options{})
	if err != nil {
		b.Fatal(err)
	}
	f := capture.Format{PixelFormat: capture.PixYUYV, Width: w, Height: h}
	base := copyNs(data)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Apply(data, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-copy")
}
