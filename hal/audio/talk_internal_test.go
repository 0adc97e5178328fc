package audio

import (
	"log/slog"
	"testing"
	"time"
)

// BenchmarkTalkPath measures, per second of talk (50 packets of 20 ms at
// 8 kHz mono, as the RTSP back-channel gives them), the cost of Write,
// the jitter buffer and the conversion to the device's format, period by
// period as the speaker asks for it, as a ratio to copying the same PCM.
func BenchmarkTalkPath(b *testing.B) {
	for _, to := range []Format{{Rate: 8000, Channels: 1, Bits: 16}, {Rate: 48000, Channels: 2, Bits: 16}, {Rate: 44100, Channels: 2, Bits: 32}} {
		b.Run(to.String(), func(b *testing.B) {
			p := NewPlayer(PlayerOptions{Logger: slog.New(slog.DiscardHandler)})
			t := p.Talk("bench", 8000, 1)
			conv, err := NewStreamConverter(8000, 1, to)
			if err != nil {
				b.Fatal(err)
			}
			pkt := make([]int16, 160)
			for i := range pkt {
				pkt[i] = int16(i * 100)
			}
			dev := make([]byte, to.Rate/50*to.FrameBytes())
			plain := make([]int16, 8000)
			var talk, cp time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				for range 50 {
					t.Write(pkt)
					conv.Convert(dev, t.fill)
				}
				t1 := time.Now()
				for k := range 50 {
					copy(plain[k*160:], pkt)
				}
				t2 := time.Now()
				talk += t1.Sub(t0)
				cp += t2.Sub(t1)
			}
			if u := p.Status().TalkUnderruns; u != 0 {
				b.Fatalf("%d underruns with the writer and the device in step", u)
			}
			b.ReportMetric(float64(talk)/float64(cp), "x-copy")
			b.ReportMetric(float64(talk.Microseconds())/float64(b.N), "µs/talk-s")
		})
	}
}
