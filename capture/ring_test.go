package capture

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	t0      = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	testFmt = Format{PixelFormat: PixMJPEG, Width: 640, Height: 480, FPS: 10}
)

// frameData returns n bytes that identify seq.
func frameData(seq, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq*31 + i)
	}
	return b
}

func TestRingEviction(t *testing.T) {
	tests := []struct {
		name              string
		maxBytes, slots   int
		sizes             []int
		wantSeqs          []uint64 // held, oldest first
		wantDrop, wantEvt uint64
	}{
		{name: "fits", maxBytes: 100, slots: 10, sizes: []int{30, 30, 30}, wantSeqs: []uint64{1, 2, 3}},
		{name: "bytes evict oldest", maxBytes: 100, slots: 10, sizes: []int{30, 30, 30, 30}, wantSeqs: []uint64{2, 3, 4}, wantEvt: 1},
		{name: "wrap to start", maxBytes: 100, slots: 10, sizes: []int{40, 40, 30}, wantSeqs: []uint64{2, 3}, wantEvt: 1},
		{name: "big frame evicts all", maxBytes: 100, slots: 10, sizes: []int{10, 10, 100}, wantSeqs: []uint64{3}, wantEvt: 2},
		{name: "too big dropped", maxBytes: 100, slots: 10, sizes: []int{10, 101, 10}, wantSeqs: []uint64{1, 2}, wantDrop: 1},
		{name: "empty dropped", maxBytes: 100, slots: 10, sizes: []int{10, 0}, wantSeqs: []uint64{1}, wantDrop: 1},
		{name: "slots evict oldest", maxBytes: 1000, slots: 3, sizes: []int{1, 2, 3, 4, 5}, wantSeqs: []uint64{3, 4, 5}, wantEvt: 2},
		{name: "zero capacity drops all", maxBytes: 0, slots: 3, sizes: []int{1, 2}, wantDrop: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRingSize(tt.maxBytes, tt.slots)
			var pushed [][]byte
			for i, n := range tt.sizes {
				d := frameData(i, n)
				pushed = append(pushed, d)
				r.Push(d, t0.Add(time.Duration(i)*time.Second), testFmt)
			}
			got := r.Frames(t0.Add(-time.Hour), t0.Add(time.Hour))
			var seqs []uint64
			for _, f := range got {
				seqs = append(seqs, f.Seq)
			}
			if !slices.Equal(seqs, tt.wantSeqs) {
				t.Fatalf("held seqs %v, want %v", seqs, tt.wantSeqs)
			}
			st := r.Stats()
			if st.Dropped != tt.wantDrop || st.Evicted != tt.wantEvt {
				t.Errorf("dropped %d evicted %d, want %d %d", st.Dropped, st.Evicted, tt.wantDrop, tt.wantEvt)
			}
			if st.Bytes > tt.maxBytes {
				t.Errorf("holds %d bytes, more than %d", st.Bytes, tt.maxBytes)
			}
			// Seq counts accepted frames only; map each back to its input.
			accepted := 0
			bySeq := map[uint64][]byte{}
			for _, d := range pushed {
				if len(d) > 0 && len(d) <= tt.maxBytes {
					accepted++
					bySeq[uint64(accepted)] = d
				}
			}
			for _, f := range got {
				if !bytes.Equal(f.Data, bySeq[f.Seq]) {
					t.Errorf("frame %d data corrupted", f.Seq)
				}
				if f.Format != testFmt {
					t.Errorf("frame %d format %v", f.Seq, f.Format)
				}
			}
		})
	}
}

// TestRingRandom pushes frames of random sizes and checks after each push
// that the ring holds the newest frames, a contiguous run ending with the
// last accepted one, byte for byte, within its bounds, and as many as fit.
func TestRingRandom(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		rng := rand.New(rand.NewPCG(seed, 0))
		maxBytes := 1000 + rng.IntN(5000)
		slots := 2 + rng.IntN(40)
		r := NewRingSize(maxBytes, slots)
		var all [][]byte
		for i := 0; i < 3000; i++ {
			n := 1 + rng.IntN(maxBytes/3)
			if rng.IntN(50) == 0 {
				n = maxBytes + 1 // dropped
			}
			d := frameData(i, n)
			r.Push(d, t0.Add(time.Duration(i)*time.Millisecond), testFmt)
			if n <= maxBytes {
				all = append(all, d)
			}
			got := r.Frames(time.Time{}, t0.Add(time.Hour))
			if len(got) == 0 || got[len(got)-1].Seq != uint64(len(all)) {
				t.Fatalf("seed %d push %d: newest frame missing", seed, i)
			}
			total := 0
			for j, f := range got {
				if j > 0 && f.Seq != got[j-1].Seq+1 {
					t.Fatalf("seed %d push %d: seqs not contiguous: %d after %d", seed, i, f.Seq, got[j-1].Seq)
				}
				if !bytes.Equal(f.Data, all[f.Seq-1]) {
					t.Fatalf("seed %d push %d: frame %d corrupted", seed, i, f.Seq)
				}
				total += len(f.Data)
			}
			if len(got) > slots || total > maxBytes {
				t.Fatalf("seed %d push %d: %d frames, %d bytes; bounds %d, %d", seed, i, len(got), total, slots, maxBytes)
			}
		}
	}
}

// TestRingFull checks that a stream of equal frames keeps the ring as full
// as whole frames allow, whatever the wrap-around offsets.
func TestRingFull(t *testing.T) {
	const maxBytes = 1000
	for _, size := range []int{1, 7, 100, 333, 334, 500, 999, 1000} {
		r := NewRingSize(maxBytes, maxBytes)
		want := maxBytes / size
		for i := 0; i < 5*maxBytes/size+10; i++ {
			r.Push(frameData(i, size), t0.Add(time.Duration(i)*time.Millisecond), testFmt)
			if st := r.Stats(); st.Frames != min(i+1, want) {
				t.Fatalf("size %d push %d: holds %d frames, want %d", size, i, st.Frames, min(i+1, want))
			}
		}
	}
}

func TestRingNearest(t *testing.T) {
	r := NewRing(1 << 16)
	if _, ok := r.Nearest(t0); ok {
		t.Fatal("Nearest on empty ring returned a frame")
	}
	for i := 0; i < 5; i++ { // frames at t0, +100ms, ..., +400ms: seqs 1..5
		r.Push(frameData(i, 10), t0.Add(time.Duration(i)*100*time.Millisecond), testFmt)
	}
	tests := []struct {
		name string
		at   time.Duration
		want uint64
	}{
		{"before all", -time.Hour, 1},
		{"exact first", 0, 1},
		{"just after second", 101 * time.Millisecond, 2},
		{"just before third", 149 * time.Millisecond, 2},
		{"tie goes older", 150 * time.Millisecond, 2},
		{"just past tie", 151 * time.Millisecond, 3},
		{"exact last", 400 * time.Millisecond, 5},
		{"after all", time.Hour, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := r.Nearest(t0.Add(tt.at))
			if !ok || f.Seq != tt.want {
				t.Fatalf("Nearest(+%v) = seq %d, %v; want %d", tt.at, f.Seq, ok, tt.want)
			}
			if !bytes.Equal(f.Data, frameData(int(f.Seq-1), 10)) {
				t.Error("wrong data")
			}
		})
	}
}

func TestRingReaders(t *testing.T) {
	r := NewRing(1 << 16)
	if _, ok := r.Latest(); ok {
		t.Fatal("Latest on empty ring returned a frame")
	}
	if o, n, c := r.Span(); !o.IsZero() || !n.IsZero() || c != 0 {
		t.Fatalf("Span on empty ring = %v %v %d", o, n, c)
	}
	src := frameData(0, 10)
	for i := 0; i < 4; i++ {
		r.Push(src, t0.Add(time.Duration(i)*time.Second), testFmt)
	}
	src[0]++ // the ring must have copied

	o, n, c := r.Span()
	if !o.Equal(t0) || !n.Equal(t0.Add(3*time.Second)) || c != 4 {
		t.Errorf("Span = %v %v %d", o, n, c)
	}
	l, ok := r.Latest()
	if !ok || l.Seq != 4 || !l.At.Equal(t0.Add(3*time.Second)) || l.Data[0] == src[0] {
		t.Errorf("Latest = %d %v %v", l.Seq, l.At, ok)
	}
	l.Data[1]++ // the caller owns its copy
	if l2, _ := r.Latest(); l2.Data[1] == l.Data[1] {
		t.Error("Latest returned the ring's storage, not a copy")
	}

	tests := []struct {
		name     string
		from, to time.Duration
		want     []uint64
	}{
		{"all", -time.Hour, time.Hour, []uint64{1, 2, 3, 4}},
		{"inclusive bounds", time.Second, 2 * time.Second, []uint64{2, 3}},
		{"inside gap", 1100 * time.Millisecond, 1900 * time.Millisecond, nil},
		{"after", 4 * time.Second, time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seqs []uint64
			for _, f := range r.Frames(t0.Add(tt.from), t0.Add(tt.to)) {
				seqs = append(seqs, f.Seq)
			}
			if !slices.Equal(seqs, tt.want) {
				t.Errorf("Frames = %v, want %v", seqs, tt.want)
			}
		})
	}
}

func TestRingPushAllocs(t *testing.T) {
	r := NewRing(4 << 20)
	data := frameData(0, 50_000)
	at := t0
	push := func() {
		at = at.Add(time.Millisecond)
		r.Push(data, at, testFmt)
	}
	for i := 0; i < 500; i++ { // reach steady state: ring full, evicting
		push()
	}
	if r.Stats().Evicted == 0 {
		t.Fatal("ring never filled up")
	}
	if n := testing.AllocsPerRun(1000, push); n != 0 {
		t.Fatalf("Push allocates %v times per frame, want 0", n)
	}
}

// TestRingConcurrent runs one writer and several readers; with -race it
// checks the locking, and each reader checks that frames are not torn.
func TestRingConcurrent(t *testing.T) {
	r := NewRingSize(64<<10, 32)
	const frames = 2000
	var wg sync.WaitGroup
	done := make(chan struct{})
	check := func(f Frame) {
		if !bytes.Equal(f.Data, frameData(int(f.Seq), len(f.Data))) {
			t.Errorf("frame %d torn", f.Seq)
		}
	}
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if f, ok := r.Latest(); ok {
					check(f)
				}
				if f, ok := r.Nearest(t0.Add(500 * time.Millisecond)); ok {
					check(f)
				}
				for _, f := range r.Frames(t0, t0.Add(time.Hour)) {
					check(f)
				}
				r.Span()
			}
		}()
	}
	for i := 1; i <= frames; i++ {
		r.Push(frameData(i, 1000+i%3000), t0.Add(time.Duration(i)*time.Millisecond), testFmt)
	}
	close(done)
	wg.Wait()
	if st := r.Stats(); st.Pushed != frames {
		t.Fatalf("pushed %d, want %d", st.Pushed, frames)
	}
}

const benchFrame = 60_000 // a 640x480 MJPEG frame

// BenchmarkRingPush measures storing one frame in a full ring (evicting).
// Compare with BenchmarkCopyBaseline, the bare memmove of the same bytes.
func BenchmarkRingPush(b *testing.B) {
	r := NewRing(8 << 20)
	data := frameData(0, benchFrame)
	at := t0
	for i := 0; i < 300; i++ {
		at = at.Add(time.Millisecond)
		r.Push(data, at, testFmt)
	}
	b.SetBytes(benchFrame)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at = at.Add(time.Millisecond)
		r.Push(data, at, testFmt)
	}
}

// BenchmarkCopyBaseline copies the same bytes into a preallocated buffer
// of the same size, moving through it as the ring does.
func BenchmarkCopyBaseline(b *testing.B) {
	buf := make([]byte, 8<<20)
	data := frameData(0, benchFrame)
	off := 0
	b.SetBytes(benchFrame)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if off+benchFrame > len(buf) {
			off = 0
		}
		copy(buf[off:], data)
		off += benchFrame
	}
}

// drain takes every frame h has now.
func drain(h *Hold) []Frame {
	var out []Frame
	for {
		f, ok := h.Next()
		if !ok {
			return out
		}
		out = append(out, f)
	}
}

func seqsOf(fs []Frame) []uint64 {
	var out []uint64
	for _, f := range fs {
		out = append(out, f.Seq)
	}
	return out
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// at10 is the time of frame i at 10 frames a second.
func at10(i int) time.Time { return t0.Add(time.Duration(i) * 100 * time.Millisecond) }

// A hold gets every frame it wants, although the ring evicted most of
// them before it looked: they were copied aside. Frames it does not want
// are not copied.
func TestHoldKeepsEvicted(t *testing.T) {
	r := NewRingSize(1<<20, 10)
	h := r.Hold()
	for i := 1; i <= 8; i++ {
		r.Push(frameData(i, 100+i), at10(i), testFmt)
	}
	if oldest := h.Want(at10(5), at10(20)); !oldest.Equal(at10(1)) {
		t.Errorf("Want = %v, want the oldest frame's time %v", oldest, at10(1))
	}
	for i := 9; i <= 40; i++ {
		r.Push(frameData(i, 100+i), at10(i), testFmt)
	}
	st := r.Stats()
	// The ring holds 31..40: 5..20 were all evicted, and copied aside.
	if st.Kept != 16 || st.Lost != 0 || st.Held != 16*100+(5+20)*16/2 || st.Holds != 1 {
		t.Errorf("RingStats = %+v, want frames 5..20 kept aside, none lost", st)
	}
	if hs := h.Stats(); hs.Frames != 16 || hs.Bytes != 1800 || hs.Lost != 0 {
		t.Errorf("HoldStats = %+v", hs)
	}
	got := drain(h)
	if !slices.Equal(seqsOf(got), seqRange(5, 20)) {
		t.Fatalf("Next gave %v, want 5..20", seqsOf(got))
	}
	for _, f := range got {
		if !bytes.Equal(f.Data, frameData(int(f.Seq), 100+int(f.Seq))) || !f.At.Equal(at10(int(f.Seq))) || f.Format != testFmt {
			t.Errorf("frame %d: wrong data, time or format", f.Seq)
		}
	}
	if st := r.Stats(); st.Held != 0 {
		t.Errorf("Held = %d after the hold took everything", st.Held)
	}
	h.Close()
	h.Close()
	if _, ok := h.Next(); ok || r.Stats().Holds != 0 {
		t.Error("a closed hold still delivers or is still registered")
	}
}

// Past the hold limit, wanted frames are evicted like others and counted.
func TestHoldLimit(t *testing.T) {
	r := NewRingSize(1<<20, 10)
	r.SetHoldLimit(3 * 100)
	h := r.Hold()
	h.Want(at10(1), at10(30))
	for i := 1; i <= 30; i++ {
		r.Push(frameData(i, 100), at10(i), testFmt)
	}
	// Evicted: 1..20. Kept: 1..3; lost: 4..20.
	if st := r.Stats(); st.Kept != 3 || st.Lost != 17 || st.Held != 300 {
		t.Errorf("RingStats = %+v, want 3 kept, 17 lost", st)
	}
	if hs := h.Stats(); hs.Lost != 17 {
		t.Errorf("HoldStats.Lost = %d, want 17", hs.Lost)
	}
	want := append(seqRange(1, 3), seqRange(21, 30)...)
	if got := seqsOf(drain(h)); !slices.Equal(got, want) {
		t.Errorf("Next gave %v, want %v", got, want)
	}
}

// A Want that reaches back to frames the hold passed over (or delivered)
// makes Next deliver them again; frames the ring no longer has are not.
func TestHoldWantReachesBack(t *testing.T) {
	r := NewRingSize(1<<20, 10)
	h := r.Hold()
	h.Want(at10(3), at10(4))
	for i := 1; i <= 12; i++ {
		r.Push(frameData(i, 100), at10(i), testFmt)
	}
	// The ring holds 3..12.
	if got := seqsOf(drain(h)); !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("Next gave %v, want 3 4", got)
	}
	h.Want(at10(8), at10(10))
	if got := seqsOf(drain(h)); !slices.Equal(got, []uint64{8, 9, 10}) {
		t.Errorf("Next gave %v, want 8 9 10 (passed over before the Want)", got)
	}
	if oldest := h.Want(at10(1), at10(5)); !oldest.Equal(at10(3)) {
		t.Errorf("Want = %v, want %v (the ring starts at frame 3)", oldest, at10(3))
	}
	if got := seqsOf(drain(h)); !slices.Equal(got, []uint64{3, 4, 5, 8, 9, 10}) {
		t.Errorf("after reaching back, Next gave %v, want 3 4 5 8 9 10", got)
	}
}

// A hold that wants nothing costs Push nothing.
func TestHoldIdlePushAllocs(t *testing.T) {
	r := NewRing(4 << 20)
	h := r.Hold()
	defer h.Close()
	h.Want(t0.Add(-time.Hour), t0.Add(-time.Minute)) // long gone
	data := frameData(0, 50_000)
	at := t0
	push := func() {
		at = at.Add(time.Millisecond)
		r.Push(data, at, testFmt)
	}
	for range 500 {
		push()
	}
	if n := testing.AllocsPerRun(1000, push); n != 0 {
		t.Fatalf("Push allocates %v times per frame with an idle hold, want 0", n)
	}
}

// One writer, one slow reader of a hold that wants everything: every
// frame is delivered, in order and untorn, or counted as lost.
func TestHoldConcurrent(t *testing.T) {
	r := NewRingSize(64<<10, 16)
	r.SetHoldLimit(32 << 10)
	h := r.Hold()
	h.Want(t0, t0.Add(time.Hour))
	const frames = 3000
	pushed, done := make(chan struct{}), make(chan struct{})
	var got []uint64
	go func() {
		defer close(done)
		last := false
		for {
			f, ok := h.Next()
			if !ok {
				if last {
					return
				}
				select {
				case <-pushed: // all pushed: take what is left, then stop
					last = true
				default:
				}
				continue
			}
			if !bytes.Equal(f.Data, frameData(int(f.Seq), len(f.Data))) {
				t.Errorf("frame %d torn", f.Seq)
			}
			got = append(got, f.Seq)
		}
	}()
	for i := 1; i <= frames; i++ {
		r.Push(frameData(i, 1000+i%3000), t0.Add(time.Duration(i)*time.Millisecond), testFmt)
	}
	close(pushed)
	<-done
	if !slices.IsSorted(got) {
		t.Error("frames out of order")
	}
	lost := h.Stats().Lost
	if uint64(len(got))+lost != frames || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("%d delivered + %d lost, want %d", len(got), lost, frames)
	}
	t.Logf("%d delivered, %d lost", len(got), lost)
}

const yuyvFrame = 640 * 480 * 2 // a 640x480 YUYV frame

// copyNs measures a plain copy of n bytes, the baseline the hold
// benchmarks report their cost against.
func copyNs(n int) float64 {
	src, dst := frameData(1, n), make([]byte, n)
	copy(dst, src) // fault the pages in
	const rounds = 20
	start := time.Now()
	for range rounds {
		copy(dst, src)
	}
	return float64(time.Since(start).Nanoseconds()) / rounds
}

// BenchmarkRingPushHeld measures Push of a 640x480 YUYV frame into a
// full ring while a hold that lags behind wants every frame it evicts:
// each Push then also copies the evicted frame aside. x_copy is the cost
// as a multiple of a plain copy of the frame's bytes (a Push alone is
// about 1).
func BenchmarkRingPushHeld(b *testing.B) {
	r := NewRingSize(8*yuyvFrame, 8)
	r.SetHoldLimit(64 * yuyvFrame)
	h := r.Hold()
	h.Want(t0, t0.Add(time.Hour))
	data := frameData(0, yuyvFrame)
	at := t0
	for range 8 {
		at = at.Add(66 * time.Millisecond)
		r.Push(data, at, testFmt)
	}
	b.SetBytes(yuyvFrame)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		at = at.Add(66 * time.Millisecond)
		r.Push(data, at, testFmt)
		if i%32 == 31 { // a new reader, wanting the frames in the ring: off the clock
			b.StopTimer()
			h.Close()
			h = r.Hold()
			h.Want(t0, t0.Add(time.Hour))
			b.StartTimer()
		}
	}
	b.StopTimer()
	if r.Stats().Kept == 0 {
		b.Fatal("nothing was copied aside")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/copyNs(yuyvFrame), "x_copy")
}

// BenchmarkHoldWant measures reserving a clip's frames (what a trigger
// does) in a ring holding 2.5 s of 640x480 YUYV at 15 fps: it looks at
// frame times only. x_copy is its cost as a fraction of copying one
// frame's bytes.
func BenchmarkHoldWant(b *testing.B) {
	r := NewRingSize(38*yuyvFrame, 64)
	data := frameData(0, yuyvFrame)
	at := t0
	for range 38 {
		at = at.Add(66 * time.Millisecond)
		r.Push(data, at, testFmt)
	}
	h := r.Hold()
	drain(h) // passed over: Want must look back
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.Want(at.Add(-2*time.Second), at.Add(3*time.Second))
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/copyNs(yuyvFrame), "x_copy")
}
