package mask

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"

	"github.com/doorbelld/doorbelld/capture"
)

// FuzzApply feeds arbitrary bytes, seeded with real frames of many
// subsamplings, to the JPEG path: it must not panic, and whatever it
// returns must decode with the mask area flat.
func FuzzApply(f *testing.F) {
	f.Add(simFrame(f, 160, 120))
	f.Add(goJPEG(f, scene(64, 48, 7), 80))
	f.Add(stripDHT(f, goJPEG(f, scene(40, 24, 8), 60)))
	f.Add(goJPEG(f, image.NewGray(image.Rect(0, 0, 33, 17)), 80))
	for _, name := range []string{
		"video-001.q50.410.jpeg", "video-001.q50.411.jpeg", "video-001.q50.422.jpeg",
		"video-001.q50.440.jpeg", "video-001.q50.444.jpeg", "video-001.restart2.jpeg",
		"video-001.221212.jpeg", "video-005.gray.jpeg", "video-001.progressive.jpeg",
	} {
		f.Add(readTestdata(f, name))
	}
	m, err := New(testShapes, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A VGA stream, as a camera negotiates one: the slow fallback
		// refuses frames claiming more (TestFallbackRefusesHugeFrames).
		out, err := m.Apply(bytes.Clone(data), capture.Format{PixelFormat: capture.PixMJPEG, Width: 640, Height: 480})
		if err != nil {
			return
		}
		img, err := jpeg.Decode(bytes.NewReader(m.withDHT(out)))
		if err != nil {
			// The fast path keeps the input's scan bits: a frame Go's
			// decoder refuses for reasons the walker does not check may
			// stay undecodable. It must not decode as unmasked either.
			return
		}
		b := img.Bounds()
		if b.Dx()*b.Dy() > 1<<20 {
			return
		}
		checkDeepGreyFuzz(t, img, coverage(testShapes, b.Dx(), b.Dy()))
	})
}

// checkDeepGreyFuzz is checkDeepGrey without requiring covered MCUs (a
// fuzzed frame may be tiny).
func checkDeepGreyFuzz(t *testing.T, img image.Image, px *pixels) {
	t.Helper()
	for y, row := range px.rows {
		for _, s := range row {
			for x := s.x0; x < s.x1; x++ {
				if !blockFull(px, x/16, y/16, 16) {
					continue
				}
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
