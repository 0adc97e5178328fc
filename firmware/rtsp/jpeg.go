package rtsp

import (
	"bytes"
	"errors"
	"fmt"
)

// RFC 2435 limits: the RTP/JPEG header carries width and height in units
// of 8 pixels in one byte each.
const maxMJPEGSide = 2040

// errBadJPEG wraps every reason a frame cannot be sent as RFC 2435.
var errBadJPEG = errors.New("jpeg frame not sendable as RTP/JPEG (RFC 2435)")

// checkMJPEGSize reports whether a width×height stream can be sent as
// RFC 2435 at all.
func checkMJPEGSize(w, h int) error {
	if w <= 0 || h <= 0 || w%8 != 0 || h%8 != 0 || w > maxMJPEGSide || h > maxMJPEGSide {
		return fmt.Errorf("%w: size %dx%d: want multiples of 8 up to %d", errBadJPEG, w, h, maxMJPEGSide)
	}
	return nil
}

// jpegFrame is what checkJPEG learned about a frame.
type jpegFrame struct {
	width, height int
	// clean is true when the frame holds only segments gortsplib's
	// rtpmjpeg encoder walks correctly (SOI, APP0-2, COM, DQT, DHT, DRI,
	// SOF0, SOS, no fill bytes); otherwise it must go through sanitize.
	clean bool
	// segments to keep for sanitize: offsets [start,end) of DQT, DRI,
	// SOF0 and the SOS header, and where the scan data starts.
	keep [][2]int
	scan int
}

// checkJPEG verifies that b is a baseline, 3-component JPEG with 4:2:2
// or 4:2:0 sampling, 8-bit quantization tables 0 and 1 and the standard
// Huffman tables (RFC 2435 sends no Huffman tables: a receiver assumes
// the ones of JPEG Annex K.3), sized for RFC 2435. gortsplib's encoder
// panics or sends garbage for anything else, so every frame passes here
// first.
func checkJPEG(b []byte) (jpegFrame, error) {
	var f jpegFrame
	bad := func(format string, a ...any) (jpegFrame, error) {
		return jpegFrame{}, fmt.Errorf("%w: %s", errBadJPEG, fmt.Sprintf(format, a...))
	}
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return bad("no SOI marker")
	}
	f.clean = true
	var (
		sof     bool
		qtables [2]bool
		qsel    [3]byte
	)
	i := 2
	for {
		if i >= len(b) || b[i] != 0xff {
			return bad("no marker at offset %d", i)
		}
		start := i
		i++
		for i < len(b) && b[i] == 0xff { // fill bytes
			i++
			f.clean = false
		}
		if i+2 >= len(b) {
			return bad("truncated at offset %d", i)
		}
		m := b[i]
		i++
		if m == 0xd8 || m == 0xd9 || m == 0x01 || m >= 0xd0 && m <= 0xd7 {
			return bad("marker %#x before the scan", m)
		}
		seglen := int(b[i])<<8 | int(b[i+1])
		if seglen < 2 || i+seglen > len(b) {
			return bad("segment %#x of length %d at offset %d overruns the frame", m, seglen, start)
		}
		seg := b[i+2 : i+seglen]
		end := i + seglen
		switch {
		case m == 0xdb: // DQT
			for len(seg) > 0 {
				pq, tq := seg[0]>>4, seg[0]&0x0f
				if pq != 0 {
					return bad("16-bit quantization table")
				}
				if tq > 1 {
					return bad("quantization table id %d (want 0 or 1)", tq)
				}
				if len(seg) < 65 {
					return bad("short quantization table")
				}
				qtables[tq] = true
				seg = seg[65:]
			}
			f.keep = append(f.keep, [2]int{start, end})
		case m == 0xc4: // DHT
			if err := checkStandardHuffman(seg); err != nil {
				return bad("%v", err)
			}
		case m == 0xdd: // DRI
			if len(seg) != 2 {
				return bad("DRI of length %d", len(seg))
			}
			f.keep = append(f.keep, [2]int{start, end})
		case m == 0xc0: // SOF0, baseline
			if len(seg) != 15 {
				return bad("SOF0 with %d components (want 3, YCbCr)", max(0, (len(seg)-6)/3))
			}
			if seg[0] != 8 {
				return bad("%d-bit samples", seg[0])
			}
			f.height = int(seg[1])<<8 | int(seg[2])
			f.width = int(seg[3])<<8 | int(seg[4])
			if seg[5] != 3 {
				return bad("%d components (want 3)", seg[5])
			}
			if s := seg[7]; s != 0x21 && s != 0x22 {
				return bad("luma sampling %#x (want 4:2:2 or 4:2:0)", s)
			}
			if seg[10] != 0x11 || seg[13] != 0x11 {
				return bad("chroma sampling %#x/%#x (want 0x11)", seg[10], seg[13])
			}
			qsel = [3]byte{seg[8], seg[11], seg[14]}
			sof = true
			f.keep = append(f.keep, [2]int{start, end})
		case m >= 0xc1 && m <= 0xcf && m != 0xc8 && m != 0xcc:
			return bad("SOF%d (only baseline SOF0 is allowed)", m-0xc0)
		case m == 0xda: // SOS
			if !sof {
				return bad("SOS before SOF0")
			}
			if len(seg) != 10 || seg[0] != 3 {
				return bad("scan with other than 3 components")
			}
			if seg[2] != 0x00 || seg[4] != 0x11 || seg[6] != 0x11 {
				return bad("scan Huffman selectors %#x/%#x/%#x (want 0x00/0x11/0x11)", seg[2], seg[4], seg[6])
			}
			if seg[7] != 0 || seg[8] != 63 || seg[9] != 0 {
				return bad("not a sequential baseline scan")
			}
			f.keep = append(f.keep, [2]int{start, end})
			f.scan = end
			if f.scan >= len(b) {
				return bad("no scan data")
			}
			// Quantization: table 0 for luma, table 1 (or 0) for both
			// chroma components, and the tables used must be present.
			if qsel[0] != 0 || qsel[1] != qsel[2] || qsel[1] > 1 || !qtables[0] || !qtables[qsel[1]] {
				return bad("quantization table selectors %v with tables %v", qsel, qtables)
			}
			if qtables[1] && qsel[1] != 1 {
				return bad("unused quantization table 1")
			}
			if err := checkMJPEGSize(f.width, f.height); err != nil {
				return jpegFrame{}, err
			}
			return f, nil
		case m == 0xe0 || m == 0xe1 || m == 0xe2 || m == 0xfe:
			// skipped by the encoder
		default:
			// APP3..APP15 and others: harmless, but the encoder would
			// not skip them.
			f.clean = false
		}
		i = end
	}
}

// sanitize returns, in dst, a copy of b holding only the segments RFC
// 2435 needs (for a frame checkJPEG found not clean).
func sanitize(dst, b []byte, f jpegFrame) []byte {
	dst = append(dst[:0], 0xff, 0xd8)
	for _, k := range f.keep {
		seg := b[k[0]:k[1]]
		for len(seg) > 0 && seg[0] == 0xff { // the marker's 0xff and fill bytes
			seg = seg[1:]
		}
		dst = append(dst, 0xff)
		dst = append(dst, seg...)
	}
	return append(dst, b[f.scan:]...)
}

// checkStandardHuffman verifies a DHT segment defines only the standard
// tables of JPEG Annex K.3 (class 0/1, id 0 luma, id 1 chroma).
func checkStandardHuffman(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return fmt.Errorf("short Huffman table")
		}
		class, id := seg[0]>>4, seg[0]&0x0f
		if class > 1 || id > 1 {
			return fmt.Errorf("Huffman table class %d id %d (want class 0/1, id 0/1)", class, id)
		}
		n := 0
		for _, c := range seg[1:17] {
			n += int(c)
		}
		if len(seg) < 17+n {
			return fmt.Errorf("short Huffman table")
		}
		std := stdHuffman[class][id]
		if !bytes.Equal(seg[1:17], std.bits[:]) || !bytes.Equal(seg[17:17+n], std.vals) {
			return fmt.Errorf("non-standard Huffman table class %d id %d (RFC 2435 receivers assume the standard ones)", class, id)
		}
		seg = seg[17+n:]
	}
	return nil
}

type huffSpec struct {
	bits [16]byte
	vals []byte
}

// stdHuffman are the tables of JPEG Annex K.3, by class (DC, AC) and id
// (luma, chroma).
var stdHuffman = [2][2]huffSpec{
	{
		{[16]byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{[16]byte{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	},
	{
		{[16]byte{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d}, []byte{
			0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
			0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
			0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
			0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
			0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
			0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
			0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
			0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
			0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
			0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa,
		}},
		{[16]byte{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77}, []byte{
			0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
			0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
			0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
			0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
			0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
			0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
			0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
			0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
			0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
			0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa,
		}},
	},
}
