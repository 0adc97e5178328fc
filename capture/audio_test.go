package capture

import (
	"sync"
	"testing"
	"time"
)

// chunk20 is 20 ms of 16 kHz mono sound taken at at, every sample v.
func chunk20(at time.Time, v int16) AudioChunk {
	s := make([]int16, 320)
	for i := range s {
		s[i] = v
	}
	return AudioChunk{At: at, Rate: 16000, Channels: 1, Samples: s}
}

func TestAudioChunk(t *testing.T) {
	c := AudioChunk{At: t0, Rate: 16000, Channels: 2, Samples: make([]int16, 641)} // a half frame too many
	if c.Frames() != 320 || c.Duration() != 20*time.Millisecond || !c.End().Equal(t0.Add(20*time.Millisecond)) {
		t.Errorf("chunk: %d frames, %v, ends %v", c.Frames(), c.Duration(), c.End())
	}
	if (AudioChunk{Samples: make([]int16, 4)}).Duration() != 0 {
		t.Error("a chunk without channels or rate lasts")
	}
}

func TestAudioRingKeep(t *testing.T) {
	r := NewAudioRing(time.Second)
	for i := range 500 { // 10 s
		r.Push(chunk20(t0.Add(time.Duration(i)*20*time.Millisecond), int16(i)))
		oldest, newest, n := r.Span()
		if span := newest.Sub(oldest); i >= 50 && (span < time.Second || span >= time.Second+20*time.Millisecond) {
			t.Fatalf("after %d chunks: span %v (%d chunks), want 1s to 1.02s", i+1, span, n)
		}
	}
	st := r.Stats()
	want := AudioRingStats{Chunks: 50, Span: time.Second, Held: time.Second, Pushed: 500, Frames: 500 * 320, Evicted: 450}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

// A wall clock stepped back an hour makes the chunks' times useless for
// a while; the ring still keeps only about keep of sound.
func TestAudioRingClockStepBack(t *testing.T) {
	r := NewAudioRing(time.Second)
	for i := range 100 {
		r.Push(chunk20(t0.Add(time.Duration(i)*20*time.Millisecond), 1))
	}
	back := t0.Add(-time.Hour)
	for i := range 1000 {
		r.Push(chunk20(back.Add(time.Duration(i)*20*time.Millisecond), 2))
		if st := r.Stats(); st.Held > time.Second+20*time.Millisecond {
			t.Fatalf("after %d chunks past the step: holds %v (%d chunks)", i+1, st.Held, st.Chunks)
		}
	}
	got := r.Range(back, back.Add(time.Hour))
	if len(got) != 50 || got[0].Samples[0] != 2 {
		t.Errorf("after the step: %d chunks held, want the 50 newest", len(got))
	}
}

func TestAudioRingRange(t *testing.T) {
	r := NewAudioRing(time.Minute)
	for i := range 10 { // [t0, t0+200ms)
		r.Push(chunk20(t0.Add(time.Duration(i)*20*time.Millisecond), int16(i)))
	}
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		from, to    time.Time
		first, last int16 // chunk numbers; first > last: none
	}{
		{ms(0), ms(200), 0, 9},
		{ms(-100), ms(1000), 0, 9},
		{ms(40), ms(60), 2, 2},   // exactly one chunk
		{ms(39), ms(61), 1, 3},   // touching its neighbours by 1 ms
		{ms(60), ms(60), 1, 0},   // empty interval
		{ms(200), ms(300), 1, 0}, // after the newest: its end is not in it
		{ms(-50), ms(0), 1, 0},   // before the oldest
	}
	for _, tt := range tests {
		got := r.Range(tt.from, tt.to)
		if tt.first > tt.last {
			if len(got) != 0 {
				t.Errorf("Range(+%v, +%v) = %d chunks, want none", tt.from.Sub(t0), tt.to.Sub(t0), len(got))
			}
			continue
		}
		if len(got) != int(tt.last-tt.first+1) || got[0].Samples[0] != tt.first || got[len(got)-1].Samples[0] != tt.last {
			t.Errorf("Range(+%v, +%v): %d chunks, want %d..%d", tt.from.Sub(t0), tt.to.Sub(t0), len(got), tt.first, tt.last)
		}
	}
}

func TestAudioRingSeq(t *testing.T) {
	r := NewAudioRing(time.Minute)
	c := chunk20(t0, 0)
	c.Seq = 99 // not the caller's to choose
	r.Push(c)
	r.Push(AudioChunk{At: t0, Rate: 16000, Channels: 1})                            // empty: ignored
	r.Push(AudioChunk{At: t0, Channels: 1, Samples: make([]int16, 10)})             // no rate: ignored
	r.Push(AudioChunk{At: t0, Rate: 16000, Channels: 2, Samples: make([]int16, 1)}) // no whole frame: ignored
	r.Push(chunk20(t0.Add(20*time.Millisecond), 1))
	got := r.Range(t0, t0.Add(time.Second))
	if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 {
		t.Errorf("Range: %+v, want Seq 1 and 2", got)
	}
	if st := r.Stats(); st.Pushed != 2 || st.Frames != 640 {
		t.Errorf("Stats = %+v, want 2 chunks, 640 frames pushed", st)
	}
	if o, n, cnt := NewAudioRing(time.Second).Span(); !o.IsZero() || !n.IsZero() || cnt != 0 {
		t.Errorf("empty ring: Span = %v, %v, %d", o, n, cnt)
	}
}

// After Reset (privacy mode) the ring fills up to keep again.
func TestAudioRingReset(t *testing.T) {
	r := NewAudioRing(time.Second)
	for i := range 100 {
		r.Push(chunk20(t0.Add(time.Duration(i)*20*time.Millisecond), 1))
	}
	r.Reset()
	if st := r.Stats(); st.Chunks != 0 || st.Held != 0 {
		t.Fatalf("after Reset: %+v", st)
	}
	for i := range 100 {
		r.Push(chunk20(t0.Add(time.Minute+time.Duration(i)*20*time.Millisecond), 2))
	}
	if st := r.Stats(); st.Chunks != 50 || st.Span != time.Second {
		t.Errorf("refilled: %+v, want 1 s in 50 chunks", st)
	}
}

// One microphone pushing while clip recorders read (run with -race).
func TestAudioRingConcurrent(t *testing.T) {
	r := NewAudioRing(200 * time.Millisecond)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				var last uint64
				for _, c := range r.Range(t0, t0.Add(time.Hour)) {
					if c.Seq <= last || len(c.Samples) != 320 {
						t.Errorf("Range: chunk %d after %d, %d samples", c.Seq, last, len(c.Samples))
						return
					}
					last = c.Seq
				}
				r.Stats()
				r.Span()
			}
		})
	}
	for i := range 2000 {
		r.Push(chunk20(t0.Add(time.Duration(i)*20*time.Millisecond), int16(i)))
	}
	close(done)
	wg.Wait()
	if st := r.Stats(); st.Pushed != 2000 || st.Chunks != 10 {
		t.Errorf("Stats = %+v", st)
	}
}

func BenchmarkAudioRingPush(b *testing.B) {
	r := NewAudioRing(5 * time.Second)
	c := chunk20(t0, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.At = t0.Add(time.Duration(i) * 20 * time.Millisecond)
		r.Push(c)
		i++
	}
}
