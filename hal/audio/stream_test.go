package audio_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/doorbelld/doorbelld/hal/audio"
)

// streamAll converts in (interleaved, channels) through a StreamConverter
// in periods of period output frames, handing src at most what is left.
func streamAll(t *testing.T, in []int16, rate, channels int, to audio.Format, period, periods int) []byte {
	t.Helper()
	c, err := audio.NewStreamConverter(rate, channels, to)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	pos := 0
	dst := make([]byte, period*to.FrameBytes())
	for range periods {
		want := c.InFrames(period) * channels
		got := c.Convert(dst, func(p []int16) int {
			if len(p) != want {
				t.Fatalf("src asked for %d samples, InFrames said %d", len(p), want)
			}
			n := copy(p, in[min(pos, len(in)):])
			pos += n
			return n
		})
		if got > want {
			t.Fatalf("Convert says src filled %d of %d", got, want)
		}
		out = append(out, dst...)
	}
	return out
}

func TestStreamConverterPassesEqualRatesThrough(t *testing.T) {
	s := sine(8000, 1, 440, 0.5)
	f := audio.Format{Rate: 8000, Channels: 1, Bits: 16}
	got := streamAll(t, s.Samples, 8000, 1, f, 160, 25)
	if want := audio.Convert(s, f); string(got) != string(want) {
		t.Fatal("8 kHz mono streamed to 8 kHz mono S16 is not the input unchanged")
	}
}

// At an integer ratio the stream is Convert's output one input frame
// later (6 frames at 8 → 48 kHz), across period boundaries.
func TestStreamConverterUpsamplesLikeConvert(t *testing.T) {
	s := sine(8000, 1, 700, 0.5)
	for _, f := range []audio.Format{{Rate: 48000, Channels: 2, Bits: 16}, {Rate: 48000, Channels: 1, Bits: 32}} {
		got := channel(streamAll(t, s.Samples, 8000, 1, f, 960, 25), f, 0)
		want := channel(audio.Convert(s, f), f, 0)
		if len(got) != len(want) {
			t.Fatalf("%v: %d frames streamed, want %d", f, len(got), len(want))
		}
		for j := 6; j < len(got); j++ {
			if got[j] != want[j-6] {
				t.Fatalf("%v: frame %d = %v, want Convert's frame %d = %v", f, j, got[j], j-6, want[j-6])
			}
		}
		if f.Channels == 2 {
			if r := channel(streamAll(t, s.Samples, 8000, 1, f, 960, 25), f, 1); r[100] != got[100] {
				t.Errorf("mono to stereo: right %v ≠ left %v", r[100], got[100])
			}
		}
	}
}

// A ramp resampled by linear interpolation stays a ramp: output frame j
// is input position j·in/out − 1, whatever the period boundaries.
func TestStreamConverterRamps(t *testing.T) {
	for _, tc := range []struct{ in, out, period int }{
		{8000, 44100, 882}, {8000, 44100, 100}, {16000, 8000, 160}, {48000, 8000, 7}, {11025, 16000, 320},
	} {
		const step = 3
		in := make([]int16, tc.in) // 1 s ramp, stereo with a negated right
		st := make([]int16, 2*tc.in)
		for i := range in {
			in[i] = int16(i * step % 30000)
			st[2*i], st[2*i+1] = in[i], -in[i]
		}
		f := audio.Format{Rate: tc.out, Channels: 1, Bits: 16}
		periods := tc.out / tc.period / 2
		mono := channel(streamAll(t, in, tc.in, 1, f, tc.period, periods), f, 0)
		mixed := channel(streamAll(t, st, tc.in, 2, f, tc.period, periods), f, 0)
		checked := 0
		for j, v := range mono {
			x := float64(j)*float64(tc.in)/float64(tc.out) - 1
			if x < 0 || x*step >= 30000 {
				continue
			}
			checked++
			if math.Abs(v-x*step) > 1 {
				t.Fatalf("%d → %d Hz, period %d: frame %d = %v, want %.2f", tc.in, tc.out, tc.period, j, v, x*step)
			}
			if math.Abs(mixed[j]) > 1 {
				t.Fatalf("%d → %d Hz stereo to mono: frame %d = %v, want the mean 0", tc.in, tc.out, j, mixed[j])
			}
		}
		if checked < len(mono)/3 {
			t.Fatalf("%d → %d Hz: checked %d of %d frames", tc.in, tc.out, checked, len(mono))
		}
	}
}

func TestStreamConverterPlaysSilenceWhereSrcLeftIt(t *testing.T) {
	f := audio.Format{Rate: 16000, Channels: 2, Bits: 32}
	c, err := audio.NewStreamConverter(8000, 1, f)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 320*f.FrameBytes())
	for range 2 {
		c.Convert(dst, func(p []int16) int {
			for i := range p {
				p[i] = 1000
			}
			return len(p)
		})
	}
	if v := int32(binary.LittleEndian.Uint32(dst[100*8:])); v != 1000<<16 {
		t.Fatalf("constant 1000 widened to %d, want %d", v, 1000<<16)
	}
	if n := c.Convert(dst, func(p []int16) int { p[0] = 1000; return 0 }); n != 0 {
		t.Fatalf("Convert says %d filled, want 0", n)
	}
	if v := int32(binary.LittleEndian.Uint32(dst[len(dst)-8:])); v != 0 {
		t.Fatalf("after src filled nothing the output is %d, want silence (what src wrote past its count is ignored)", v)
	}
}

func TestNewStreamConverterRefusesBadFormats(t *testing.T) {
	ok := audio.Format{Rate: 48000, Channels: 2, Bits: 16}
	for _, tc := range []struct {
		rate, ch int
		to       audio.Format
	}{{4000, 1, ok}, {8000, 3, ok}, {8000, 1, audio.Format{Rate: 48000, Channels: 2, Bits: 24}}} {
		if _, err := audio.NewStreamConverter(tc.rate, tc.ch, tc.to); err == nil {
			t.Errorf("NewStreamConverter(%d, %d, %v) took it", tc.rate, tc.ch, tc.to)
		}
	}
}
