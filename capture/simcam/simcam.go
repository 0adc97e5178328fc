package simcam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/doorbelld/doorbelld/capture"
)

// Quality is the JPEG quality of the frames.
const Quality = 75

// scrollPeriod is how long the pattern takes to scroll by its own width.
const scrollPeriod = 4 * time.Second

// Luma and chroma values used for the overlay.
const (
	black   = 16
	white   = 235
	neutral = 128
)

// ErrBadConfig is returned (wrapped) by Stream for an unusable size or
// frame rate.
var ErrBadConfig = errors.New("simcam: bad configuration")

// Cam is a simulated camera. Stream may run again after it returns, but
// not twice at the same time.
type Cam struct {
	w, h, fps int
	clk       clockwork.Clock

	mu   sync.Mutex // held by Stream: one stream at a time
	seq  uint64     // frames rendered so far
	img  *image.YCbCr
	rows rows
	buf  buffer
	opts jpeg.Options
	text [32]byte
}

var _ capture.Source = (*Cam)(nil)

// New returns a camera producing width×height MJPEG frames at fps frames
// per second, timed by clk (nil: the real clock). Width and height must be
// even and at least 16; otherwise Stream fails with ErrBadConfig.
func New(width, height int, fps int, clk clockwork.Clock) *Cam {
	if clk == nil {
		clk = clockwork.NewRealClock()
	}
	return &Cam{w: width, h: height, fps: fps, clk: clk, opts: jpeg.Options{Quality: Quality}}
}

// Format returns the format Stream reports.
func (c *Cam) Format() capture.Format {
	return capture.Format{PixelFormat: capture.PixMJPEG, Width: c.w, Height: c.h, FPS: float64(c.fps)}
}

func (c *Cam) check() error {
	if c.w < 16 || c.h < 16 || c.w%2 != 0 || c.h%2 != 0 || c.w > 8192 || c.h > 8192 {
		return fmt.Errorf("%w: size %dx%d (want even, 16..8192)", ErrBadConfig, c.w, c.h)
	}
	if c.fps <= 0 || c.fps > 1000 {
		return fmt.Errorf("%w: fps %d (want 1..1000)", ErrBadConfig, c.fps)
	}
	return nil
}

// Stream implements capture.Source: it reports the format, then renders
// and pushes one frame per 1/fps on the clock, stamped with the tick time,
// until ctx is done. When rendering is slower than the frame rate, ticks
// are skipped, as a camera drops frames.
func (c *Cam) Stream(ctx context.Context, started func(capture.Format), push func([]byte, time.Time)) error {
	if err := c.check(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prepare()
	started(c.Format())
	tick := c.clk.NewTicker(time.Second / time.Duration(c.fps))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case at := <-tick.Chan():
			data, err := c.render(at)
			if err != nil {
				return fmt.Errorf("simcam: render frame %d: %w", c.seq, err)
			}
			push(data, at)
		}
	}
}

// rows are the precomputed scrolling patterns, each two periods wide so a
// frame copies one contiguous window.
type rows struct {
	barY, barCb, barCr    []byte // colour bars, luma 2w, chroma 2*(w/2)
	rampY, rampCb, rampCr []byte // grey ramp
}

// prepare allocates the image and the pattern rows once.
func (c *Cam) prepare() {
	if c.img != nil {
		return
	}
	c.img = image.NewYCbCr(image.Rect(0, 0, c.w, c.h), image.YCbCrSubsampleRatio420)
	cw := c.w / 2
	bars := []color.RGBA{ // 75% colour bars
		{191, 191, 191, 255}, {191, 191, 0, 255}, {0, 191, 191, 255}, {0, 191, 0, 255},
		{191, 0, 191, 255}, {191, 0, 0, 255}, {0, 0, 191, 255}, {0, 0, 0, 255},
	}
	r := rows{
		barY: make([]byte, 2*c.w), barCb: make([]byte, 2*cw), barCr: make([]byte, 2*cw),
		rampY: make([]byte, 2*c.w), rampCb: make([]byte, 2*cw), rampCr: make([]byte, 2*cw),
	}
	for x := 0; x < 2*c.w; x++ {
		px := x % c.w
		b := bars[px*len(bars)/c.w]
		y, cb, cr := color.RGBToYCbCr(b.R, b.G, b.B)
		r.barY[x] = y
		r.rampY[x] = uint8(black + (white-black)*px/(c.w-1))
		if x%2 == 0 {
			r.barCb[x/2], r.barCr[x/2] = cb, cr
			r.rampCb[x/2], r.rampCr[x/2] = neutral, neutral
		}
	}
	c.rows = r
}

// render draws and encodes the frame for time at. The returned slice is
// valid until the next render.
func (c *Cam) render(at time.Time) ([]byte, error) {
	c.seq++
	img, r := c.img, &c.rows
	w, cw := c.w, c.w/2
	off := int((at.UnixNano() / int64(scrollPeriod/time.Duration(w))) % int64(w)) // int64 first: int is 32 bits on arm
	off &^= 1                                                                     // keep luma and chroma aligned
	barsEnd := c.h * 3 / 5 &^ 1
	for y := 0; y < c.h; y++ {
		src, o := r.barY, off
		if y >= barsEnd {
			src, o = r.rampY, w-off
		}
		copy(img.Y[y*img.YStride:y*img.YStride+w], src[o:o+w])
	}
	for y := 0; y < c.h/2; y++ {
		cb, cr, o := r.barCb, r.barCr, off/2
		if 2*y >= barsEnd {
			cb, cr, o = r.rampCb, r.rampCr, (w-off)/2
		}
		copy(img.Cb[y*img.CStride:y*img.CStride+cw], cb[o:o+cw])
		copy(img.Cr[y*img.CStride:y*img.CStride+cw], cr[o:o+cw])
	}

	// The clock: HH:MM:SS.mmm, 90% of the width, centred on the bars' edge.
	clock := appendClock(c.text[:0], at)
	scale := max(1, w*9/10/(len(clock)*glyphAdvance))
	top := max(0, barsEnd-scale*glyphHeight)
	c.drawText(clock, (w-len(clock)*glyphAdvance*scale)/2, top, scale)

	// The frame counter, half size, below it.
	counter := strconv.AppendUint(append(c.text[len(clock):len(clock)], '#'), c.seq, 10)
	small := max(1, scale/2)
	c.drawText(counter, (w-len(counter)*glyphAdvance*small)/2, top+(glyphHeight+3)*scale, small)

	c.buf.Reset()
	if err := jpeg.Encode(&c.buf, img, &c.opts); err != nil {
		return nil, err
	}
	return c.buf.Bytes(), nil
}

// appendClock appends at as HH:MM:SS.mmm without allocating.
func appendClock(b []byte, at time.Time) []byte {
	hh, mm, ss := at.Clock()
	ms := at.Nanosecond() / int(time.Millisecond)
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(b, hh)
	b = two(append(b, ':'), mm)
	b = two(append(b, ':'), ss)
	return append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

// drawText draws s in white on a black box, each font pixel scale×scale
// image pixels, with its top-left corner at (x0, y0), clipped to the image.
func (c *Cam) drawText(s []byte, x0, y0, scale int) {
	img := c.img
	pad := scale
	box := image.Rect(x0-pad, y0-pad, x0+len(s)*glyphAdvance*scale+pad, y0+glyphHeight*scale+pad).Intersect(img.Rect)
	// Even bounds, so the box's chroma covers it exactly.
	box.Min.X &^= 1
	box.Min.Y &^= 1
	for y := box.Min.Y; y < box.Max.Y; y++ {
		row := img.Y[y*img.YStride:]
		for x := box.Min.X; x < box.Max.X; x++ {
			row[x] = black
		}
	}
	for y := box.Min.Y / 2; y < (box.Max.Y+1)/2; y++ {
		for x := box.Min.X / 2; x < (box.Max.X+1)/2; x++ {
			img.Cb[y*img.CStride+x] = neutral
			img.Cr[y*img.CStride+x] = neutral
		}
	}
	for i, ch := range s {
		g := glyph(ch)
		gx := x0 + i*glyphAdvance*scale
		for gy := 0; gy < glyphHeight; gy++ {
			bits := g[gy]
			for bx := 0; bx < glyphWidth; bx++ {
				if bits&(1<<bx) == 0 {
					continue
				}
				fillRect(img, image.Rect(gx+bx*scale, y0+gy*scale, gx+(bx+1)*scale, y0+(gy+1)*scale), white)
			}
		}
	}
}

func fillRect(img *image.YCbCr, r image.Rectangle, y uint8) {
	r = r.Intersect(img.Rect)
	for py := r.Min.Y; py < r.Max.Y; py++ {
		row := img.Y[py*img.YStride+r.Min.X : py*img.YStride+r.Max.X]
		for i := range row {
			row[i] = y
		}
	}
}

// Glyphs of basicfont.Face7x13, one bit per pixel, bit x of row y.
const (
	glyphWidth   = 6
	glyphHeight  = 13
	glyphAdvance = 7
)

var glyphs = sync.OnceValue(func() *[128][glyphHeight]uint8 {
	var g [128][glyphHeight]uint8
	face := basicfont.Face7x13
	for r := rune(' '); r < 127; r++ {
		dr, mask, mp, _, ok := face.Glyph(fixed.P(0, face.Ascent), r)
		if !ok {
			continue
		}
		for y := 0; y < dr.Dy() && y < glyphHeight; y++ {
			for x := 0; x < dr.Dx() && x < glyphWidth; x++ {
				if _, _, _, a := mask.At(mp.X+x, mp.Y+y).RGBA(); a > 0x7fff {
					g[r][y] |= 1 << x
				}
			}
		}
	}
	return &g
})

func glyph(ch byte) *[glyphHeight]uint8 {
	return &glyphs()[ch&0x7f]
}

// buffer is a bytes.Buffer that image/jpeg can write to without wrapping
// it in a new bufio.Writer for every frame.
type buffer struct{ bytes.Buffer }

// Flush implements image/jpeg's writer interface; there is nothing to
// flush.
func (*buffer) Flush() error { return nil }
