package mask

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/doorbelld/doorbelld/capture"
)

// refApply masks data with the reference walker (no fallback).
func refApply(t *testing.T, shapes []Shape, data []byte) ([]byte, error) {
	t.Helper()
	std, err := standardTables()
	if err != nil {
		t.Fatal(err)
	}
	j := &jpegCodec{std: std}
	fi, out, err := j.parseHeader(data, nil)
	if err != nil {
		return nil, err
	}
	plan := newBlockPlan(fi.geom, coverage(shapes, fi.geom.w, fi.geom.h))
	return j.refRewrite(data, out, &fi, plan)
}

// TestFastMatchesReference holds the tuned walker (table-driven Huffman
// skipping, bulk bit copies, the tail of an interval copied without a
// walk) to the reference walker, byte for byte, on every fast-path frame
// of the tests and benchmarks, with many masks: a mask at the top, at the
// bottom, in the middle, a strip, several shapes.
func TestFastMatchesReference(t *testing.T) {
	frames := map[string][]byte{
		"noisy 640x480 q80":   goJPEG(t, scene(640, 480, 42), 80),
		"noisy 1280x720 q95":  goJPEG(t, scene(1280, 720, 3), 95),
		"noisy 352x288 q30":   goJPEG(t, scene(352, 288, 4), 30),
		"ffmpeg restart 720p": ffmpegJPEG(t, "testsrc2=size=1280x720", "yuvj420p", "-huffman", "default", "-q:v", "5", "-threads", "4", "-slices", "30"),
	}
	for _, tc := range jpegCases(t) {
		if tc.fallback == "" {
			frames[tc.name] = tc.data
		}
	}
	masks := map[string][]Shape{
		"test":     testShapes,
		"strip20":  strip20,
		"corner20": corner20,
		"top":      {Rect(0, 0, 1, 0.1)},
		"bottom":   {Rect(0.3, 0.9, 0.3, 0.1)},
		"middle":   {Rect(0.4, 0.4, 0.05, 0.05)},
		"first":    {Rect(0, 0, 0.01, 0.01)},
		"last":     {Rect(0.99, 0.99, 0.01, 0.01)},
		"all":      {Rect(0, 0, 1, 1)},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 8 {
		x, y := r.Float64()*0.8, r.Float64()*0.8
		masks["random"+string(rune('a'+i))] = []Shape{Rect(x, y, 0.01+r.Float64()*0.19, 0.01+r.Float64()*0.19)}
	}
	for fname, data := range frames {
		for mname, shapes := range masks {
			m, err := New(shapes, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Apply(bytes.Clone(data), capture.Format{PixelFormat: capture.PixMJPEG})
			if err != nil {
				t.Fatalf("%s, mask %s: Apply: %v", fname, mname, err)
			}
			if m.Stats().Fast != 1 {
				t.Fatalf("%s, mask %s: not on the fast path: %+v", fname, mname, m.Stats())
			}
			want, err := refApply(t, shapes, data)
			if err != nil {
				t.Fatalf("%s, mask %s: reference: %v", fname, mname, err)
			}
			if !bytes.Equal(got, want) {
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				t.Errorf("%s, mask %s: %d bytes, reference %d; first difference at %d", fname, mname, len(got), len(want), i)
			}
		}
	}
}

// TestNoStateBetweenFrames: a frame the walker gives up on half-way (here
// truncated after the mask's first rows) must not leave bits behind that
// shift the next frame's scan: that frame would decode as garbage, and
// could show the scene inside the mask (FuzzApply found it).
func TestNoStateBetweenFrames(t *testing.T) {
	good := goJPEG(t, scene(320, 240, 5), 80)
	f := capture.Format{PixelFormat: capture.PixMJPEG}
	fresh, err := New(testShapes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := fresh.Apply(bytes.Clone(good), f)
	if err != nil {
		t.Fatal(err)
	}
	for cut := len(good) / 3; cut < len(good)*2/3; cut += len(good) / 40 {
		bad := append(bytes.Clone(good[:cut]), 0xff, mEOI)
		m, err := New(testShapes, Options{})
		if err != nil {
			t.Fatal(err)
		}
		m.Apply(bad, f) // may fail or fall back: either is fine
		got, err := m.Apply(bytes.Clone(good), f)
		if err != nil {
			t.Fatalf("cut at %d: next frame: %v", cut, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("cut at %d: the next frame's %d bytes differ from a fresh Masker's %d", cut, len(got), len(want))
		}
	}
}
