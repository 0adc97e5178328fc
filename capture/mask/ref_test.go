package mask

// The reference walker: the first implementation of the DCT-domain
// rewrite, one Huffman code at a time with a bounds-checked peek per code
// and bit-by-32 copies. Test-only; TestFastMatchesReference holds the
// tuned walker to it byte for byte.

// refRewrite is rewrite as first written: it masks the baseline JPEG in
// data, appending the result to out.
func (j *jpegCodec) refRewrite(data, out []byte, fi *frameInfo, plan *blockPlan) ([]byte, error) {
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
	j.w.out = out
	for idx, s := range j.segs {
		lo := idx * ri
		hi := min(lo+ri, total)
		if !plan.mcu.anyIn(lo, hi) {
			j.w.out = append(j.w.out, data[s.start:s.end]...)
		} else if err := j.refRewriteInterval(data, s, fi, lo, hi); err != nil {
			return j.w.out, err
		}
		if idx < len(j.segs)-1 {
			j.w.out = append(j.w.out, 0xff, mRST0+byte(idx&7))
		}
	}
	return append(j.w.out, 0xff, mEOI), nil
}

// rewriteInterval re-codes one restart interval (MCUs lo..hi-1): touched
// blocks become flat, the DC difference of the first untouched block after
// them is re-coded, and every other block's bits are copied unchanged.
func (j *jpegCodec) refRewriteInterval(data []byte, s segment, fi *frameInfo, lo, hi int) error {
	endBits := j.destuff(data, s)
	buf := j.clean
	w := &j.w
	for k := range fi.comps {
		fi.comps[k].inPred, fi.comps[k].outPred = 0, 0
	}
	mcusX := fi.geom.mcusX
	var pos, pend uint // read position and start of bits not yet copied
	for mcu := lo; mcu < hi; mcu++ {
		mx, my := mcu%mcusX, mcu/mcusX
		for k := range fi.comps {
			sc := &fi.comps[k]
			for v := 0; v < sc.v; v++ {
				row := (my*sc.v+v)*sc.stride + mx*sc.h
				for h := 0; h < sc.h; h++ {
					start := pos
					// DC: category, then that many bits.
					l, sym, ok := decode(sc.dc, buf, pos)
					if !ok || sym > 11 {
						return fallback(ReasonCorrupt, "bad DC code at MCU %d", mcu)
					}
					pos += l
					var diff int32
					if sym > 0 {
						diff = extend(uint32(peek(buf, pos, sym)), sym)
						pos += sym
					}
					acStart := pos
					// AC: skip to EOB or the 63rd coefficient.
					for n := uint(1); n < 64; {
						e := sc.ac.skip[peek(buf, pos, lutBits)]
						if e == 0 { // a code longer than lutBits
							l, rs, ok := decode(sc.ac, buf, pos)
							if !ok {
								return fallback(ReasonCorrupt, "bad AC code at MCU %d", mcu)
							}
							e = skipEntry(int(l), byte(rs))
						}
						pos += uint(e & 0xff)
						inc := uint(e >> 8)
						if inc == 0 {
							break // EOB
						}
						n += inc
						if n > 64 {
							return fallback(ReasonCorrupt, "AC run past coefficient 63 at MCU %d", mcu)
						}
					}
					if pos > endBits {
						return fallback(ReasonCorrupt, "scan truncated at MCU %d", mcu)
					}
					dc := sc.inPred + diff
					same := sc.inPred == sc.outPred
					sc.inPred = dc
					switch {
					case sc.bits.has(row + h):
						refCopyBits(w, buf, pend, start)
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
						refCopyBits(w, buf, pend, start)
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
	refCopyBits(w, buf, pend, pos)
	w.pad()
	return nil
}

// refCopyBits is the original bitWriter.copyBits.
func refCopyBits(w *bitWriter, b []byte, from, to uint) {
	for ; from+32 <= to; from += 32 {
		w.put(peek(b, from, 32), 32)
	}
	if from < to {
		w.put(peek(b, from, to-from), to-from)
	}
}
