package audio_test

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/hal/audio"
)

func sine(rate, channels int, freq float64, d float64) *audio.Sound {
	n := int(float64(rate) * d)
	s := &audio.Sound{Rate: rate, Channels: channels, Samples: make([]int16, n*channels)}
	for i := 0; i < n; i++ {
		v := int16(20000 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		for c := 0; c < channels; c++ {
			s.Samples[i*channels+c] = v
		}
	}
	return s
}

// channel decodes one channel of converted bytes.
func channel(b []byte, f audio.Format, c int) []float64 {
	fb := f.FrameBytes()
	out := make([]float64, len(b)/fb)
	for i := range out {
		o := i*fb + c*f.Bits/8
		if f.Bits == 16 {
			out[i] = float64(int16(binary.LittleEndian.Uint16(b[o:])))
		} else {
			out[i] = float64(int32(binary.LittleEndian.Uint32(b[o:]))) / 65536
		}
	}
	return out
}

func zeroCrossings(x []float64) int {
	n := 0
	for i := 1; i < len(x); i++ {
		if (x[i-1] < 0) != (x[i] < 0) {
			n++
		}
	}
	return n
}

func correlation(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range min(len(a), len(b)) {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	return ab / math.Sqrt(aa*bb)
}

func TestConvert16kMonoTo48kStereoS32(t *testing.T) {
	in := sine(16000, 1, 440, 1)
	to := audio.Format{Rate: 48000, Channels: 2, Bits: 32}
	b := audio.Convert(in, to)
	if len(b) != 48000*8 {
		t.Fatalf("%d bytes, want %d (1 s of 48 kHz stereo S32)", len(b), 48000*8)
	}
	ideal := make([]float64, 48000)
	for i := range ideal {
		ideal[i] = 20000 * math.Sin(2*math.Pi*440*float64(i)/48000)
	}
	for c := range 2 {
		x := channel(b, to, c)
		if z := zeroCrossings(x); z < 878 || z > 882 {
			t.Errorf("channel %d: %d zero crossings in 1 s, want 880 (440 Hz)", c, z)
		}
		if r := correlation(x, ideal); r < 0.999 {
			t.Errorf("channel %d: correlation with a 48 kHz 440 Hz sine %.5f, want ≥ 0.999", c, r)
		}
	}
}

func TestConvertRoundTripAndRemix(t *testing.T) {
	in := sine(16000, 1, 1000, 0.5)
	up := audio.Convert(in, audio.Format{Rate: 48000, Channels: 2, Bits: 16})
	st := &audio.Sound{Rate: 48000, Channels: 2, Samples: make([]int16, len(up)/2)}
	for i := range st.Samples {
		st.Samples[i] = int16(binary.LittleEndian.Uint16(up[2*i:]))
	}
	f := audio.Format{Rate: 16000, Channels: 1, Bits: 16}
	back := audio.Convert(st, f) // stereo → mono (mean), 48 → 16 kHz
	if len(back) != len(in.Samples)*2 {
		t.Fatalf("round trip: %d bytes, want %d", len(back), len(in.Samples)*2)
	}
	for i, v := range channel(back, f, 0) {
		if d := math.Abs(v - float64(in.Samples[i])); d > 1 {
			t.Fatalf("round trip sample %d: %v, want %d", i, v, in.Samples[i])
		}
	}
	// Same format: the bytes are the samples.
	same := audio.Convert(in, f)
	for i, v := range in.Samples {
		if got := int16(binary.LittleEndian.Uint16(same[2*i:])); got != v {
			t.Fatalf("identity sample %d: %d, want %d", i, got, v)
		}
	}
	// Stereo to mono is the mean of the channels.
	lr := &audio.Sound{Rate: 8000, Channels: 2, Samples: []int16{1000, 3000, -32768, -32768, 32767, 32767}}
	m := channel(audio.Convert(lr, audio.Format{Rate: 8000, Channels: 1, Bits: 16}), f, 0)
	if m[0] != 2000 || m[1] != -32768 || m[2] != 32767 {
		t.Errorf("stereo → mono %v, want [2000 -32768 32767]", m)
	}
}

func TestConvertDownsampleLength(t *testing.T) {
	for _, tc := range []struct{ from, to, frames, want int }{
		{44100, 16000, 44100, 16000},
		{48000, 44100, 480, 441},
		{8000, 48000, 1, 6},
		{22050, 8000, 3, 1},
	} {
		s := &audio.Sound{Rate: tc.from, Channels: 1, Samples: make([]int16, tc.frames)}
		if n := len(audio.Convert(s, audio.Format{Rate: tc.to, Channels: 1, Bits: 16})) / 2; n != tc.want {
			t.Errorf("%d frames %d → %d Hz: %d frames, want %d", tc.frames, tc.from, tc.to, n, tc.want)
		}
	}
}

func TestConvertPanicsOnBadFormat(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("Convert to 24 bits did not panic")
		}
	}()
	audio.Convert(sine(16000, 1, 440, 0.01), audio.Format{Rate: 48000, Channels: 1, Bits: 24})
}

// BenchmarkConvert measures converting 1 s of 16 kHz mono to 48 kHz
// stereo S16 (what a quick reply costs on a common USB card), as a ratio
// to copying the same output bytes.
func BenchmarkConvert(b *testing.B) {
	in := sine(16000, 1, 440, 1)
	to := audio.Format{Rate: 48000, Channels: 2, Bits: 16}
	src := audio.Convert(in, to)
	dst := make([]byte, len(src))
	var conv, cp int64
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		t0 := nanotime()
		out := audio.Convert(in, to)
		t1 := nanotime()
		copy(dst, out)
		t2 := nanotime()
		conv += t1 - t0
		cp += t2 - t1
	}
	b.ReportMetric(float64(conv)/float64(cp), "x-copy")
	b.ReportMetric(float64(conv)/float64(b.N)/1e6, "ms/audio-s")
}

var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }
