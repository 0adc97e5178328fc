package mask

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
)

// lutBits is how many bits the fast Huffman lookup takes at once; longer
// codes take the canonical slow path.
const lutBits = 9

// runBits is how many bits the AC run table looks at once (2¹² entries
// of 2 bytes: 8 KB a table, two in use per frame).
const runBits = 12

// AC run table entries: the bits the codes take, with their extra bits,
// the coefficients they advance, and whether the last one is an EOB.
const (
	runLenMask  = 0x1f
	runIncShift = 5
	runIncMask  = 0x7f
	runEOB      = 1 << 12
)

// huffTable is one Huffman table, built for decoding and encoding.
type huffTable struct {
	// lut maps the next lutBits bits to codeLength<<8 | symbol, or 0 if
	// the code is longer than lutBits (or invalid).
	lut [1 << lutBits]uint16
	// maxCode[l] is the largest code of length l, -1 if none; valPtr[l]
	// indexes vals at the first code of length l, minus that code.
	maxCode [17]int32
	valPtr  [17]int32
	vals    [256]uint8
	// skip is for walking AC codes without their values: for a code of at
	// most lutBits bits, its length plus its extra bits in the low byte
	// and the coefficients it advances (run+1, 16 for ZRL, 0 for EOB) in
	// the next; 0 if the code is longer.
	skip [1 << lutBits]uint16
	// run is for walking AC codes without their values, several at a
	// time: indexed by the next runBits bits, it sums the length (code and
	// extra bits, runLenMask), the coefficients advanced (runIncShift) and
	// whether the last is an EOB (runEOB) of as many whole codes as the
	// index holds: the first code must fit (its extra bits may run past),
	// each further code must fit with its extra bits, and an EOB ends the
	// run. 0 if the first code is longer than runBits.
	run [1 << runBits]uint16
	// code and size are the encoder's view: size 0 means no code.
	code [256]uint16
	size [256]uint8
	raw  []byte // the DHT bytes it was built from (counts and values)
}

var errBadHuffman = errors.New("bad huffman table")

// build fills t from the 16 code-length counts and the symbol values of a
// DHT table (raw = counts followed by values).
func (t *huffTable) build(raw []byte) error {
	if len(raw) < 16 {
		return errBadHuffman
	}
	total := 0
	for _, n := range raw[:16] {
		total += int(n)
	}
	if total == 0 || total > 256 || len(raw) != 16+total {
		return fmt.Errorf("%w: %d symbols", errBadHuffman, total)
	}
	*t = huffTable{raw: append(t.raw[:0], raw...)}
	vals := raw[16:]
	copy(t.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(raw[l-1])
		t.valPtr[l] = k - code
		t.maxCode[l] = -1
		if n > 0 {
			t.maxCode[l] = code + n - 1
		}
		for i := int32(0); i < n; i++ {
			if code >= 1<<l {
				return fmt.Errorf("%w: too many codes of length %d", errBadHuffman, l)
			}
			sym := vals[k]
			if t.size[sym] == 0 { // the first code of a duplicated symbol wins
				t.code[sym], t.size[sym] = uint16(code), uint8(l)
			}
			if l <= lutBits {
				lo := code << (lutBits - l)
				for j := int32(0); j < 1<<(lutBits-l); j++ {
					t.lut[lo+j] = uint16(l)<<8 | uint16(sym)
					t.skip[lo+j] = skipEntry(l, sym)
				}
			}
			code++
			k++
		}
		code <<= 1
	}
	for i := range t.run {
		t.run[i] = t.runEntry(uint32(i))
	}
	return nil
}

// runEntry computes run[i]: it decodes whole codes from the runBits bits
// of i, by the canonical rule (F.2.2.3).
func (t *huffTable) runEntry(i uint32) uint16 {
	used, inc := 0, 0
	for k := 0; ; k++ {
		sym, l := -1, 0
		for l = 1; l <= 16 && used+l <= runBits; l++ {
			code := int32(i>>(runBits-used-l)) & (1<<l - 1)
			if code <= t.maxCode[l] {
				if v := t.valPtr[l] + code; v >= 0 && v <= 255 {
					sym = int(t.vals[v])
				}
				break
			}
		}
		if sym < 0 {
			break // no (valid) code that fits
		}
		e := skipEntry(l, byte(sym))
		n, step := int(e&0xff), int(e>>8)
		if k > 0 && (used+n > runBits || inc+step > 64) {
			break
		}
		used += n
		inc += step
		if step == 0 { // EOB
			return uint16(used) | uint16(inc)<<runIncShift | runEOB
		}
		if k == 0 && used > runBits {
			break // extra bits run past the index: nothing can follow
		}
	}
	if used == 0 {
		return 0
	}
	return uint16(used) | uint16(inc)<<runIncShift
}

// skipEntry is a skip table entry for AC symbol sym with an l-bit code.
func skipEntry(l int, sym byte) uint16 {
	size, run := int(sym&15), int(sym>>4)
	inc := run + 1
	if size == 0 {
		inc = 0 // EOB (any run but 15)
		if run == 15 {
			inc = 16 // ZRL
		}
	}
	return uint16(inc)<<8 | uint16(l+size)
}

// standardTables returns the four tables of JPEG Annex K.3 (DC and AC,
// luma and chroma), which Motion-JPEG frames without a DHT segment use,
// indexed [class][id], each as a DHT payload: the class/id byte, the 16
// counts, the values. image/jpeg writes exactly these, so they are read
// from a tiny encoded image rather than typed in.
func standardTables() ([2][2][]byte, error) {
	var out [2][2][]byte
	var buf bytes.Buffer
	img := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420)
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		return out, fmt.Errorf("encode reference jpeg: %w", err)
	}
	b := buf.Bytes()
	for i := 2; i+4 <= len(b) && b[i] == 0xff; {
		n := int(b[i+2])<<8 | int(b[i+3])
		if i+2+n > len(b) {
			break
		}
		if b[i+1] == mDHT {
			seg := b[i+4 : i+2+n]
			for len(seg) >= 17 {
				tc, th := seg[0]>>4, seg[0]&15
				total := 0
				for _, c := range seg[1:17] {
					total += int(c)
				}
				if tc > 1 || th > 1 || len(seg) < 17+total {
					return out, errors.New("reference jpeg: odd DHT")
				}
				out[tc][th] = bytes.Clone(seg[:17+total])
				seg = seg[17+total:]
			}
		}
		i += 2 + n
	}
	for tc := range out {
		for th := range out[tc] {
			if out[tc][th] == nil {
				return out, errors.New("reference jpeg: missing a standard table")
			}
		}
	}
	return out, nil
}
