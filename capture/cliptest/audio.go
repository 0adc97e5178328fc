package cliptest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

// AudioChunks returns chunks of sound covering [start, start+d): each
// chunk long (the last one shorter), rate frames a second, channels per
// frame, At exact (start plus the frames before it). Every channel of
// the frame captured at time t holds wave(t), -1..1, as 16-bit samples.
func AudioChunks(start time.Time, d, chunk time.Duration, rate, channels int, wave func(t time.Time) float64) []capture.AudioChunk {
	total := int(int64(d) * int64(rate) / int64(time.Second))
	per := max(int(int64(chunk)*int64(rate)/int64(time.Second)), 1)
	var out []capture.AudioChunk
	for first := 0; first < total; first += per {
		n := min(per, total-first)
		c := capture.AudioChunk{At: frameTime(start, first, rate), Rate: rate, Channels: channels, Samples: make([]int16, n*channels)}
		for i := range n {
			v := int16(math.Round(max(-1, min(1, wave(frameTime(start, first+i, rate)))) * math.MaxInt16))
			for ch := range channels {
				c.Samples[i*channels+ch] = v
			}
		}
		out = append(out, c)
	}
	return out
}

func frameTime(start time.Time, i, rate int) time.Time {
	return start.Add(time.Duration(int64(i) * int64(time.Second) / int64(rate)))
}

// ToneBurst is a wave for AudioChunks: silence, then a sine of hz at half
// of full scale from on (phase 0 there) until off (zero off: no end).
func ToneBurst(on, off time.Time, hz float64) func(time.Time) float64 {
	return func(t time.Time) float64 {
		if t.Before(on) || (!off.IsZero() && !t.Before(off)) {
			return 0
		}
		return 0.5 * math.Sin(2*math.Pi*hz*t.Sub(on).Seconds())
	}
}

// Constant is a wave for AudioChunks: v all the time (a DC level that
// tells chunks apart after decoding).
func Constant(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }

// Onset returns the time of the first sample whose magnitude reaches
// threshold (of full scale, 0..1), from the start of pcm at rate, and
// false if none does.
func Onset(pcm []int16, rate int, threshold float64) (time.Duration, bool) {
	lim := threshold * math.MaxInt16
	for i, v := range pcm {
		if math.Abs(float64(v)) >= lim {
			return time.Duration(int64(i) * int64(time.Second) / int64(rate)), true
		}
	}
	return 0, false
}

// Stream is what ffprobe says about one stream of a file.
type Stream struct {
	Type     string // "video", "audio"
	Codec    string // codec_name: "mjpeg", "h264", "pcm_s16le"
	Tag      string // the sample entry: "mp4v", "avc1", "ipcm"
	Rate     int    // audio: sample rate
	Channels int    // audio
	Duration time.Duration
	Start    time.Duration // start_time
}

// ProbeStreams runs ffprobe on path and returns every stream. It skips
// the test if ffprobe is not on PATH.
func ProbeStreams(tb testing.TB, path string) []Stream {
	tb.Helper()
	out := run(tb, "ffprobe", "-v", "error", "-show_entries",
		"stream=codec_type,codec_name,codec_tag_string,sample_rate,channels,duration,start_time", "-of", "json", path)
	var res struct {
		Streams []struct {
			Type     string `json:"codec_type"`
			Codec    string `json:"codec_name"`
			Tag      string `json:"codec_tag_string"`
			Rate     string `json:"sample_rate"`
			Channels int    `json:"channels"`
			Duration string `json:"duration"`
			Start    string `json:"start_time"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		tb.Fatalf("ffprobe %s: parse output: %v\n%s", path, err, out)
	}
	var ss []Stream
	for _, s := range res.Streams {
		st := Stream{Type: s.Type, Codec: s.Codec, Tag: s.Tag, Channels: s.Channels,
			Duration: seconds(tb, s.Duration), Start: seconds(tb, s.Start)}
		if s.Rate != "" {
			var err error
			if st.Rate, err = strconv.Atoi(s.Rate); err != nil {
				tb.Fatalf("ffprobe %s: sample_rate %q: %v", path, s.Rate, err)
			}
		}
		ss = append(ss, st)
	}
	return ss
}

// DecodeAudio decodes the first audio track of path with ffmpeg, mixed
// down to one channel at its own rate, as 16-bit samples. It skips the
// test if ffmpeg is not on PATH.
func DecodeAudio(tb testing.TB, path string) []int16 {
	tb.Helper()
	out := run(tb, "ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-")
	pcm := make([]int16, len(out)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
	}
	return pcm
}

// run runs an FFmpeg tool and returns its output; any message on stderr
// fails the test.
func run(tb testing.TB, name string, args ...string) []byte {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		tb.Skipf("%s not on PATH (Debian: apt install ffmpeg); clips cannot be judged", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		tb.Fatalf("%s %v: %v: %s", name, args, err, stderr.Bytes())
	}
	return out
}
