package clip

import (
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"

	"github.com/doorbelld/doorbelld/capture"
)

// CodecPCM is the audio codec of clips with sound, as ffprobe reports it:
// signed 16-bit little-endian PCM, in an ISO 23003-5 "ipcm" sample entry.
const CodecPCM = "pcm_s16le"

// Audio track layout.
const (
	// audioSamplesPerSecond: the audio track's MP4 samples last 100 ms
	// (the last one less), so a minute of sound is 600 table entries.
	audioSamplesPerSecond = 10
	// audioSlack: a chunk that starts within this of where the previous
	// one ended is taken as its continuation, so stamp jitter does not
	// cut clicks of silence or overlap into continuous sound. Beyond it,
	// the chunk's own time places it: a gap is filled with silence, an
	// overlap is dropped. Sync is therefore never off by more than this
	// plus the stamps' own error.
	audioSlack = 5 * time.Millisecond
	// Limits of the sample entry: its rate is a 16.16 fixed-point number.
	maxAudioRate     = 65535
	maxAudioChannels = 8
)

// AudioInfo describes a clip's sound track. The zero value means no
// sound.
type AudioInfo struct {
	Rate     int   // frames a second; 0: the clip has no sound
	Channels int   // interleaved in each frame
	Frames   int64 // sample frames in the track, silence included: Rate × the video's duration
	// Silence is how many of Frames are silence put in where no sound was
	// captured: before the first chunk, after the last, in gaps.
	Silence int64
	// Overlap is how many frames of sound were dropped because chunks
	// overlapped (their times stepped back).
	Overlap int64
	// Skipped counts chunks within the clip left out because their rate
	// or channel count differs from the first chunk's, or is out of
	// range (rate 1..65535, 1..8 channels).
	Skipped int
}

// Duration is how long the track lasts.
func (a AudioInfo) Duration() time.Duration {
	if a.Rate <= 0 {
		return 0
	}
	return time.Duration(a.Frames * int64(time.Second) / int64(a.Rate))
}

// String describes the track as storage.Meta.Audio does:
// "pcm_s16le 16000 Hz 1ch", or "" without sound.
func (a AudioInfo) String() string {
	if a.Rate <= 0 {
		return ""
	}
	return fmt.Sprintf("%s %d Hz %dch", CodecPCM, a.Rate, a.Channels)
}

// audioTrack is a clip's sound laid on the video's timeline: segments of
// captured samples, in order and not overlapping, and silence between.
type audioTrack struct {
	info AudioInfo
	segs []segment
	buf  []byte // one MP4 sample's payload, reused
}

// segment is captured sound placed at output frame pos.
type segment struct {
	pos     int64
	samples []int16 // interleaved, whole frames; shared with the chunk
}

func (s segment) end(ch int) int64 { return s.pos + int64(len(s.samples)/ch) }

// audioFormatOK says whether a chunk's format can go into a track.
func audioFormatOK(c capture.AudioChunk) bool {
	return c.Rate > 0 && c.Rate <= maxAudioRate && c.Channels > 0 && c.Channels <= maxAudioChannels && c.Frames() > 0
}

// placeAudio lays the chunks on the timeline of a video that starts at
// start and lasts dur, so that output frame i is the sound captured at
// start + i/Rate. The first chunk overlapping [start, start+dur) decides
// the format. It returns nil if no chunk can be used.
func placeAudio(chunks []capture.AudioChunk, start time.Time, dur time.Duration) *audioTrack {
	end := start.Add(dur)
	rate, ch, skipped := 0, 0, 0
	for _, c := range chunks {
		if !c.End().After(start) || !c.At.Before(end) {
			continue
		}
		switch {
		case !audioFormatOK(c):
			skipped++
		case rate == 0:
			rate, ch = c.Rate, c.Channels
		case c.Rate != rate || c.Channels != ch:
			skipped++
		}
	}
	if rate == 0 {
		return nil
	}
	n := max(framesIn(dur, rate), 1)
	slack := framesIn(audioSlack, rate)
	t := &audioTrack{info: AudioInfo{Rate: rate, Channels: ch, Frames: n, Skipped: skipped}}
	var (
		written, placed int64 // output frames [0, written) are decided; placed of them are sound
		prevEnd         int64 // where the previous chunk ended (unclipped)
		hasPrev         bool
	)
	for _, c := range chunks {
		if c.Rate != rate || c.Channels != ch || c.Frames() == 0 {
			continue
		}
		nf := int64(c.Frames())
		p := framesIn(c.At.Sub(start), rate)
		if hasPrev && absInt(p-prevEnd) <= slack {
			p = prevEnd
		}
		hasPrev, prevEnd = true, p+nf
		lo, hi := max(p, written, 0), min(p+nf, n)
		if ov := min(p+nf, written, n) - max(p, 0); ov > 0 && p < written {
			t.info.Overlap += ov
		}
		if hi <= lo {
			continue
		}
		t.segs = append(t.segs, segment{pos: lo, samples: c.Samples[(lo-p)*int64(ch) : (hi-p)*int64(ch)]})
		placed += hi - lo
		written = hi
	}
	t.info.Silence = n - placed
	return t
}

// bytes is the size of the track's payload.
func (t *audioTrack) bytes() uint64 { return uint64(t.info.Frames) * uint64(t.info.Channels) * 2 }

// mp4Track returns the track's MP4 samples: audioSamplesPerSecond a
// second, each filled when pmp4 writes it. The payload buffer is reused:
// pmp4 writes each payload before it asks for the next.
func (t *audioTrack) mp4Track(id int) *pmp4.Track {
	rate, ch := t.info.Rate, t.info.Channels
	per := int64(max(rate/audioSamplesPerSecond, 1))
	count := (t.info.Frames + per - 1) / per
	t.buf = make([]byte, per*int64(ch)*2)
	samples := make([]*pmp4.Sample, count)
	for k := range count {
		from := k * per
		to := min(from+per, t.info.Frames)
		samples[k] = &pmp4.Sample{
			Duration:    uint32(to - from),
			PayloadSize: uint32((to - from) * int64(ch) * 2),
			GetPayload:  func() ([]byte, error) { return t.payload(from, to), nil },
		}
	}
	return &pmp4.Track{
		ID:        id,
		TimeScale: uint32(rate),
		Codec:     &codecs.LPCM{LittleEndian: true, BitDepth: 16, SampleRate: rate, ChannelCount: ch},
		Samples:   samples,
	}
}

// payload returns output frames [from, to) as little-endian bytes.
func (t *audioTrack) payload(from, to int64) []byte {
	ch := t.info.Channels
	out := t.buf[:(to-from)*int64(ch)*2]
	clear(out)
	i := sort.Search(len(t.segs), func(i int) bool { return t.segs[i].end(ch) > from })
	for ; i < len(t.segs) && t.segs[i].pos < to; i++ {
		s := t.segs[i]
		lo, hi := max(s.pos, from), min(s.end(ch), to)
		src := s.samples[(lo-s.pos)*int64(ch) : (hi-s.pos)*int64(ch)]
		dst := out[(lo-from)*int64(ch)*2:]
		for j, v := range src {
			binary.LittleEndian.PutUint16(dst[2*j:], uint16(v))
		}
	}
	return out
}

// framesIn converts d to sample frames at rate, rounded to the nearest
// (halves away from zero), without overflow for any duration.
func framesIn(d time.Duration, rate int) int64 {
	if d < 0 {
		return -framesIn(-d, rate)
	}
	s, ns := int64(d/time.Second), int64(d%time.Second)
	return s*int64(rate) + (ns*int64(rate)+int64(time.Second)/2)/int64(time.Second)
}

func absInt(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
