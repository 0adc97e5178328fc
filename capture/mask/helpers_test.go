package mask

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/simcam"
)

// scene is a w×h image with texture like a real scene: gradients, edges
// and noise, so every block has AC coefficients.
func scene(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(r.IntN(48))
			c := color.RGBA{uint8(x*255/w) ^ uint8(y&32)*3 + n, uint8(y*255/h) + n, uint8((x+y)*200/(w+h)) + n/2, 255}
			if (x/37+y/23)%5 == 0 {
				c.R, c.G = 230-n, 40+n
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// goJPEG encodes img with image/jpeg (4:2:0, standard tables).
func goJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ffmpegJPEG encodes one frame of a lavfi test source with ffmpeg's
// mjpeg encoder; args are extra encoder options. It skips the test if
// ffmpeg is missing.
func ffmpegJPEG(t testing.TB, src, pixFmt string, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	argv := []string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", src, "-frames:v", "1", "-pix_fmt", pixFmt}
	argv = append(argv, args...)
	argv = append(argv, "-f", "mjpeg", "-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, argv...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", argv, err, stderr.String())
	}
	return out
}

// simFrame returns one real frame of the simulated camera.
func simFrame(t testing.TB, w, h int) []byte {
	t.Helper()
	clk := clockwork.NewFakeClockAt(time.Date(2025, 6, 1, 12, 34, 56, 0, time.UTC))
	cam := simcam.New(w, h, 10, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan []byte, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- cam.Stream(ctx, func(capture.Format) {}, func(b []byte, _ time.Time) {
			select {
			case got <- bytes.Clone(b):
			default:
			}
		})
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := clk.BlockUntilContext(wctx, 1); err != nil {
		t.Fatalf("simcam did not start its ticker: %v", err)
	}
	clk.Advance(time.Second)
	select {
	case b := <-got:
		cancel()
		<-errc
		return b
	case err := <-errc:
		t.Fatalf("simcam: %v", err)
	case <-wctx.Done():
		t.Fatal("simcam: no frame")
	}
	return nil
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stripDHT removes the DHT segments, as UVC cameras send frames.
func stripDHT(t testing.TB, b []byte) []byte {
	t.Helper()
	out := append([]byte(nil), b[:2]...)
	for i := 2; ; {
		if b[i] != 0xff {
			t.Fatalf("no marker at %d", i)
		}
		m := b[i+1]
		if m == mSOS {
			return append(out, b[i:]...)
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if m != mDHT {
			out = append(out, b[i:i+2+n]...)
		}
		i += 2 + n
	}
}

// coeffs are the quantised DCT coefficients of every block of a baseline
// JPEG, in zigzag order, with absolute DC values: comp[c][(by*stride+bx)*64+k].
type coeffs struct {
	geom   jpegGeom
	comp   [4][]int32
	stride [4]int
}

// decodeCoeffs entropy-decodes a baseline JPEG completely: an independent
// reader for the tests, sharing only the Huffman primitives.
func decodeCoeffs(t testing.TB, data []byte) *coeffs {
	t.Helper()
	std, err := standardTables()
	if err != nil {
		t.Fatal(err)
	}
	j := &jpegCodec{std: std}
	fi, _, err := j.parseHeader(data, nil)
	if err != nil {
		t.Fatalf("parse header: %v", err)
	}
	if _, err := j.splitScan(data, fi.scan); err != nil {
		t.Fatalf("split scan: %v", err)
	}
	g := fi.geom
	cf := &coeffs{geom: g}
	for c := 0; c < g.n; c++ {
		cf.stride[c] = g.mcusX * g.hs[c]
		cf.comp[c] = make([]int32, cf.stride[c]*g.mcusY*g.vs[c]*64)
	}
	total := g.mcusX * g.mcusY
	ri := fi.ri
	if ri == 0 {
		ri = total
	}
	for idx, s := range j.segs {
		end := j.destuff(data, s)
		buf := j.clean
		var pos uint
		var pred [4]int32
		for mcu := idx * ri; mcu < min(total, (idx+1)*ri); mcu++ {
			mx, my := mcu%g.mcusX, mcu/g.mcusX
			for _, sc := range fi.comps {
				for v := 0; v < sc.v; v++ {
					for h := 0; h < sc.h; h++ {
						blk := cf.comp[sc.c][((my*sc.v+v)*cf.stride[sc.c]+mx*sc.h+h)*64:][:64]
						l, s, ok := decode(sc.dc, buf, pos)
						if !ok {
							t.Fatalf("mcu %d: bad DC code", mcu)
						}
						pos += l
						var d int32
						if s > 0 {
							d = extend(uint32(peek(buf, pos, s)), s)
							pos += s
						}
						pred[sc.c] += d
						blk[0] = pred[sc.c]
						for k := uint(1); k < 64; {
							l, rs, ok := decode(sc.ac, buf, pos)
							if !ok {
								t.Fatalf("mcu %d: bad AC code", mcu)
							}
							pos += l
							size := rs & 15
							if size == 0 {
								if rs != 0xf0 {
									break
								}
								k += 16
								continue
							}
							k += rs >> 4
							if k > 63 {
								t.Fatalf("mcu %d: AC index %d", mcu, k)
							}
							blk[k] = extend(uint32(peek(buf, pos, size)), size)
							pos += size
							k++
						}
						if pos > end {
							t.Fatalf("mcu %d: past the end of interval %d", mcu, idx)
						}
					}
				}
			}
		}
	}
	return cf
}
