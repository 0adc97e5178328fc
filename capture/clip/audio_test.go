package clip_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/cliptest"
)

const rate = 16000

// muxAVFile muxes frames and sound into a file in a temporary directory.
func muxAVFile(t *testing.T, frames []capture.Frame, audio []capture.AudioChunk) (clip.Info, string) {
	t.Helper()
	var buf bytes.Buffer
	info, err := clip.MuxAV(frames, audio, &buf)
	if err != nil {
		t.Fatalf("MuxAV: %v", err)
	}
	if info.Size != int64(buf.Len()) {
		t.Errorf("Info.Size = %d, wrote %d bytes", info.Size, buf.Len())
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return info, path
}

// decode decodes the clip's sound and checks it is as long as the track.
func decode(t *testing.T, path string, info clip.Info) []int16 {
	t.Helper()
	pcm := cliptest.DecodeAudio(t, path)
	if int64(len(pcm)) != info.Audio.Frames {
		t.Fatalf("decoded %d samples, Info.Audio.Frames = %d", len(pcm), info.Audio.Frames)
	}
	return pcm
}

// at returns the capture time of track sample i.
func at(start time.Time, i int) time.Time {
	return start.Add(time.Duration(int64(i) * int64(time.Second) / rate))
}

func q(v float64) int16 { return int16(math.Round(v * math.MaxInt16)) }

// The tone's onset in the decoded track is where its capture time says,
// relative to the first video frame, whatever that frame is.
func TestMuxAVToneSync(t *testing.T) {
	tests := []struct {
		name   string
		frames []capture.Frame
		start  time.Time // the clip's first frame
	}{
		{"mjpeg", cliptest.Frames(mjpeg, 60, t0), t0},
		// From frame 3: frames before the key frame at 10 are left out,
		// and so is their sound.
		{"h264 mid GOP", cliptest.H264Frames(t0)[3:], t0.Add(10 * time.Second / cliptest.H264FPS)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			onset := tt.start.Add(1234567 * time.Microsecond)
			// Sound from a second before the clip to a second after it,
			// in 20 ms chunks; a 5 ms stamp offset so chunk and frame
			// times do not line up.
			audio := cliptest.AudioChunks(t0.Add(-time.Second+5*time.Millisecond), 8*time.Second, 20*time.Millisecond, rate, 1,
				cliptest.ToneBurst(onset, time.Time{}, 1000))
			info, path := muxAVFile(t, tt.frames, audio)
			if !info.Start.Equal(tt.start) {
				t.Fatalf("Info.Start = %v, want %v", info.Start, tt.start)
			}
			if info.Audio.Silence != 0 || info.Audio.Overlap != 0 || info.Audio.Skipped != 0 {
				t.Errorf("Info.Audio = %#v, want no silence, overlap or skipped chunks", info.Audio)
			}
			pcm := decode(t, path, info)
			got, ok := cliptest.Onset(pcm, rate, 0.1)
			if !ok {
				t.Fatal("no tone in the decoded sound")
			}
			want := onset.Sub(tt.start)
			off := got - want
			t.Logf("tone onset at %v in the clip, captured %v after the first frame: offset %v", got, want, off)
			if absDur(off) > 5*time.Millisecond {
				t.Errorf("tone onset at %v, want %v within 5ms (offset %v)", got, want, off)
			}
		})
	}
}

func TestMuxAVStreams(t *testing.T) {
	for _, ch := range []int{1, 2} {
		t.Run(fmt.Sprintf("%dch", ch), func(t *testing.T) {
			frames := cliptest.Frames(mjpeg, 45, t0)
			frames[7].At = frames[7].At.Add(11 * time.Millisecond) // jitter
			audio := cliptest.AudioChunks(t0.Add(-300*time.Millisecond), 5*time.Second, 20*time.Millisecond, rate, ch,
				cliptest.ToneBurst(t0, time.Time{}, 440))
			info, path := muxAVFile(t, frames, audio)
			wantAudio := clip.AudioInfo{Rate: rate, Channels: ch, Frames: int64(math.Round(info.Duration().Seconds() * rate))}
			if info.Audio != wantAudio || info.Frames != 45 {
				t.Errorf("Info.Audio = %#v, want %#v", info.Audio, wantAudio)
			}
			if s := info.Audio.String(); s != fmt.Sprintf("pcm_s16le 16000 Hz %dch", ch) {
				t.Errorf("Info.Audio.String() = %q", s)
			}
			if d := info.Audio.Duration() - info.Duration(); absDur(d) > time.Second/rate {
				t.Errorf("sound lasts %v, video %v", info.Audio.Duration(), info.Duration())
			}
			ss := cliptest.ProbeStreams(t, path)
			if len(ss) != 2 || ss[0].Type != "video" || ss[0].Codec != "mjpeg" ||
				ss[1].Type != "audio" || ss[1].Codec != clip.CodecPCM || ss[1].Tag != "ipcm" || ss[1].Rate != rate || ss[1].Channels != ch {
				t.Fatalf("ffprobe: %+v, want mjpeg video and %s audio, %d Hz, %d channels", ss, clip.CodecPCM, rate, ch)
			}
			// Within one audio sample (100 ms) as the MP4 has it, and
			// both starting at 0.
			if d := ss[1].Duration - ss[0].Duration; absDur(d) > 100*time.Millisecond || ss[0].Start != 0 || ss[1].Start != 0 {
				t.Errorf("ffprobe: video %v from %v, audio %v from %v", ss[0].Duration, ss[0].Start, ss[1].Duration, ss[1].Start)
			}
			t.Logf("ffprobe: video %v, audio %v", ss[0].Duration, ss[1].Duration)
			// The video track is as Mux writes it.
			p := cliptest.ProbeFile(t, path)
			if p.Frames != 45 {
				t.Errorf("ffprobe: %d video frames, want 45", p.Frames)
			}
			checkTimes(t, p, frameTimes(frames))
			decode(t, path, info)
		})
	}
}

// chunksOf makes 20 ms chunks of wave over [from, to).
func chunksOf(from, to time.Time, wave func(time.Time) float64) []capture.AudioChunk {
	return cliptest.AudioChunks(from, to.Sub(from), 20*time.Millisecond, rate, 1, wave)
}

// saw is a wave that tells the time: it rises from base by 0.5 a second,
// starting again every second.
func saw(base float64) func(time.Time) float64 {
	return func(t time.Time) float64 {
		return base + 0.5*float64(t.Sub(t0)%time.Second)/float64(time.Second)
	}
}

// TestMuxAVTimeline checks every decoded sample against what was
// captured at its time: sound cut before the first frame and after the
// end, silence in gaps, overlaps dropped, other formats skipped.
func TestMuxAVTimeline(t *testing.T) {
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	cat := func(cs ...[]capture.AudioChunk) []capture.AudioChunk {
		var out []capture.AudioChunk
		for _, c := range cs {
			out = append(out, c...)
		}
		return out
	}
	other := cliptest.AudioChunks(ms(1500), 200*time.Millisecond, 20*time.Millisecond, 8000, 1, cliptest.Constant(0.9))
	stereo := cliptest.AudioChunks(ms(1700), 100*time.Millisecond, 20*time.Millisecond, rate, 2, cliptest.Constant(0.9))
	tests := []struct {
		name  string
		audio []capture.AudioChunk
		// want is the sound of the track at capture time t: the wave
		// that holds it there, nil for silence.
		want    func(t time.Time) func(time.Time) float64
		silence time.Duration
		overlap time.Duration
		skipped int
	}{
		{
			name:  "before and after the clip cut",
			audio: chunksOf(ms(-1000), ms(5000), saw(0)),
			want:  func(time.Time) func(time.Time) float64 { return saw(0) },
		},
		{
			name: "late start, gaps and early end filled with silence",
			audio: cat(chunksOf(ms(500), ms(1500), saw(0)), // microphone opened late
				chunksOf(ms(2000), ms(2700), saw(0)),  // stalled 500 ms
				chunksOf(ms(2760), ms(3000), saw(0))), // lost three chunks; then it stops
			want: func(t time.Time) func(time.Time) float64 {
				switch {
				case t.Before(ms(500)), !t.Before(ms(1500)) && t.Before(ms(2000)), !t.Before(ms(2700)) && t.Before(ms(2760)), !t.Before(ms(3000)):
					return nil
				}
				return saw(0)
			},
			silence: 500*time.Millisecond + 500*time.Millisecond + 60*time.Millisecond + 1000*time.Millisecond,
		},
		{
			// The clock steps back 200 ms at 1 s: the first 200 ms of
			// the later chunks overlap what is already there and are
			// dropped; the rest sits at its own time.
			name:  "overlap dropped",
			audio: cat(chunksOf(ms(-100), ms(1000), saw(0)), chunksOf(ms(800), ms(4100), saw(-0.3))),
			want: func(t time.Time) func(time.Time) float64 {
				if t.Before(ms(1000)) {
					return saw(0)
				}
				return saw(-0.3)
			},
			overlap: 200 * time.Millisecond,
		},
		{
			name:  "other rate and channels skipped",
			audio: cat(chunksOf(ms(0), ms(1500), saw(0)), other, stereo, chunksOf(ms(1800), ms(4000), saw(0))),
			want: func(t time.Time) func(time.Time) float64 {
				if !t.Before(ms(1500)) && t.Before(ms(1800)) {
					return nil
				}
				return saw(0)
			},
			silence: 300 * time.Millisecond,
			skipped: len(other) + len(stereo),
		},
	}
	frames := cliptest.Frames(mjpeg, 60, t0) // [t0, t0+4s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, path := muxAVFile(t, frames, tt.audio)
			want := clip.AudioInfo{Rate: rate, Channels: 1, Frames: 4 * rate,
				Silence: int64(tt.silence * rate / time.Second), Overlap: int64(tt.overlap * rate / time.Second), Skipped: tt.skipped}
			if info.Audio != want {
				t.Errorf("Info.Audio = %#v, want %#v", info.Audio, want)
			}
			pcm := decode(t, path, info)
			bad := 0
			for i, v := range pcm {
				ct := at(t0, i)
				var w int16
				if wave := tt.want(ct); wave != nil {
					w = q(wave(ct))
				}
				if v != w {
					if bad++; bad <= 5 {
						t.Errorf("sample %d (+%v): %d, want %d", i, ct.Sub(t0), v, w)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d samples wrong", bad, len(pcm))
			}
		})
	}
}

// Stamp jitter within 5 ms does not cut the sound: chunks are laid end
// to end, no silence, nothing dropped.
func TestMuxAVJitter(t *testing.T) {
	audio := chunksOf(t0, t0.Add(4100*time.Millisecond), saw(0))
	for i := range audio {
		audio[i].At = audio[i].At.Add(time.Duration((i%5)-2) * time.Millisecond)
	}
	info, path := muxAVFile(t, cliptest.Frames(mjpeg, 60, t0), audio)
	if info.Audio.Silence != 0 || info.Audio.Overlap != 0 {
		t.Errorf("Info.Audio = %#v, want no silence and no overlap", info.Audio)
	}
	// Chunk 0 was stamped 2 ms early: all is 2 ms (32 samples) early.
	pcm := decode(t, path, info)
	for i := range len(pcm) - 32 {
		if w := q(saw(0)(at(t0, i+32))); pcm[i] != w {
			t.Fatalf("sample %d: %d, want %d", i, pcm[i], w)
		}
	}
}

// The sums of what Mux wrote before clips had sound (HEAD's mux.go, run
// on the same frames): without sound, the output is unchanged.
const (
	goldenMJPEG = "f2f5bc68b9a15255134f07e9cb794dae4299786bcf9e5b490e5566d250521b31"
	goldenH264  = "2738909e4759e4c862b390965016209d0970fe73a6c4e55f654b985b0f7acf96"
)

func TestMuxAVNoSound(t *testing.T) {
	outside := chunksOf(t0.Add(-3*time.Second), t0.Add(-time.Second), saw(0))
	for name, tc := range map[string]struct {
		frames []capture.Frame
		golden string
	}{
		"mjpeg": {cliptest.Frames(mjpeg, 30, t0), goldenMJPEG},
		"h264":  {cliptest.H264Frames(t0), goldenH264},
	} {
		t.Run(name, func(t *testing.T) {
			for what, audio := range map[string][]capture.AudioChunk{"nil": nil, "empty": {}, "all before the clip": outside} {
				var mux, av bytes.Buffer
				if _, err := clip.Mux(tc.frames, &mux); err != nil {
					t.Fatal(err)
				}
				info, err := clip.MuxAV(tc.frames, audio, &av)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(mux.Bytes(), av.Bytes()) || info.Audio != (clip.AudioInfo{}) {
					t.Errorf("%s sound: MuxAV wrote %d bytes (%#v), Mux %d", what, av.Len(), info.Audio, mux.Len())
				}
				if sum := fmt.Sprintf("%x", sha256.Sum256(av.Bytes())); sum != tc.golden {
					t.Errorf("%s sound: output sha256 %s, want %s (as before sound)", what, sum, tc.golden)
				}
			}
		})
	}
}

// BenchmarkMuxAVSound measures what 10 s of 16 kHz mono sound adds to
// muxing a 10 s, 15 fps 640x480 MJPEG clip, as a ratio to copying the
// same PCM as little-endian bytes (the least any muxer must do).
func BenchmarkMuxAVSound(b *testing.B) {
	frames, err := cliptest.SimFrames(640, 480, 15, 150, t0)
	if err != nil {
		b.Fatal(err)
	}
	audio := chunksOf(t0, t0.Add(10*time.Second), cliptest.ToneBurst(t0, time.Time{}, 1000))
	var buf bytes.Buffer
	buf.Grow(16 << 20)
	measure := func(f func()) time.Duration {
		const rounds = 20
		start := time.Now()
		for range rounds {
			f()
		}
		return time.Since(start) / rounds
	}
	pcm := make([]byte, 0, 2*rate*10)
	copyPCM := func() {
		pcm = pcm[:0]
		for _, c := range audio {
			for _, v := range c.Samples {
				pcm = binary.LittleEndian.AppendUint16(pcm, uint16(v))
			}
		}
	}
	mux := func(a []capture.AudioChunk) func() {
		return func() {
			buf.Reset()
			if _, err := clip.MuxAV(frames, a, &buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	var video, av, cp time.Duration
	for b.Loop() {
		video += measure(mux(nil))
		av += measure(mux(audio))
		cp += measure(copyPCM)
	}
	n := time.Duration(b.N)
	added := (av - video) / n
	b.ReportMetric(float64(added.Microseconds()), "µs-added/op")
	b.ReportMetric(float64(cp/n)/1e3, "µs-copy/op")
	b.ReportMetric(float64(added)/float64(cp/n), "added/copy")
	b.ReportMetric(float64(av)/float64(video), "av/video")
}
