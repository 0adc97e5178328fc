package mask

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/doorbelld/doorbelld/capture"
)

// ErrCannotMask is returned (wrapped) by Apply for a pixel format whose
// frames cannot be masked without re-encoding the video (H.264), or that
// it does not know. Such a frame must not be stored.
var ErrCannotMask = errors.New("cannot mask this pixel format")

// Fill is the value every masked sample gets: mid grey, Y = Cb = Cr = 128.
// In a JPEG it is a block whose coefficients are all zero, so it is exact
// whatever the quantisation tables.
const Fill = 128

// DefaultFallbackQuality is the JPEG quality of frames that are masked by
// a full decode and re-encode.
const DefaultFallbackQuality = 85

// Reason says why a JPEG frame took the full decode-and-encode path.
type Reason string

// Fallback reasons.
const (
	ReasonProgressive Reason = "progressive"  // SOF2
	ReasonUnsupported Reason = "unsupported"  // arithmetic, lossless, hierarchical, 12-bit, DNL
	ReasonSampling    Reason = "sampling"     // sampling factors that do not divide the largest
	ReasonMultiScan   Reason = "multi-scan"   // components in separate scans
	ReasonHuffman     Reason = "huffman-code" // the frame's tables lack a code the flat blocks need
	ReasonCorrupt     Reason = "corrupt"      // the DCT-domain walker could not parse it
)

// reasons lists every Reason, indexing Masker.fallbacks.
var reasons = [...]Reason{ReasonProgressive, ReasonUnsupported, ReasonSampling, ReasonMultiScan, ReasonHuffman, ReasonCorrupt}

// Options configures a Masker. The zero value is usable.
type Options struct {
	// FallbackQuality is the JPEG quality (1..100) of frames re-encoded by
	// the fallback path; default DefaultFallbackQuality.
	FallbackQuality int
}

func (o Options) withDefaults() Options {
	if o.FallbackQuality <= 0 || o.FallbackQuality > 100 {
		o.FallbackQuality = DefaultFallbackQuality
	}
	return o
}

// Stats counts what a Masker did.
type Stats struct {
	Frames    uint64            // Apply calls
	Filled    uint64            // raw (YUYV) frames filled in place
	Fast      uint64            // JPEG frames masked in the DCT domain
	Fallbacks map[Reason]uint64 // JPEG frames masked by full decode and encode, by reason
	Errors    uint64            // frames that could not be masked: the caller drops them
}

// maxPlans bounds each plan cache; it is cleared when full (sizes change
// rarely: a camera restart with a new format).
const maxPlans = 8

// Masker burns privacy masks into frames. It is safe for concurrent use,
// but Apply calls are serialised: one frame at a time.
type Masker struct {
	shapes []Shape
	opts   Options

	mu     sync.Mutex // guards everything below
	pixels map[[2]int]*pixels
	blocks map[jpegGeom]*blockPlan
	jc     jpegCodec
	out    []byte
	fb     fbuffer

	frames, filled, fast, errs atomic.Uint64
	fallbacks                  [len(reasons)]atomic.Uint64
}

var _ capture.Filter = (*Masker)(nil)

// New returns a Masker for the given shapes, which must pass Validate. No
// shapes means no masking: Apply returns every frame as it is.
func New(shapes []Shape, opts Options) (*Masker, error) {
	if err := Validate(shapes); err != nil {
		return nil, fmt.Errorf("mask: %w", err)
	}
	std, err := standardTables()
	if err != nil {
		return nil, fmt.Errorf("mask: %w", err)
	}
	m := &Masker{
		opts:   opts.withDefaults(),
		pixels: make(map[[2]int]*pixels),
		blocks: make(map[jpegGeom]*blockPlan),
	}
	m.jc.std = std
	for _, s := range shapes {
		m.shapes = append(m.shapes, Shape{Points: append([][2]float64(nil), s.Points...)})
	}
	return m, nil
}

// Filter implements capture.Filter: it is Apply.
func (m *Masker) Filter(data []byte, f capture.Format) ([]byte, error) { return m.Apply(data, f) }

// Apply masks one frame of format f and returns the masked frame:
//
//   - YUYV: covered pixels are filled in data itself, which is returned.
//   - MJPEG: the touched blocks are made flat in the DCT domain, or, for a
//     frame that path cannot handle, the frame is decoded, filled and
//     re-encoded. The result is in a buffer owned by the Masker, valid
//     until the next Apply: copy it (capture.Ring.Push does).
//   - H.264 and anything else: an error wrapping ErrCannotMask.
//
// On any error the frame could not be masked and must be dropped. With no
// shapes, data is returned unchanged.
func (m *Masker) Apply(data []byte, f capture.Format) ([]byte, error) {
	m.frames.Add(1)
	if len(m.shapes) == 0 {
		return data, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []byte
	var err error
	switch f.PixelFormat {
	case capture.PixYUYV:
		out, err = m.fillYUYV(data, f.Width, f.Height)
	case capture.PixMJPEG:
		out, err = m.maskJPEG(data, f)
	default:
		err = fmt.Errorf("mask: pixel format %q: %w", f.PixelFormat, ErrCannotMask)
	}
	if err != nil {
		m.errs.Add(1)
		return nil, err
	}
	return out, nil
}

// Stats returns the counters so far.
func (m *Masker) Stats() Stats {
	st := Stats{
		Frames:    m.frames.Load(),
		Filled:    m.filled.Load(),
		Fast:      m.fast.Load(),
		Errors:    m.errs.Load(),
		Fallbacks: make(map[Reason]uint64),
	}
	for i, r := range reasons {
		if n := m.fallbacks[i].Load(); n > 0 {
			st.Fallbacks[r] = n
		}
	}
	return st
}

// coverage returns the (cached) covered pixels of a w×h frame.
func (m *Masker) coverage(w, h int) *pixels {
	k := [2]int{w, h}
	if p, ok := m.pixels[k]; ok {
		return p
	}
	if len(m.pixels) >= maxPlans {
		clear(m.pixels)
	}
	p := coverage(m.shapes, w, h)
	m.pixels[k] = p
	return p
}

// blockPlan returns the (cached) touched blocks of a JPEG layout.
func (m *Masker) blockPlan(g jpegGeom) *blockPlan {
	if p, ok := m.blocks[g]; ok {
		return p
	}
	if len(m.blocks) >= maxPlans {
		clear(m.blocks)
	}
	p := newBlockPlan(g, m.coverage(g.w, g.h))
	m.blocks[g] = p
	return p
}

func checkSize(w, h int) error {
	if w <= 0 || h <= 0 || w > maxSide || h > maxSide || w*h > maxPixels {
		return fmt.Errorf("bad frame size %dx%d (max %d a side, %d pixels)", w, h, maxSide, maxPixels)
	}
	return nil
}

// fillYUYV fills the covered pixels of a packed 4:2:2 frame in place: Y
// of each covered pixel, and U and V of each pixel pair with a covered
// pixel.
func (m *Masker) fillYUYV(data []byte, w, h int) ([]byte, error) {
	if err := checkSize(w, h); err != nil || w%2 != 0 {
		return nil, fmt.Errorf("mask: yuyv: bad frame size %dx%d (width must be even)", w, h)
	}
	stride := 2 * w
	if len(data) < stride*h {
		return nil, fmt.Errorf("mask: yuyv %dx%d: %d bytes, want %d", w, h, len(data), stride*h)
	}
	px := m.coverage(w, h)
	for y, row := range px.rows {
		line := data[y*stride : (y+1)*stride]
		for _, s := range row {
			for x := s.x0; x < s.x1; x++ {
				line[2*x] = Fill
			}
			for p := s.x0 / 2; p <= (s.x1-1)/2; p++ {
				line[4*p+1] = Fill
				line[4*p+3] = Fill
			}
		}
	}
	m.filled.Add(1)
	return data, nil
}

// maskJPEG masks one JPEG frame: in the DCT domain if it can, else by the
// fallback.
func (m *Masker) maskJPEG(data []byte, f capture.Format) ([]byte, error) {
	fi, out, err := m.jc.parseHeader(data, m.out[:0])
	if err == nil {
		if err := checkSize(fi.geom.w, fi.geom.h); err != nil {
			return nil, fmt.Errorf("mask: mjpeg: %w", err)
		}
		out, err = m.jc.rewrite(data, out, &fi, m.blockPlan(fi.geom))
	}
	m.out = out[:0]
	if err == nil {
		m.fast.Add(1)
		return out, nil
	}
	var fe *fallbackError
	if !errors.As(err, &fe) {
		return nil, fmt.Errorf("mask: mjpeg: %w", err)
	}
	res, ferr := m.fullDecode(data, f)
	if ferr != nil {
		return nil, fmt.Errorf("mask: mjpeg: %v; fallback: %w", err, ferr)
	}
	for i, r := range reasons {
		if r == fe.reason {
			m.fallbacks[i].Add(1)
		}
	}
	return res, nil
}
