package capture

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"sync"
)

// DefaultJPEGQuality is the quality YUYV frames are encoded at (snapshots
// and clips) when none is configured.
const DefaultJPEGQuality = 85

// EncodeJPEG returns frame f as a JPEG file. An MJPEG frame is returned
// as it is, except that the standard Huffman tables are inserted if the
// camera left them out (many UVC cameras do; decoders then fail). A YUYV
// frame is encoded at the given quality (1..100).
func EncodeJPEG(f Frame, quality int) ([]byte, error) {
	switch f.Format.PixelFormat {
	case PixMJPEG:
		out, err := withHuffmanTables(f.Data)
		if err != nil {
			return nil, fmt.Errorf("mjpeg frame %d: %w", f.Seq, err)
		}
		return out, nil
	case PixYUYV:
		img, err := YUYVImage(f.Data, f.Format.Width, f.Format.Height)
		if err != nil {
			return nil, fmt.Errorf("yuyv frame %d: %w", f.Seq, err)
		}
		var buf bytes.Buffer
		buf.Grow(f.Format.Width * f.Format.Height / 4)
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
			return nil, fmt.Errorf("yuyv frame %d: encode jpeg: %w", f.Seq, err)
		}
		return buf.Bytes(), nil
	default:
		return nil, fmt.Errorf("frame %d: unsupported pixel format %q", f.Seq, f.Format.PixelFormat)
	}
}

// YUYVImage converts one packed YUV 4:2:2 frame (Y0 U Y1 V, width*2 bytes a
// row) to an image.YCbCr with 4:2:2 subsampling. It copies the samples;
// data is not retained.
func YUYVImage(data []byte, width, height int) (*image.YCbCr, error) {
	if width <= 0 || height <= 0 || width%2 != 0 {
		return nil, fmt.Errorf("yuyv: bad size %dx%d (width must be even)", width, height)
	}
	stride := width * 2
	if len(data) < stride*height {
		return nil, fmt.Errorf("yuyv: %d bytes, want %d for %dx%d", len(data), stride*height, width, height)
	}
	img := image.NewYCbCr(image.Rect(0, 0, width, height), image.YCbCrSubsampleRatio422)
	for y := 0; y < height; y++ {
		src := data[y*stride : (y+1)*stride]
		yy := img.Y[y*img.YStride : y*img.YStride+width]
		cb := img.Cb[y*img.CStride : y*img.CStride+width/2]
		cr := img.Cr[y*img.CStride : y*img.CStride+width/2]
		for i := range cb {
			p := src[4*i : 4*i+4]
			yy[2*i] = p[0]
			cb[i] = p[1]
			yy[2*i+1] = p[2]
			cr[i] = p[3]
		}
	}
	return img, nil
}

// JPEG markers.
const (
	markerSOI = 0xd8
	markerEOI = 0xd9
	markerSOS = 0xda
	markerDHT = 0xc4
	markerTEM = 0x01
	markerRST = 0xd0 // RST0..RST7 are 0xd0..0xd7
)

var (
	errNotJPEG   = errors.New("not a jpeg: no SOI marker")
	errTruncated = errors.New("truncated jpeg header")
)

// withHuffmanTables returns b unchanged if its header defines Huffman
// tables (a DHT segment before SOS), and otherwise a copy with the
// standard tables of JPEG Annex K.3 inserted before SOS, as Motion-JPEG
// (AVI1) streams expect decoders to assume.
func withHuffmanTables(b []byte) ([]byte, error) {
	if len(b) < 4 || b[0] != 0xff || b[1] != markerSOI {
		return nil, errNotJPEG
	}
	i := 2
	for {
		// Markers may be preceded by any number of 0xff fill bytes.
		if i >= len(b) || b[i] != 0xff {
			return nil, fmt.Errorf("%w: no marker at offset %d", errTruncated, i)
		}
		for i < len(b) && b[i] == 0xff {
			i++
		}
		if i >= len(b) {
			return nil, errTruncated
		}
		m := b[i]
		switch {
		case m == markerDHT:
			return b, nil
		case m == markerSOS:
			sos := i - 1 // the 0xff before it
			dht := standardDHT()
			out := make([]byte, 0, len(b)+len(dht))
			out = append(out, b[:sos]...)
			out = append(out, dht...)
			return append(out, b[sos:]...), nil
		case m == markerEOI:
			return nil, fmt.Errorf("%w: EOI before SOS", errTruncated)
		case m == markerTEM || m == markerSOI || (m >= markerRST && m <= markerRST+7):
			i++ // no length field
			continue
		}
		if i+2 >= len(b) {
			return nil, errTruncated
		}
		n := int(b[i+1])<<8 | int(b[i+2])
		if n < 2 {
			return nil, fmt.Errorf("bad segment length %d at offset %d", n, i+1)
		}
		i += 1 + n
	}
}

// standardDHT is one DHT segment (marker included) with the four standard
// tables. image/jpeg writes exactly these, so it is taken from a tiny
// encoded colour image rather than typed in.
var standardDHT = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	img := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420)
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		panic("capture: encode reference jpeg: " + err.Error())
	}
	b := buf.Bytes()
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			break
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if b[i+1] == markerDHT {
			return bytes.Clone(b[i : i+2+n])
		}
		i += 2 + n
	}
	panic("capture: reference jpeg has no DHT segment")
})
