package mask

import (
	"math"
	"slices"
)

// span is a run of covered pixels [x0, x1) on one row.
type span struct{ x0, x1 int }

// pixels is the set of covered pixels of a w×h frame: for each row, sorted
// disjoint spans.
type pixels struct {
	w, h  int
	rows  [][]span
	count int // covered pixels
}

// coverage computes which pixels of a w×h frame the shapes cover. A pixel
// is covered when its centre ((x+0.5)/w, (y+0.5)/h) is inside a polygon by
// the even-odd rule (the same as non-zero for the simple polygons Validate
// accepts); a centre exactly on a left or top edge is inside, on a right or
// bottom edge outside, so two masks that share an edge leave no gap.
func coverage(shapes []Shape, w, h int) *pixels {
	px := &pixels{w: w, h: h, rows: make([][]span, h)}
	var xs []float64
	var row []span
	for y := 0; y < h; y++ {
		yc := (float64(y) + 0.5) / float64(h)
		row = row[:0]
		for _, s := range shapes {
			xs = xs[:0]
			p := s.Points
			for i := range p {
				a, b := p[i], p[(i+1)%len(p)]
				if (a[1] <= yc) != (b[1] <= yc) {
					x := a[0] + (yc-a[1])*(b[0]-a[0])/(b[1]-a[1])
					xs = append(xs, x*float64(w))
				}
			}
			slices.Sort(xs)
			for i := 0; i+1 < len(xs); i += 2 {
				// Pixels whose centre x+0.5 is in [xs[i], xs[i+1]).
				x0 := clamp(int(math.Ceil(xs[i]-0.5)), 0, w)
				x1 := clamp(int(math.Ceil(xs[i+1]-0.5)), 0, w)
				if x0 < x1 {
					row = append(row, span{x0, x1})
				}
			}
		}
		if len(row) == 0 {
			continue
		}
		slices.SortFunc(row, func(a, b span) int { return a.x0 - b.x0 })
		merged := []span{row[0]}
		for _, s := range row[1:] {
			last := &merged[len(merged)-1]
			if s.x0 <= last.x1 {
				last.x1 = max(last.x1, s.x1)
			} else {
				merged = append(merged, s)
			}
		}
		for _, s := range merged {
			px.count += s.x1 - s.x0
		}
		px.rows[y] = merged
	}
	return px
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// bitset is a fixed-size set of small integers.
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i>>6] |= 1 << (i & 63) }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) anyIn(lo, hi int) bool { // any bit in [lo, hi)
	for i := lo; i < hi; {
		if i&63 == 0 && i+64 <= hi {
			if b[i>>6] != 0 {
				return true
			}
			i += 64
			continue
		}
		if b.has(i) {
			return true
		}
		i++
	}
	return false
}

// lastIn returns the largest i in [lo, hi) in the set, or lo-1 if none.
func (b bitset) lastIn(lo, hi int) int {
	for i := hi - 1; i >= lo; {
		if i&63 == 63 && i-63 >= lo && b[i>>6] == 0 {
			i -= 64
			continue
		}
		if b.has(i) {
			return i
		}
		i--
	}
	return lo - 1
}

// jpegGeom is the block layout of a JPEG frame.
type jpegGeom struct {
	w, h       int
	n          int    // components in the frame
	hs, vs     [4]int // sampling factors (1,1 for a single component)
	hmax, vmax int    // largest factors
	mcusX      int    // MCUs per row (interleaved scan)
	mcusY      int    // MCU rows
}

// blockPlan says which blocks of a JPEG frame a mask touches.
type blockPlan struct {
	geom jpegGeom
	// comp[c] has one bit per block of component c, in a grid mcusX*hs[c]
	// wide (stride) and mcusY*vs[c] high, padding blocks included.
	comp   [4]bitset
	stride [4]int
	// mcu has one bit per MCU of the interleaved scan, or per block of a
	// single-component frame.
	mcu     bitset
	touched int // blocks touched, all components
}

// newBlockPlan maps covered pixels to blocks. A block is touched when any
// covered pixel lies in the image area it codes: block (bx, by) of
// component c codes pixels x in [8·bx·sx, 8·(bx+1)·sx), y in
// [8·by·sy, 8·(by+1)·sy), where sx = hmax/hs[c] and sy = vmax/vs[c].
func newBlockPlan(g jpegGeom, px *pixels) *blockPlan {
	p := &blockPlan{geom: g}
	for c := 0; c < g.n; c++ {
		p.stride[c] = g.mcusX * g.hs[c]
		p.comp[c] = newBitset(p.stride[c] * g.mcusY * g.vs[c])
	}
	mcuW, mcuH := 8*g.hmax, 8*g.vmax
	p.mcu = newBitset(g.mcusX * g.mcusY)
	for y, row := range px.rows {
		for _, s := range row {
			for c := 0; c < g.n; c++ {
				bw := 8 * (g.hmax / g.hs[c])
				by := y / (8 * (g.vmax / g.vs[c]))
				for bx := s.x0 / bw; bx <= (s.x1-1)/bw; bx++ {
					p.comp[c].set(by*p.stride[c] + bx)
				}
			}
			for mx := s.x0 / mcuW; mx <= (s.x1-1)/mcuW; mx++ {
				p.mcu.set((y/mcuH)*g.mcusX + mx)
			}
		}
	}
	for c := 0; c < g.n; c++ {
		for _, w := range p.comp[c] {
			for ; w != 0; w &= w - 1 {
				p.touched++
			}
		}
	}
	return p
}
