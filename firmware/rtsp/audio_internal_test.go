package rtsp

import (
	"math"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/pion/rtp"

	"github.com/doorbelld/doorbelld/capture"
)

func be16(s []int16) []byte {
	b := make([]byte, 2*len(s))
	for i, v := range s {
		b[2*i], b[2*i+1] = byte(uint16(v)>>8), byte(v)
	}
	return b
}

// TestG711 checks the codec against mediacommon's: decoding equal for
// all 256 codes of both laws; µ-law encoding (the ITU's decision levels,
// as in the reference g711.c) within half a segment's step of every
// 16-bit value, and mostly the code mediacommon's nearest-value table
// picks.
func TestG711(t *testing.T) {
	codes := make([]byte, 256)
	for i := range codes {
		codes[i] = byte(i)
	}
	var mu g711.Mulaw
	mu.Unmarshal(codes)
	var al g711.Alaw
	al.Unmarshal(codes)
	for i, c := range codes {
		if want := int16(uint16(mu[2*i])<<8 | uint16(mu[2*i+1])); mulawDecode(c) != want {
			t.Fatalf("µ-law %#02x: %d, mediacommon %d", c, mulawDecode(c), want)
		}
		if want := int16(uint16(al[2*i])<<8 | uint16(al[2*i+1])); alawDecode(c) != want {
			t.Fatalf("A-law %#02x: %d, mediacommon %d", c, alawDecode(c), want)
		}
	}
	all := make([]int16, 0, 65536)
	for v := math.MinInt16; v <= math.MaxInt16; v++ {
		all = append(all, int16(v))
	}
	theirs, err := g711.Mulaw(be16(all)).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i, v := range all {
		got := int(mulawDecode(mulawEncode(v)))
		if e := abs(got - int(v)); e > (abs(int(v))+132)/32+1 {
			t.Fatalf("µ-law of %d decodes to %d (error %d; mediacommon's %d)", v, got, e, mulawDecode(theirs[i]))
		}
		if mulawEncode(v) == theirs[i] {
			same++
		}
	}
	if same < 65536*9/10 {
		t.Fatalf("µ-law: %d of 65536 codes as mediacommon's, want ≥ 90%%", same)
	}
	t.Logf("µ-law: %d of 65536 codes as mediacommon's", same)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestResampler: the number of output samples is exact over many
// chunks of odd sizes, for every rate; 8 kHz passes unchanged; a
// 1 kHz tone keeps its frequency and amplitude (within the box filter's
// gain).
func TestResampler(t *testing.T) {
	for _, rate := range []int{8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000} {
		var r resampler
		r.reset(rate)
		var in, out []int16
		n := 0
		for _, size := range []int{1, 7, 160, 333, 1000, 4096, 2, 3} {
			for k := 0; k < 10; k++ {
				chunk := make([]int16, size)
				for i := range chunk {
					chunk[i] = int16(16000 * math.Sin(2*math.Pi*1000*float64(n)/float64(rate)))
					n++
				}
				in = append(in, chunk...)
				out = r.process(chunk, out)
			}
		}
		// Outputs at input positions 0, r/8000, 2r/8000, … that have
		// their neighbours.
		want := ((n-1)*audioRate)/rate + 1
		if len(out) != want && len(out) != want-1 {
			t.Fatalf("%d Hz: %d inputs gave %d outputs, want %d", rate, n, len(out), want)
		}
		if rate == 8000 {
			for i := range in {
				if in[i] != out[i] {
					t.Fatalf("8 kHz sample %d changed: %d → %d", i, in[i], out[i])
				}
			}
			continue
		}
		// Correlate with the ideal 1 kHz tone at 8 kHz, delayed by the
		// box filter's (k-1)/2 input samples.
		k := rate / audioRate
		delay := float64(k-1) / 2 / float64(rate)
		var dot, ee, oo float64
		for i := 10; i < len(out); i++ {
			ideal := math.Sin(2 * math.Pi * 1000 * (float64(i)/audioRate - delay))
			dot += ideal * float64(out[i])
			ee += ideal * ideal
			oo += float64(out[i]) * float64(out[i])
		}
		if c := dot / math.Sqrt(ee*oo); c < 0.999 {
			t.Fatalf("%d Hz: correlation with the ideal tone %.5f, want ≥ 0.999", rate, c)
		}
		if amp := math.Sqrt(2 * oo / float64(len(out)-10)); amp < 14000 || amp > 16100 {
			t.Fatalf("%d Hz: amplitude %.0f, want about 16000 × the box gain", rate, amp)
		}
	}
}

// TestAudioEncTiming: packets of 160 samples, timestamps continuing
// sample by sample across chunks, NTP = the capture time of each
// packet's first sample; a gap restarts the timeline at the new At with
// the RTP clock moved by the gap and the marker set.
func TestAudioEncTiming(t *testing.T) {
	e, err := newAudioEnc()
	if err != nil {
		t.Fatal(err)
	}
	type sent struct {
		seq    uint16
		ts     uint32
		marker bool
		ntp    time.Time
	}
	var got []sent
	emit := func(p *rtp.Packet, ntp time.Time) error {
		if len(p.Payload) != packetSamples || p.PayloadType != ptPCMU {
			t.Fatalf("packet of %d bytes, type %d", len(p.Payload), p.PayloadType)
		}
		got = append(got, sent{p.SequenceNumber, p.Timestamp, p.Marker, ntp})
		return nil
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	// 48 kHz stereo, 7 ms chunks: 2 s, then 1 s of silence from the
	// microphone, then 16 kHz mono, 10 ms chunks: 1 s.
	at := t0
	for i := 0; i < 2000/7; i++ {
		if err := e.push(capture.AudioChunk{At: at, Rate: 48000, Channels: 2, Samples: make([]int16, 2*336)}, emit); err != nil {
			t.Fatal(err)
		}
		at = at.Add(7 * time.Millisecond)
	}
	first := len(got)
	t1 := at.Add(time.Second)
	for i := 0; i < 100; i++ {
		if err := e.push(capture.AudioChunk{At: t1.Add(time.Duration(i) * 10 * time.Millisecond), Rate: 16000, Channels: 1, Samples: make([]int16, 160)}, emit); err != nil {
			t.Fatal(err)
		}
	}
	if first != 2000/7*7*8/160 || len(got)-first != 50 {
		t.Fatalf("%d packets then %d, want %d then 50", first, len(got)-first, 2000/7*7*8/160)
	}
	for i, p := range got {
		seg, j, start, base := 0, i, t0, got[0].ts
		if i >= first {
			seg, j, start, base = 1, i-first, t1, got[first].ts
		}
		if p.seq != got[0].seq+uint16(i) || p.ts != base+uint32(j*packetSamples) ||
			!p.ntp.Equal(start.Add(time.Duration(j)*20*time.Millisecond)) || p.marker != (j == 0) {
			t.Fatalf("packet %d (part %d): %+v", i, seg, p)
		}
	}
	// The RTP clock jumped by the capture time between the parts' starts.
	if d := got[first].ts - got[0].ts; d != uint32(t1.Sub(t0)/samplePeriod) {
		t.Fatalf("RTP jump %d, want %d", d, t1.Sub(t0)/samplePeriod)
	}
	for _, bad := range []capture.AudioChunk{
		{Rate: 4000, Channels: 1, Samples: make([]int16, 10)},
		{Rate: 96000, Channels: 1, Samples: make([]int16, 10)},
		{Rate: 8000, Channels: 3, Samples: make([]int16, 9)},
		{Rate: 8000, Channels: 2, Samples: make([]int16, 9)},
	} {
		if err := e.push(bad, emit); err == nil {
			t.Fatalf("chunk %d Hz × %d, %d samples accepted", bad.Rate, bad.Channels, len(bad.Samples))
		}
	}
}

func TestRTPTicks(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want uint32
	}{
		{time.Second, 90000},
		{-time.Second, uint32(1<<32 - 90000)},
		{30 * time.Hour, uint32(uint64(30*3600*90000) % (1 << 32))}, // d*90000 overflows int64 ns
		{11111 * time.Microsecond, 999},
	} {
		if got := rtpTicks(c.d, rtpClock); got != c.want {
			t.Errorf("rtpTicks(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

// BenchmarkAudioPath: the cost of a second of microphone sound through
// the audio track's path (downmix, resample, µ-law, 20 ms packets), in
// 20 ms chunks, as a ratio to copying the same PCM bytes.
func BenchmarkAudioPath(b *testing.B) {
	for _, in := range []struct {
		name           string
		rate, channels int
	}{{"8k-mono", 8000, 1}, {"16k-mono", 16000, 1}, {"44.1k-stereo", 44100, 2}, {"48k-stereo", 48000, 2}} {
		b.Run(in.name, func(b *testing.B) {
			frames := in.rate / 50
			chunks := make([]capture.AudioChunk, 50)
			t0 := time.Now()
			for i := range chunks {
				s := make([]int16, frames*in.channels)
				for j := range s {
					s[j] = int16(12000 * math.Sin(float64(i*frames+j/in.channels)*0.05))
				}
				chunks[i] = capture.AudioChunk{Rate: in.rate, Channels: in.channels, Samples: s}
			}
			e, err := newAudioEnc()
			if err != nil {
				b.Fatal(err)
			}
			var packets int
			emit := func(*rtp.Packet, time.Time) error { packets++; return nil }
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N; n++ {
				for i := range chunks {
					chunks[i].At = t0.Add(time.Duration(n*50+i) * 20 * time.Millisecond)
					if err := e.push(chunks[i], emit); err != nil {
						b.Fatal(err)
					}
				}
			}
			path := time.Since(start)
			b.StopTimer()
			if packets != 50*b.N {
				b.Fatalf("%d packets for %d s, want %d", packets, b.N, 50*b.N)
			}
			// Baseline: copy the same PCM bytes (as []int16), just as often.
			dst := make([]int16, frames*in.channels)
			var sink int16
			start = time.Now()
			for n := 0; n < b.N; n++ {
				for i := range chunks {
					copy(dst, chunks[i].Samples)
					sink += dst[n%len(dst)]
				}
			}
			cp := time.Since(start)
			_ = sink
			b.ReportMetric(float64(path.Nanoseconds())/float64(b.N), "ns/s-of-sound")
			b.ReportMetric(float64(cp.Nanoseconds())/float64(b.N), "copy-ns/s-of-sound")
			b.ReportMetric(float64(path)/float64(max(cp, 1)), "x-copy")
			b.ReportMetric(float64(path)/float64(b.N)/float64(time.Second)*100, "%-of-a-core")
		})
	}
}
