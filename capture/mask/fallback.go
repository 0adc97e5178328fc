package mask

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"

	"github.com/doorbelld/doorbelld/capture"
)

// fbuffer is a bytes.Buffer that image/jpeg writes to without wrapping it
// in a bufio.Writer.
type fbuffer struct{ bytes.Buffer }

func (*fbuffer) Flush() error { return nil }

// fullDecode masks a JPEG the slow way: decode it fully with image/jpeg,
// fill the covered pixels, and encode it again at FallbackQuality. The
// result is in m.fb, valid until the next Apply.
//
// The decode costs time and memory by the size the frame claims, so a
// frame claiming to be larger than the stream's format f (when f has a
// size; one MCU of slack) is refused: a corrupt header must not stall the
// capture goroutine for seconds.
func (m *Masker) fullDecode(data []byte, f capture.Format) ([]byte, error) {
	data = m.withDHT(data)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	if f.Width > 0 && f.Height > 0 && (cfg.Width > f.Width+mcuSlack || cfg.Height > f.Height+mcuSlack) {
		return nil, fmt.Errorf("the frame claims %dx%d, larger than the stream's %dx%d", cfg.Width, cfg.Height, f.Width, f.Height)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	b := img.Bounds()
	px := m.coverage(b.Dx(), b.Dy())
	switch im := img.(type) {
	case *image.YCbCr:
		fillYCbCr(im, px)
	case *image.Gray:
		for y, row := range px.rows {
			line := im.Pix[y*im.Stride:]
			for _, s := range row {
				fillBytes(line[s.x0:s.x1])
			}
		}
	default: // CMYK and anything else: via RGBA
		rgba := image.NewRGBA(b)
		draw.Draw(rgba, b, img, b.Min, draw.Src)
		grey := color.RGBA{Fill, Fill, Fill, 255}
		for y, row := range px.rows {
			for _, s := range row {
				for x := s.x0; x < s.x1; x++ {
					rgba.SetRGBA(b.Min.X+x, b.Min.Y+y, grey)
				}
			}
		}
		img = rgba
	}
	m.fb.Reset()
	if err := jpeg.Encode(&m.fb, img, &jpeg.Options{Quality: m.opts.FallbackQuality}); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return m.fb.Bytes(), nil
}

// mcuSlack is how much larger than the stream's format a frame may be
// for the fallback: one 16x16 MCU.
const mcuSlack = 16

func fillBytes(b []byte) {
	for i := range b {
		b[i] = Fill
	}
}

// fillYCbCr fills the covered pixels' luma, and every chroma sample that a
// covered pixel uses.
func fillYCbCr(im *image.YCbCr, px *pixels) {
	sx, sy := 1, 1
	switch im.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		sx = 2
	case image.YCbCrSubsampleRatio420:
		sx, sy = 2, 2
	case image.YCbCrSubsampleRatio440:
		sy = 2
	case image.YCbCrSubsampleRatio411:
		sx = 4
	case image.YCbCrSubsampleRatio410:
		sx, sy = 4, 2
	}
	for y, row := range px.rows {
		yl := im.Y[y*im.YStride:]
		cb := im.Cb[(y/sy)*im.CStride:]
		cr := im.Cr[(y/sy)*im.CStride:]
		for _, s := range row {
			fillBytes(yl[s.x0:s.x1])
			c0, c1 := s.x0/sx, (s.x1-1)/sx+1
			fillBytes(cb[c0:c1])
			fillBytes(cr[c0:c1])
		}
	}
}

// withDHT returns data with the standard Huffman tables inserted before
// SOS if its header defines none (Motion-JPEG frames may omit them;
// image/jpeg then fails), else data itself.
func (m *Masker) withDHT(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xff || data[1] != mSOI {
		return data
	}
	for i := 2; i+4 <= len(data) && data[i] == 0xff; {
		mk := data[i+1]
		switch {
		case mk == mDHT:
			return data
		case mk == 0xff:
			i++
			continue
		case mk == mSOS:
			var dht []byte
			for tc := range m.jc.std {
				for _, t := range m.jc.std[tc] {
					dht = append(dht, t...)
				}
			}
			out := make([]byte, 0, len(data)+len(dht)+4)
			out = append(out, data[:i]...)
			out = append(out, 0xff, mDHT)
			out = binary.BigEndian.AppendUint16(out, uint16(len(dht)+2))
			out = append(out, dht...)
			return append(out, data[i:]...)
		}
		i += 2 + int(binary.BigEndian.Uint16(data[i+2:]))
	}
	return data
}
