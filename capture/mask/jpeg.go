package mask

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// JPEG markers.
const (
	mSOF0 = 0xc0
	mSOF1 = 0xc1
	mSOF2 = 0xc2
	mDHT  = 0xc4
	mRST0 = 0xd0
	mSOI  = 0xd8
	mEOI  = 0xd9
	mSOS  = 0xda
	mDQT  = 0xdb
	mDNL  = 0xdc
	mDRI  = 0xdd
	mAPP0 = 0xe0
	mAPPE = 0xee
	mCOM  = 0xfe
	mTEM  = 0x01
)

// Frame size limits: larger frames are refused (no plan is built for them).
const (
	maxSide   = 16384
	maxPixels = 1 << 26
)

// clean buffers carry this many zero bytes after the entropy data, so the
// bit reader may look ahead without bounds checks: one block reads at most
// 65 symbols of at most 32 bits each.
const lookahead = 512

// fallbackError is a frame the DCT-domain path cannot handle; reason says
// why, and the frame is then decoded and re-encoded in full.
type fallbackError struct {
	reason Reason
	err    error
}

func (e *fallbackError) Error() string { return string(e.reason) + ": " + e.err.Error() }
func (e *fallbackError) Unwrap() error { return e.err }

func fallback(r Reason, format string, args ...any) error {
	return &fallbackError{reason: r, err: fmt.Errorf(format, args...)}
}

var errMissingCode = errors.New("a code the masked blocks need is not in the frame's huffman table")

// scanComp is one component of the scan, with its decoding state.
type scanComp struct {
	c       int // index in the frame
	h, v    int // blocks per MCU across and down
	dc, ac  *huffTable
	bits    bitset // touched blocks
	stride  int
	inPred  int32 // DC predictor of the input
	outPred int32 // DC predictor of the output
}

// segment is one restart interval of entropy-coded data: data[start:end],
// still byte-stuffed.
type segment struct{ start, end int }

// frameInfo is what the header of a JPEG says.
type frameInfo struct {
	geom  jpegGeom
	ids   [4]byte
	ri    int // restart interval in MCUs, 0 for none
	comps []scanComp
	scan  int // offset of the first entropy-coded byte
}

// jpegCodec holds the DCT-domain path's reusable state. It is used by one
// goroutine at a time (the Masker's lock).
type jpegCodec struct {
	tables  [2][4]huffTable // [class][id], kept across frames as a cache
	defined [2][4]bool      // defined by the current frame (or standard)
	std     [2][2][]byte    // standard tables as DHT payloads (class/id byte first)
	comps   [4]scanComp
	segs    []segment
	clean   []byte
	w       bitWriter
}

// parseHeader reads the markers up to the first scan, appending the
// segments that are kept to out (everything but APPn segments, which may
// carry thumbnails, except a short APP0 and APP14).
func (j *jpegCodec) parseHeader(data, out []byte) (frameInfo, []byte, error) {
	var fi frameInfo
	j.defined = [2][4]bool{}
	if len(data) < 4 || data[0] != 0xff || data[1] != mSOI {
		return fi, out, fallback(ReasonCorrupt, "no SOI marker")
	}
	out = append(out, 0xff, mSOI)
	sawSOF := false
	i := 2
	for {
		if i >= len(data) || data[i] != 0xff {
			return fi, out, fallback(ReasonCorrupt, "no marker at offset %d", i)
		}
		for i < len(data) && data[i] == 0xff {
			i++
		}
		if i >= len(data) {
			return fi, out, fallback(ReasonCorrupt, "truncated header")
		}
		m := data[i]
		i++
		if m == mTEM || (m >= mRST0 && m <= mRST0+7) {
			continue // no length
		}
		if m == mSOI || m == mEOI {
			return fi, out, fallback(ReasonCorrupt, "marker %#x before the scan", m)
		}
		if i+2 > len(data) {
			return fi, out, fallback(ReasonCorrupt, "truncated header")
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 || i+n > len(data) {
			return fi, out, fallback(ReasonCorrupt, "marker %#x: bad length %d", m, n)
		}
		seg := data[i+2 : i+n]
		whole := data[i-2 : i+n] // 0xff, marker, length, payload
		i += n
		keep := true
		switch {
		case m == mSOF0 || m == mSOF1:
			if sawSOF {
				return fi, out, fallback(ReasonCorrupt, "two SOF markers")
			}
			sawSOF = true
			if err := fi.parseSOF(seg); err != nil {
				return fi, out, err
			}
		case m == mSOF2:
			return fi, out, fallback(ReasonProgressive, "progressive (SOF2)")
		case m >= 0xc9 && m <= 0xcf: // SOF9..SOF15 and DAC
			return fi, out, fallback(ReasonUnsupported, "arithmetic coding (marker %#x)", m)
		case m >= 0xc3 && m <= 0xc8 && m != mDHT:
			return fi, out, fallback(ReasonUnsupported, "marker %#x (lossless or hierarchical)", m)
		case m == mDHT:
			if err := j.parseDHT(seg); err != nil {
				return fi, out, err
			}
		case m == mDRI:
			if len(seg) != 2 {
				return fi, out, fallback(ReasonCorrupt, "DRI length %d", len(seg))
			}
			fi.ri = int(binary.BigEndian.Uint16(seg))
		case m == mDNL || m == 0xde || m == 0xdf:
			return fi, out, fallback(ReasonUnsupported, "marker %#x", m)
		case m >= mAPP0 && m <= 0xef:
			keep = (m == mAPP0 && len(seg) <= 14) || m == mAPPE
		case m == mSOS:
			if !sawSOF {
				return fi, out, fallback(ReasonCorrupt, "SOS before SOF")
			}
			if err := j.parseSOS(&fi, seg); err != nil {
				return fi, out, err
			}
			fi.scan = i
			return fi, append(out, whole...), nil
		}
		if keep {
			out = append(out, whole...)
		}
	}
}

func (fi *frameInfo) parseSOF(seg []byte) error {
	if len(seg) < 6 {
		return fallback(ReasonCorrupt, "SOF too short")
	}
	if seg[0] != 8 {
		return fallback(ReasonUnsupported, "%d-bit samples", seg[0])
	}
	h, w, n := int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:])), int(seg[5])
	if h == 0 {
		return fallback(ReasonUnsupported, "height defined by DNL")
	}
	if w == 0 || n < 1 || n > 4 || len(seg) != 6+3*n {
		return fallback(ReasonCorrupt, "SOF: %dx%d, %d components, %d bytes", w, h, n, len(seg))
	}
	g := jpegGeom{w: w, h: h, n: n, hmax: 1, vmax: 1}
	for c := 0; c < n; c++ {
		p := seg[6+3*c:]
		fi.ids[c] = p[0]
		g.hs[c], g.vs[c] = int(p[1]>>4), int(p[1]&15)
		if g.hs[c] < 1 || g.hs[c] > 4 || g.vs[c] < 1 || g.vs[c] > 4 {
			return fallback(ReasonCorrupt, "component %d: sampling %dx%d", c, g.hs[c], g.vs[c])
		}
		g.hmax, g.vmax = max(g.hmax, g.hs[c]), max(g.vmax, g.vs[c])
	}
	if n == 1 {
		g.hs[0], g.vs[0], g.hmax, g.vmax = 1, 1, 1, 1
	}
	for c := 0; c < n; c++ {
		if g.hmax%g.hs[c] != 0 || g.vmax%g.vs[c] != 0 {
			return fallback(ReasonSampling, "component %d: sampling %dx%d in %dx%d", c, g.hs[c], g.vs[c], g.hmax, g.vmax)
		}
	}
	g.mcusX = (w + 8*g.hmax - 1) / (8 * g.hmax)
	g.mcusY = (h + 8*g.vmax - 1) / (8 * g.vmax)
	fi.geom = g
	return nil
}

func (j *jpegCodec) parseDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return fallback(ReasonCorrupt, "DHT too short")
		}
		tc, th := int(seg[0]>>4), int(seg[0]&15)
		if tc > 1 || th > 3 {
			return fallback(ReasonCorrupt, "DHT class %d id %d", tc, th)
		}
		total := 0
		for _, c := range seg[1:17] {
			total += int(c)
		}
		if len(seg) < 17+total {
			return fallback(ReasonCorrupt, "DHT truncated")
		}
		raw := seg[1 : 17+total]
		t := &j.tables[tc][th]
		if !bytes.Equal(t.raw, raw) || t.raw == nil {
			if err := t.build(raw); err != nil {
				t.raw = t.raw[:0]
				return fallback(ReasonCorrupt, "DHT class %d id %d: %v", tc, th, err)
			}
		}
		j.defined[tc][th] = true
		seg = seg[17+total:]
	}
	return nil
}

// table returns the Huffman table class tc id th for this frame: the one
// its DHT defined, or the standard one if the frame defines none (as
// Motion-JPEG allows).
func (j *jpegCodec) table(tc, th int) (*huffTable, error) {
	if th > 3 {
		return nil, fallback(ReasonCorrupt, "huffman table class %d id %d", tc, th)
	}
	if j.defined[tc][th] {
		return &j.tables[tc][th], nil
	}
	if th > 1 {
		return nil, fallback(ReasonCorrupt, "huffman table class %d id %d not defined", tc, th)
	}
	if err := j.parseDHT(j.std[tc][th]); err != nil {
		return nil, err
	}
	return &j.tables[tc][th], nil
}

func (j *jpegCodec) parseSOS(fi *frameInfo, seg []byte) error {
	g := &fi.geom
	if len(seg) < 1 {
		return fallback(ReasonCorrupt, "SOS too short")
	}
	ns := int(seg[0])
	if len(seg) != 4+2*ns || ns < 1 || ns > 4 {
		return fallback(ReasonCorrupt, "SOS: %d components in %d bytes", ns, len(seg))
	}
	if ns != g.n {
		return fallback(ReasonMultiScan, "scan has %d of %d components", ns, g.n)
	}
	if ss, se, a := seg[1+2*ns], seg[2+2*ns], seg[3+2*ns]; ss != 0 || se != 63 || a != 0 {
		return fallback(ReasonCorrupt, "baseline scan with Ss=%d Se=%d Ah/Al=%#x", ss, se, a)
	}
	perMCU := 0
	fi.comps = j.comps[:ns]
	for k := 0; k < ns; k++ {
		id, sel := seg[1+2*k], seg[2+2*k]
		c := -1
		for q := 0; q < g.n; q++ {
			if fi.ids[q] == id {
				c = q
			}
		}
		if c < 0 {
			return fallback(ReasonCorrupt, "scan component id %d not in frame", id)
		}
		for q := 0; q < k; q++ {
			if fi.comps[q].c == c {
				return fallback(ReasonCorrupt, "scan component id %d twice", id)
			}
		}
		dc, err := j.table(0, int(sel>>4))
		if err != nil {
			return err
		}
		ac, err := j.table(1, int(sel&15))
		if err != nil {
			return err
		}
		fi.comps[k] = scanComp{c: c, h: g.hs[c], v: g.vs[c], dc: dc, ac: ac}
		perMCU += g.hs[c] * g.vs[c]
	}
	if perMCU > 10 {
		return fallback(ReasonCorrupt, "%d blocks per MCU (max 10)", perMCU)
	}
	return nil
}

// splitScan finds the restart intervals of the scan starting at data[i]
// and returns the offset of the marker that ends it.
func (j *jpegCodec) splitScan(data []byte, i int) (int, error) {
	j.segs = j.segs[:0]
	start := i
	for {
		k := bytes.IndexByte(data[i:], 0xff)
		if k < 0 {
			return 0, fallback(ReasonCorrupt, "scan not terminated by a marker")
		}
		i += k
		at := i
		i++
		for i < len(data) && data[i] == 0xff {
			i++
		}
		if i >= len(data) {
			return 0, fallback(ReasonCorrupt, "scan not terminated by a marker")
		}
		b := data[i]
		i++
		switch {
		case b == 0 && i == at+2:
			continue // stuffed 0xff
		case b == 0:
			return 0, fallback(ReasonCorrupt, "fill bytes before 0x00 at offset %d", at)
		case b >= mRST0 && b <= mRST0+7:
			if want := mRST0 + byte(len(j.segs)&7); b != want {
				return 0, fallback(ReasonCorrupt, "restart marker %#x, want %#x", b, want)
			}
			j.segs = append(j.segs, segment{start, at})
			start = i
		default:
			j.segs = append(j.segs, segment{start, at})
			return at, nil
		}
	}
}

// destuff copies the entropy-coded bytes of s without stuffing into
// j.clean, followed by lookahead zero bytes, and returns the data's
// length in bits.
func (j *jpegCodec) destuff(data []byte, s segment) uint {
	c := j.clean[:0]
	b := data[s.start:s.end]
	for {
		k := bytes.IndexByte(b, 0xff)
		if k < 0 {
			c = append(c, b...)
			break
		}
		c = append(c, b[:k+1]...)
		b = b[k+2:] // skip the stuffed 0x00 (splitScan checked it is there)
	}
	n := len(c)
	c = append(c, make([]byte, lookahead)...)
	j.clean = c
	return uint(n) * 8
}

// rewrite masks the baseline JPEG in data, appending the result to out.
// It returns a *fallbackError for frames it cannot handle in the DCT
// domain.
func (j *jpegCodec) rewrite(data, out []byte, fi *frameInfo, plan *blockPlan) ([]byte, error) {
	end, err := j.splitScan(data, fi.scan)
	if err != nil {
		return out, err
	}
	if end+1 >= len(data) || data[end+1] != mEOI {
		// Scan-by-scan frames keep further scans; unsupported here.
		return out, fallback(ReasonMultiScan, "marker %#x after the first scan", data[min(end+1, len(data)-1)])
	}
	g := &fi.geom
	total := g.mcusX * g.mcusY
	ri := fi.ri
	if ri == 0 {
		ri = total
	}
	if want := (total + ri - 1) / ri; len(j.segs) != want {
		return out, fallback(ReasonCorrupt, "%d restart intervals, want %d", len(j.segs), want)
	}
	for k := range fi.comps {
		sc := &fi.comps[k]
		sc.bits, sc.stride = plan.comp[sc.c], plan.stride[sc.c]
	}
	// A frame that failed mid-interval leaves bits in the writer: start
	// afresh, or they would shift this frame's scan.
	j.w = bitWriter{out: out}
	for idx, s := range j.segs {
		lo := idx * ri
		hi := min(lo+ri, total)
		if !plan.mcu.anyIn(lo, hi) {
			j.w.out = append(j.w.out, data[s.start:s.end]...)
		} else if err := j.rewriteInterval(data, s, fi, lo, hi, plan.mcu.lastIn(lo, hi)); err != nil {
			return j.w.out, err
		}
		if idx < len(j.segs)-1 {
			j.w.out = append(j.w.out, 0xff, mRST0+byte(idx&7))
		}
	}
	return append(j.w.out, 0xff, mEOI), nil
}

// rewriteInterval re-codes one restart interval (MCUs lo..hi-1, the last
// one the mask touches is last): touched blocks become flat, the DC
// difference of the first untouched block after them is re-coded, and
// every other block's bits are copied unchanged. Once every component's
// output predictor agrees with the input's again after the last touched
// MCU, the rest of the interval is copied without being walked.
//
// The walk reads bits through a 64-bit buffer refilled without branches
// and skips AC codes several at a time through huffTable.run: only the DC
// differences are decoded into values.
func (j *jpegCodec) rewriteInterval(data []byte, s segment, fi *frameInfo, lo, hi, last int) error {
	endBits := j.destuff(data, s)
	buf := j.clean
	w := &j.w
	for k := range fi.comps {
		fi.comps[k].inPred, fi.comps[k].outPred = 0, 0
	}
	mcusX := fi.geom.mcusX
	var pend uint // start of the bits not yet copied
	// The bit reader: the top cnt bits of acc are the next bits to read,
	// the bits after them those of buf[p:] (bit position p*8-cnt). refill
	// makes cnt ≥ 56; a step takes at most 27 bits, so two steps follow
	// each refill (a longer code re-syncs).
	var acc uint64
	var cnt, p uint
	refill := func() {
		acc |= binary.BigEndian.Uint64(buf[p:]) >> (cnt & 63)
		p += (63 - cnt) >> 3
		cnt |= 56
	}
	seek := func(q uint) {
		p = q >> 3
		acc = binary.BigEndian.Uint64(buf[p:]) << (q & 7)
		p += 7
		cnt = 56 - q&7
	}
	seek(0)
	tailChecked := false
	for mcu := lo; mcu < hi; mcu++ {
		if mcu > last && !tailChecked {
			synced := true
			for k := range fi.comps {
				synced = synced && fi.comps[k].inPred == fi.comps[k].outPred
			}
			if synced {
				tailChecked = true
				if j.tailExact(pend, endBits) {
					w.copyBits(buf, pend, endBits)
					w.pad()
					return nil
				}
			}
		}
		mx, my := mcu%mcusX, mcu/mcusX
		for k := range fi.comps {
			sc := &fi.comps[k]
			dcT, acT := sc.dc, sc.ac
			for v := 0; v < sc.v; v++ {
				row := (my*sc.v+v)*sc.stride + mx*sc.h
				for h := 0; h < sc.h; h++ {
					refill()
					start := p*8 - cnt
					// DC: category, then that many bits.
					l, sym := uint(0), uint(0)
					if e := dcT.lut[acc>>(64-lutBits)]; e != 0 {
						l, sym = uint(e>>8), uint(e&0xff)
					} else {
						var ok bool
						if l, sym, ok = decode(dcT, buf, start); !ok {
							return fallback(ReasonCorrupt, "bad DC code at MCU %d", mcu)
						}
					}
					if sym > 11 {
						return fallback(ReasonCorrupt, "bad DC code at MCU %d", mcu)
					}
					var diff int32
					if sym > 0 {
						diff = extend(uint32(acc<<l>>(64-sym)), sym)
					}
					acc <<= (l + sym) & 63
					cnt -= l + sym
					acStart := p*8 - cnt
					// AC: skip to EOB or the 63rd coefficient, by the run
					// table, two steps a refill.
					n := uint(1)
				ac:
					for {
						refill()
						for range 2 {
							e := uint(acT.run[acc>>(64-runBits)])
							if inc := e >> runIncShift & runIncMask; e != 0 && n+inc < 64 {
								acc <<= e & runLenMask
								cnt -= e & runLenMask
								n += inc
								if e&runEOB != 0 {
									break ac
								}
								continue
							}
							// One code at a time near coefficient 63, or a long code.
							if e = uint(acT.skip[acc>>(64-lutBits)]); e != 0 {
								acc <<= e & 0xff & 63
								cnt -= e & 0xff
							} else {
								q := p*8 - cnt
								l, rs, ok := decode(acT, buf, q)
								if !ok {
									return fallback(ReasonCorrupt, "bad AC code at MCU %d", mcu)
								}
								e = uint(skipEntry(int(l), byte(rs)))
								seek(q + e&0xff)
							}
							inc := e >> 8
							if inc == 0 {
								break ac // EOB
							}
							n += inc
							if n > 64 {
								return fallback(ReasonCorrupt, "AC run past coefficient 63 at MCU %d", mcu)
							}
							if n == 64 {
								break ac
							}
						}
					}
					pos := p*8 - cnt
					if pos > endBits {
						return fallback(ReasonCorrupt, "scan truncated at MCU %d", mcu)
					}
					dc := sc.inPred + diff
					same := sc.inPred == sc.outPred
					sc.inPred = dc
					switch {
					case sc.bits.has(row + h):
						w.copyBits(buf, pend, start)
						if err := w.putDC(sc.dc, -sc.outPred); err != nil {
							return err
						}
						if sc.ac.size[0] == 0 {
							return fallback(ReasonHuffman, "%w: EOB", errMissingCode)
						}
						w.put(uint64(sc.ac.code[0]), uint(sc.ac.size[0]))
						sc.outPred = 0
						pend = pos
					case !same:
						w.copyBits(buf, pend, start)
						if err := w.putDC(sc.dc, dc-sc.outPred); err != nil {
							return err
						}
						sc.outPred = dc
						pend = acStart
					default: // bits unchanged: copied with the next flush
						sc.outPred = dc
					}
				}
			}
		}
	}
	w.copyBits(buf, pend, p*8-cnt)
	w.pad()
	return nil
}

// tailExact reports whether copying bits [from, end) of j.clean, the rest
// of an interval, and padding gives the very bytes a walk to the end
// would: the copy carries the input's padding bits (1s, up to 7) along,
// which is harmless unless they spill into a byte of their own. They may
// when the copy leaves the output r > 0 bits into a byte and the input's
// last r bits are all 1s (padding or data, it cannot tell): then the walk
// goes on.
func (j *jpegCodec) tailExact(from, end uint) bool {
	r := (j.w.n + end - from) & 7
	if r == 0 {
		return true
	}
	if end-from < r {
		return false
	}
	return peek(j.clean, end-r, r) != 1<<r-1
}

// peek returns the n (≤ 56) bits of b starting at bit pos.
func peek(b []byte, pos, n uint) uint64 {
	return binary.BigEndian.Uint64(b[pos>>3:]) << (pos & 7) >> (64 - n)
}

// decode reads one Huffman code at bit pos: its length and symbol.
func decode(t *huffTable, b []byte, pos uint) (uint, uint, bool) {
	v := uint32(peek(b, pos, 16))
	if e := t.lut[v>>(16-lutBits)]; e != 0 {
		return uint(e >> 8), uint(e & 0xff), true
	}
	for l := lutBits + 1; l <= 16; l++ {
		code := int32(v >> (16 - l))
		if code <= t.maxCode[l] {
			i := t.valPtr[l] + code
			if i < 0 || i > 255 {
				return 0, 0, false
			}
			return uint(l), uint(t.vals[i]), true
		}
	}
	return 0, 0, false
}

// extend turns the s bits v of a DC difference into its value (F.2.2.1).
func extend(v uint32, s uint) int32 {
	if v < 1<<(s-1) {
		return int32(v) - (1 << s) + 1
	}
	return int32(v)
}

// bitWriter appends entropy-coded bits to out with byte stuffing.
type bitWriter struct {
	out []byte
	acc uint64
	n   uint // bits in acc, < 32 between calls
}

// put appends the low n (≤ 32) bits of v.
func (w *bitWriter) put(v uint64, n uint) {
	w.acc = w.acc<<n | v
	w.n += n
	if w.n >= 32 {
		w.n -= 32
		x := uint32(w.acc >> w.n)
		// Any 0xff byte? (has-zero-byte test on the complement)
		if y := ^x; (y-0x01010101)&^y&0x80808080 == 0 {
			w.out = binary.BigEndian.AppendUint32(w.out, x)
			return
		}
		for sh := 24; sh >= 0; sh -= 8 {
			b := byte(x >> sh)
			w.out = append(w.out, b)
			if b == 0xff {
				w.out = append(w.out, 0)
			}
		}
	}
}

// pad fills the last byte with 1 bits and flushes everything.
func (w *bitWriter) pad() {
	if r := w.n & 7; r != 0 {
		w.put(1<<(8-r)-1, 8-r)
	}
	for w.n > 0 {
		w.n -= 8
		b := byte(w.acc >> w.n)
		w.out = append(w.out, b)
		if b == 0xff {
			w.out = append(w.out, 0)
		}
	}
}

// copyBits appends bits [from, to) of b, which must have 9 readable
// bytes past to. Long runs go 64 bits at a time, stuffing re-done.
func (w *bitWriter) copyBits(b []byte, from, to uint) {
	if to-from >= 128 {
		// Complete the output's partial byte, flush, then whole words.
		if r := w.n & 7; r != 0 {
			w.put(peek(b, from, 8-r), 8-r)
			from += 8 - r
		}
		for w.n > 0 {
			w.n -= 8
			w.putByte(byte(w.acc >> w.n))
		}
		w.out = slices.Grow(w.out, int(to-from)/8+64)
		s := from & 7
		for ; from+64 <= to; from += 64 {
			i := from >> 3
			x := binary.BigEndian.Uint64(b[i:])<<s | uint64(b[i+8])>>(8-s)
			if y := ^x; (y-0x0101010101010101)&^y&0x8080808080808080 == 0 {
				w.out = binary.BigEndian.AppendUint64(w.out, x)
				continue
			}
			for sh := 56; sh >= 0; sh -= 8 {
				w.putByte(byte(x >> sh))
			}
		}
	}
	for ; from+32 <= to; from += 32 {
		w.put(peek(b, from, 32), 32)
	}
	if from < to {
		w.put(peek(b, from, to-from), to-from)
	}
}

// putByte appends one whole byte, stuffed.
func (w *bitWriter) putByte(c byte) {
	w.out = append(w.out, c)
	if c == 0xff {
		w.out = append(w.out, 0)
	}
}

// putDC appends the Huffman code and bits of DC difference d.
func (w *bitWriter) putDC(t *huffTable, d int32) error {
	a := d
	if a < 0 {
		a = -a
	}
	s := uint(bits.Len32(uint32(a)))
	if s > 11 || t.size[s] == 0 {
		return fallback(ReasonHuffman, "%w: DC category %d", errMissingCode, s)
	}
	w.put(uint64(t.code[s]), uint(t.size[s]))
	if s > 0 {
		if d < 0 {
			d += 1<<s - 1
		}
		w.put(uint64(d), s)
	}
	return nil
}
