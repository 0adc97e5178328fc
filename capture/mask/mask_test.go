package mask

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/capture"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		shapes []Shape
		want   string // "" for valid
	}{
		{"none", nil, ""},
		{"rect", []Shape{Rect(0.1, 0.1, 0.5, 0.2)}, ""},
		{"whole frame", []Shape{Rect(0, 0, 1, 1)}, ""},
		{"triangle", []Shape{{Points: [][2]float64{{0, 0}, {1, 0}, {0.5, 1}}}}, ""},
		{"concave", []Shape{{Points: [][2]float64{{0, 0}, {1, 0}, {1, 1}, {0.5, 0.3}, {0, 1}}}}, ""},
		{"two points", []Shape{{Points: [][2]float64{{0, 0}, {1, 1}}}}, "mask 0: bad mask shape: 2 points, need at least 3"},
		{"x above 1", []Shape{Rect(0, 0, 0.5, 0.5), Rect(0.6, 0, 0.5, 0.5)}, "mask 1: bad mask shape: point 1: x = 1.1 is outside 0..1"},
		{"y below 0", []Shape{{Points: [][2]float64{{0, 0}, {1, -0.1}, {0.5, 1}}}}, "point 1: y = -0.1 is outside 0..1"},
		{"bow tie", []Shape{{Points: [][2]float64{{0, 0}, {1, 1}, {1, 0}, {0, 1}}}}, "self-intersecting: edge 0"},
		{"vertex on edge", []Shape{{Points: [][2]float64{{0, 0}, {1, 0}, {1, 1}, {0.5, 0}, {0, 1}}}}, "self-intersecting"},
		{"collinear overlap", []Shape{{Points: [][2]float64{{0, 0}, {0.6, 0}, {0.6, 0.5}, {0.3, 0.5}, {0.3, 0}, {0.2, 0}, {0.2, 1}}}}, "self-intersecting"},
		{"spike back", []Shape{{Points: [][2]float64{{0, 0}, {1, 0}, {0.5, 0}, {0.5, 1}}}}, "edges 0 and 1 overlap"},
		{"repeated point", []Shape{{Points: [][2]float64{{0, 0}, {1, 0}, {1, 0}, {0, 1}}}}, "points 1 and 2 are the same"},
		{"on one line", []Shape{{Points: [][2]float64{{0, 0}, {0.5, 0.5}, {1, 1}}}}, "overlap"},
		{"tiny area", []Shape{{Points: [][2]float64{{0, 0}, {1e-6, 0}, {0, 1e-6}}}}, "area 5e-13 is zero"},
		{"NaN", []Shape{{Points: [][2]float64{{0, 0}, {1, 0}, {nan(), 1}}}}, "x = NaN"},
		{"all errors", []Shape{Rect(0, 0, 2, 1), {}}, "mask 0: bad mask shape: point 1: x = 2 is outside 0..1\nmask 1: bad mask shape: 0 points"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.shapes)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrBadShape) {
				t.Fatalf("Validate: %v, want an ErrBadShape containing %q", err, tt.want)
			}
			if _, err := New(tt.shapes, Options{}); err == nil {
				t.Error("New accepted shapes Validate refuses")
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

// inside is an independent even-odd point-in-polygon test.
func inside(p [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		if (p[i][1] > y) != (p[j][1] > y) && x < (p[j][0]-p[i][0])*(y-p[i][1])/(p[j][1]-p[i][1])+p[i][0] {
			in = !in
		}
	}
	return in
}

func TestCoverage(t *testing.T) {
	shapes := []Shape{
		Rect(0.25, 0.25, 0.5, 0.5),
		{Points: [][2]float64{{0.05, 0.9}, {0.4, 0.55}, {0.33, 0.99}}},
		{Points: [][2]float64{{0.6, 0.05}, {0.95, 0.1}, {0.7, 0.2}, {0.97, 0.4}, {0.62, 0.45}}},
	}
	px := coverage(shapes, 97, 61)
	n := 0
	for y := 0; y < 61; y++ {
		for x := 0; x < 97; x++ {
			cx, cy := (float64(x)+0.5)/97, (float64(y)+0.5)/61
			want := false
			for _, s := range shapes {
				want = want || inside(s.Points, cx, cy)
			}
			got := false
			for _, s := range px.rows[y] {
				got = got || (x >= s.x0 && x < s.x1)
			}
			if got != want {
				t.Errorf("pixel (%d,%d): covered %v, want %v", x, y, got, want)
			}
			if want {
				n++
			}
		}
	}
	if px.count != n || n == 0 {
		t.Errorf("count %d, want %d (> 0)", px.count, n)
	}
	// A rectangle on pixel boundaries covers exactly its pixels.
	px = coverage([]Shape{Rect(0.25, 0.5, 0.5, 0.25)}, 8, 8)
	for y, row := range px.rows {
		want := []span(nil)
		if y == 4 || y == 5 {
			want = []span{{2, 6}}
		}
		if len(row) != len(want) || (len(want) > 0 && row[0] != want[0]) {
			t.Errorf("row %d: %v, want %v", y, row, want)
		}
	}
}

func TestYUYV(t *testing.T) {
	const w, h = 64, 40
	shapes := []Shape{Rect(0.1, 0.2, 0.3, 0.4), {Points: [][2]float64{{0.5, 0.5}, {0.95, 0.6}, {0.7, 0.99}}}}
	m, err := New(shapes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	orig := make([]byte, w*h*2)
	for i := range orig {
		orig[i] = byte(r.IntN(256))
	}
	data := bytes.Clone(orig)
	out, err := m.Apply(data, capture.Format{PixelFormat: capture.PixYUYV, Width: w, Height: h})
	if err != nil {
		t.Fatal(err)
	}
	if &out[0] != &data[0] {
		t.Error("YUYV frame not masked in place")
	}
	px := coverage(shapes, w, h)
	masked := 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			covered := func(x int) bool {
				for _, s := range px.rows[y] {
					if x >= s.x0 && x < s.x1 {
						return true
					}
				}
				return false
			}
			i := y*w*2 + x*2
			pair := y*w*2 + x/2*4
			if covered(x) {
				masked++
				if out[i] != Fill {
					t.Fatalf("(%d,%d): Y %d, want %d", x, y, out[i], Fill)
				}
			} else if out[i] != orig[i] {
				t.Fatalf("(%d,%d): Y changed outside the mask", x, y)
			}
			pairCovered := covered(x&^1) || covered(x|1)
			for _, c := range []int{pair + 1, pair + 3} {
				if pairCovered && out[c] != Fill {
					t.Fatalf("(%d,%d): chroma %d, want %d", x, y, out[c], Fill)
				}
				if !pairCovered && out[c] != orig[c] {
					t.Fatalf("(%d,%d): chroma changed outside the mask", x, y)
				}
			}
		}
	}
	if masked == 0 {
		t.Fatal("nothing masked")
	}
	if _, err := m.Apply(data[:100], capture.Format{PixelFormat: capture.PixYUYV, Width: w, Height: h}); err == nil {
		t.Error("short YUYV frame accepted")
	}
	if st := m.Stats(); st.Frames != 2 || st.Filled != 1 || st.Errors != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestH264CannotMask(t *testing.T) {
	m, err := New([]Shape{Rect(0, 0, 0.5, 0.5)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply([]byte{0, 0, 0, 1, 0x65}, capture.Format{PixelFormat: capture.PixH264, Width: 64, Height: 64}); !errors.Is(err, ErrCannotMask) {
		t.Fatalf("H264: %v, want ErrCannotMask", err)
	}
}

// jpegCase is one JPEG frame to mask.
type jpegCase struct {
	name     string
	data     []byte
	fallback Reason // "" if the DCT-domain path must take it
}

func jpegCases(t *testing.T) []jpegCase {
	src := "testsrc2=size=640x480"
	go420 := goJPEG(t, scene(320, 240, 1), 80)
	return []jpegCase{
		{name: "go 4:2:0", data: go420},
		{name: "go 4:2:0 without DHT", data: stripDHT(t, go420)},
		{name: "go gray", data: goJPEG(t, image.NewGray(image.Rect(0, 0, 77, 45)), 80)},
		{name: "simcam 640x480", data: simFrame(t, 640, 480)},
		{name: "ffmpeg 4:2:0", data: ffmpegJPEG(t, src, "yuvj420p", "-huffman", "default", "-q:v", "4")},
		{name: "ffmpeg 4:2:2", data: ffmpegJPEG(t, src, "yuvj422p", "-huffman", "default", "-q:v", "4")},
		{name: "ffmpeg 4:4:4", data: ffmpegJPEG(t, src, "yuvj444p", "-huffman", "default", "-q:v", "4")},
		{name: "ffmpeg 4:2:0 restart", data: ffmpegJPEG(t, src, "yuvj420p", "-huffman", "default", "-q:v", "4", "-threads", "4", "-slices", "30")},
		{name: "ffmpeg 4:2:2 restart", data: ffmpegJPEG(t, src, "yuvj422p", "-huffman", "default", "-q:v", "4", "-threads", "4", "-slices", "30")},
		{name: "ffmpeg 4:4:4 restart", data: ffmpegJPEG(t, src, "yuvj444p", "-huffman", "default", "-q:v", "4", "-threads", "4", "-slices", "12")},
		{name: "libjpeg 150x103 4:2:0", data: readTestdata(t, "video-001.jpeg")},
		{name: "libjpeg 4:1:0", data: readTestdata(t, "video-001.q50.410.jpeg")},
		{name: "libjpeg 4:1:1", data: readTestdata(t, "video-001.q50.411.jpeg")},
		{name: "libjpeg 4:2:2", data: readTestdata(t, "video-001.q50.422.jpeg")},
		{name: "libjpeg 4:4:0", data: readTestdata(t, "video-001.q50.440.jpeg")},
		{name: "libjpeg 4:4:4", data: readTestdata(t, "video-001.q50.444.jpeg")},
		{name: "libjpeg restart 2", data: readTestdata(t, "video-001.restart2.jpeg")},
		{name: "libjpeg 2x2 1x2 1x2", data: readTestdata(t, "video-001.221212.jpeg")},
		{name: "libjpeg CMYK", data: readTestdata(t, "video-001.cmyk.jpeg")},
		{name: "libjpeg gray", data: readTestdata(t, "video-005.gray.jpeg")},
		{name: "libjpeg progressive", data: readTestdata(t, "video-001.progressive.jpeg"), fallback: ReasonProgressive},
		{name: "libjpeg separate scans", data: readTestdata(t, "video-001.separate.dc.progression.jpeg"), fallback: ReasonProgressive},
	}
}

var testShapes = []Shape{
	Rect(0.1, 0.15, 0.3, 0.25),
	{Points: [][2]float64{{0.55, 0.4}, {0.97, 0.52}, {0.8, 0.95}, {0.62, 0.7}}},
}

func TestMJPEG(t *testing.T) {
	for _, tc := range jpegCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(testShapes, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Apply(bytes.Clone(tc.data), capture.Format{PixelFormat: capture.PixMJPEG})
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			st := m.Stats()
			if tc.fallback != "" {
				if st.Fallbacks[tc.fallback] != 1 {
					t.Fatalf("stats %+v, want one %q fallback", st, tc.fallback)
				}
				checkFallback(t, tc.data, out)
				return
			}
			if st.Fast != 1 {
				t.Fatalf("stats %+v, want the DCT-domain path", st)
			}
			checkDCT(t, m, tc.data, out)
			checkPixels(t, m, tc.data, out)
			// Steady state: the same frame again gives the same bytes.
			again, err := m.Apply(tc.data, capture.Format{PixelFormat: capture.PixMJPEG})
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("second Apply differs (err %v)", err)
			}
		})
	}
}

// checkDCT compares coefficients: touched blocks all zero, every other
// block exactly as in the input.
func checkDCT(t *testing.T, m *Masker, in, out []byte) {
	t.Helper()
	a, b := decodeCoeffs(t, in), decodeCoeffs(t, bytes.Clone(out))
	if a.geom != b.geom {
		t.Fatalf("geometry %+v, want %+v", b.geom, a.geom)
	}
	plan := newBlockPlan(a.geom, coverage(m.shapes, a.geom.w, a.geom.h))
	touched, kept := 0, 0
	for c := 0; c < a.geom.n; c++ {
		for i := 0; i < len(a.comp[c])/64; i++ {
			x, y := a.comp[c][i*64:][:64], b.comp[c][i*64:][:64]
			if plan.comp[c].has(i) {
				touched++
				for k, v := range y {
					if v != 0 {
						t.Fatalf("component %d block %d: coefficient %d = %d in a masked block", c, i, k, v)
					}
				}
				continue
			}
			kept++
			for k := range x {
				if x[k] != y[k] {
					t.Fatalf("component %d block %d: coefficient %d = %d, want %d", c, i, k, y[k], x[k])
				}
			}
		}
	}
	if touched == 0 || kept == 0 {
		t.Fatalf("%d blocks touched, %d kept: the mask should touch some", touched, kept)
	}
}

// planes returns the sample planes of a decoded image with their block
// subsampling (how many pixels one sample spans).
func planes(t *testing.T, img image.Image) (p [][]byte, stride []int, sx, sy []int) {
	switch im := img.(type) {
	case *image.Gray:
		return [][]byte{im.Pix}, []int{im.Stride}, []int{1}, []int{1}
	case *image.YCbCr:
		cx, cy := map[image.YCbCrSubsampleRatio][2]int{
			image.YCbCrSubsampleRatio444: {1, 1}, image.YCbCrSubsampleRatio422: {2, 1},
			image.YCbCrSubsampleRatio420: {2, 2}, image.YCbCrSubsampleRatio440: {1, 2},
			image.YCbCrSubsampleRatio411: {4, 1}, image.YCbCrSubsampleRatio410: {4, 2},
		}[im.SubsampleRatio][0], map[image.YCbCrSubsampleRatio][2]int{
			image.YCbCrSubsampleRatio444: {1, 1}, image.YCbCrSubsampleRatio422: {2, 1},
			image.YCbCrSubsampleRatio420: {2, 2}, image.YCbCrSubsampleRatio440: {1, 2},
			image.YCbCrSubsampleRatio411: {4, 1}, image.YCbCrSubsampleRatio410: {4, 2},
		}[im.SubsampleRatio][1]
		return [][]byte{im.Y, im.Cb, im.Cr}, []int{im.YStride, im.CStride, im.CStride}, []int{1, cx, cx}, []int{1, cy, cy}
	}
	return nil, nil, nil, nil
}

// checkPixels decodes both frames with image/jpeg: every covered pixel's
// samples are the fill value, and every sample of an untouched block is as
// in the input.
func checkPixels(t *testing.T, m *Masker, in, out []byte) {
	t.Helper()
	a, err := jpeg.Decode(bytes.NewReader(m.withDHT(in)))
	if err != nil {
		t.Fatalf("decode input: %v", err)
	}
	b, err := jpeg.Decode(bytes.NewReader(m.withDHT(out)))
	if err != nil {
		t.Fatalf("decode masked: %v", err)
	}
	pa, stride, sx, sy := planes(t, a)
	pb, _, _, _ := planes(t, b)
	if pa == nil {
		return // CMYK: coefficients checked only
	}
	w, h := a.Bounds().Dx(), a.Bounds().Dy()
	px := coverage(m.shapes, w, h)
	for y, row := range px.rows {
		for _, s := range row {
			for x := s.x0; x < s.x1; x++ {
				for c := range pb {
					if v := pb[c][(y/sy[c])*stride[c]+x/sx[c]]; v != Fill {
						t.Fatalf("covered pixel (%d,%d) plane %d: %d, want %d", x, y, c, v, Fill)
					}
				}
			}
		}
	}
	// Untouched blocks: compare every sample of each plane.
	for c := range pa {
		pw, ph := (w+sx[c]-1)/sx[c], (h+sy[c]-1)/sy[c]
		for y := 0; y < ph; y++ {
			for x := 0; x < pw; x++ {
				if blockTouched(px, x/8, y/8, 8*sx[c], 8*sy[c]) {
					continue
				}
				if pa[c][y*stride[c]+x] != pb[c][y*stride[c]+x] {
					t.Fatalf("plane %d sample (%d,%d) outside the mask: %d, want %d", c, x, y, pb[c][y*stride[c]+x], pa[c][y*stride[c]+x])
				}
			}
		}
	}
}

// blockTouched reports whether block (bx, by) spanning bw×bh pixels holds
// a covered pixel.
func blockTouched(px *pixels, bx, by, bw, bh int) bool {
	for y := by * bh; y < min((by+1)*bh, px.h); y++ {
		for _, s := range px.rows[y] {
			if s.x0 < (bx+1)*bw && s.x1 > bx*bw {
				return true
			}
		}
	}
	return false
}

// checkFallback checks a re-encoded frame: it decodes, and pixels deep
// inside the mask (their whole 16×16 MCU covered) are grey.
func checkFallback(t *testing.T, in, out []byte) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("decode fallback output: %v", err)
	}
	checkDeepGrey(t, img, coverage(testShapes, img.Bounds().Dx(), img.Bounds().Dy()))
}

func checkDeepGrey(t *testing.T, img image.Image, px *pixels) {
	t.Helper()
	n := 0
	for y, row := range px.rows {
		for _, s := range row {
			for x := s.x0; x < s.x1; x++ {
				if blockFull(px, x/16, y/16, 16) {
					n++
					r, g, b, _ := img.At(x, y).RGBA()
					for _, v := range []uint32{r >> 8, g >> 8, b >> 8} {
						if v < Fill-3 || v > Fill+3 {
							t.Fatalf("pixel (%d,%d) deep in the mask: %d %d %d, want grey", x, y, r>>8, g>>8, b>>8)
						}
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no MCU entirely inside the mask: test shapes too small")
	}
}

// blockFull reports whether every pixel of the n×n block is covered.
func blockFull(px *pixels, bx, by, n int) bool {
	if (by+1)*n > px.h || (bx+1)*n > px.w {
		return false
	}
	for y := by * n; y < (by+1)*n; y++ {
		ok := false
		for _, s := range px.rows[y] {
			ok = ok || (s.x0 <= bx*n && s.x1 >= (bx+1)*n)
		}
		if !ok {
			return false
		}
	}
	return true
}

func TestMJPEGErrors(t *testing.T) {
	m, err := New(testShapes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := goJPEG(t, scene(64, 48, 3), 80)
	mj := capture.Format{PixelFormat: capture.PixMJPEG}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not jpeg":  []byte("hello, world"),
		"truncated": good[:len(good)/2],
		"no EOI":    good[:len(good)-2],
	} {
		if out, err := m.Apply(data, mj); err == nil {
			// Go's decoder may accept a frame the walker refuses; the
			// result must still be masked.
			img, derr := jpeg.Decode(bytes.NewReader(out))
			if derr != nil {
				t.Errorf("%s: Apply returned an undecodable frame", name)
				continue
			}
			checkDeepGrey(t, img, coverage(testShapes, img.Bounds().Dx(), img.Bounds().Dy()))
		}
	}
	st := m.Stats()
	if st.Errors == 0 {
		t.Errorf("stats %+v: want errors counted", st)
	}
}

func TestOptimisedHuffman(t *testing.T) {
	// ffmpeg's default tables are optimised for the frame: a code the flat
	// blocks need may be missing. Either path must give a masked frame.
	data := ffmpegJPEG(t, "testsrc2=size=320x240", "yuvj420p", "-q:v", "4")
	m, err := New(testShapes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Apply(data, capture.Format{PixelFormat: capture.PixMJPEG})
	if err != nil {
		t.Fatal(err)
	}
	st := m.Stats()
	t.Logf("stats %+v", st)
	if st.Fast == 1 {
		checkDCT(t, m, data, out)
		checkPixels(t, m, data, out)
	} else if st.Fallbacks[ReasonHuffman] == 1 {
		checkFallback(t, data, out)
	} else {
		t.Fatalf("stats %+v", st)
	}
}

func TestNoShapes(t *testing.T) {
	m, err := New(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte{1, 2, 3}
	out, err := m.Apply(data, capture.Format{PixelFormat: capture.PixH264})
	if err != nil || &out[0] != &data[0] {
		t.Fatalf("no shapes: %v", err)
	}
}

// TestFallbackRefusesHugeFrames: a frame that needs the slow full decode
// and claims to be larger than the stream's format is dropped at once,
// not decoded (a corrupt header could claim 16384x4096 and stall the
// capture goroutine); the same frame in a stream of its own size is
// masked.
func TestFallbackRefusesHugeFrames(t *testing.T) {
	m, err := New(testShapes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	prog := readTestdata(t, "video-001.progressive.jpeg") // always the fallback
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(prog))
	if err != nil {
		t.Fatal(err)
	}
	small := capture.Format{PixelFormat: capture.PixMJPEG, Width: cfg.Width / 2, Height: cfg.Height / 2}
	if _, err := m.Apply(bytes.Clone(prog), small); err == nil || !strings.Contains(err.Error(), "larger than the stream's") {
		t.Fatalf("a %dx%d frame in a %dx%d stream: %v, want refused", cfg.Width, cfg.Height, small.Width, small.Height, err)
	}
	own := capture.Format{PixelFormat: capture.PixMJPEG, Width: cfg.Width, Height: cfg.Height}
	out, err := m.Apply(bytes.Clone(prog), own)
	if err != nil {
		t.Fatalf("in a stream of its size: %v", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	checkDeepGrey(t, img, coverage(testShapes, cfg.Width, cfg.Height))
}
