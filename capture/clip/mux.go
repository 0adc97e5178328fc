package clip

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"math"
	"slices"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"

	"github.com/doorbelld/doorbelld/capture"
)

// Codec names, as ffprobe reports them.
const (
	CodecMJPEG = "mjpeg"
	CodecH264  = "h264"
)

// timescale is the MP4 track's clock: 90 kHz, the usual video timescale,
// which represents 1/15 s, 1/25 s and 1/30 s exactly.
const timescale = 90000

// defaultInterval is the last sample's duration when a clip has a single
// frame and its format does not say the frame rate.
const defaultInterval = time.Second / 15

// ErrNoFrames is returned (wrapped) by Mux when no frame can go into the
// clip.
var ErrNoFrames = errors.New("no usable frames")

// Info describes a muxed clip.
type Info struct {
	Codec   string    // CodecMJPEG or CodecH264
	Width   int       // pixels
	Height  int       // pixels
	Frames  int       // samples written
	Skipped int       // frames left out: another codec or size, undecodable, or H.264 before the first key frame
	Start   time.Time // capture time of the first frame written
	End     time.Time // Start plus the track's duration
	Size    int64     // bytes written
	// Audio is the sound track (MuxAV); its zero value: no sound.
	Audio AudioInfo
}

// Duration returns the clip's duration, End - Start.
func (i Info) Duration() time.Duration { return i.End.Sub(i.Start) }

// Muxer writes frames as an MP4 file. The zero value is usable.
type Muxer struct {
	// JPEGQuality (1..100) is used for YUYV frames, which are encoded to
	// JPEG; default capture.DefaultJPEGQuality.
	JPEGQuality int
}

// Mux is Muxer{}.Mux.
func Mux(frames []capture.Frame, w io.Writer) (Info, error) {
	return Muxer{}.Mux(frames, w)
}

// MuxAV is Muxer{}.MuxAV.
func MuxAV(frames []capture.Frame, audio []capture.AudioChunk, w io.Writer) (Info, error) {
	return Muxer{}.MuxAV(frames, audio, w)
}

// Mux writes frames, oldest first, to w as a progressive MP4 file (moov
// before mdat, so it plays while downloading) with one video track. The
// first usable frame decides the track: H.264 (capture.PixH264) is passed through
// as an "avc1" track; MJPEG and YUYV frames make an MJPEG track (ISO
// 14496-12 "mp4v" with object type 0x6C), YUYV frames encoded to JPEG and
// MJPEG frames given the standard Huffman tables if they lack them. Frames
// of another codec or size are left out (Info.Skipped).
//
// Every sample keeps its frame's capture time: its duration is the time to
// the next frame, and the last sample lasts the median interval, so the
// clip's duration is (last - first) + one interval. A time that does not
// advance (a wall-clock step back) also gets the median interval.
func (m Muxer) Mux(frames []capture.Frame, w io.Writer) (Info, error) {
	return m.MuxAV(frames, nil, w)
}

// MuxAV is Mux with sound: the audio chunks (capture order, times on the
// frames' clock) become a second track, 16-bit PCM ("ipcm", which ffprobe
// reads as pcm_s16le), timescale the sample rate, in samples of 100 ms.
// The track covers exactly the video's span [Info.Start, Info.End): the
// sample at time t is the sound captured at Start + t. Sound from before
// the first frame or after the end is cut; where no sound was captured
// (a late start, a stalled microphone, chunks missing) there is silence;
// chunks that overlap (times stepped back) lose the overlap, so the sound
// never drifts from the picture. A chunk that starts within 5 ms of the
// previous one's end continues it seamlessly. The first chunk within the
// span decides rate and channels; chunks of another format are left out
// (Info.Audio.Skipped). Without usable chunks (nil audio, or none within
// the span) the file is exactly what Mux writes.
func (m Muxer) MuxAV(frames []capture.Frame, audio []capture.AudioChunk, w io.Writer) (Info, error) {
	quality := m.JPEGQuality
	if quality <= 0 || quality > 100 {
		quality = capture.DefaultJPEGQuality
	}
	var (
		tr  track
		err error
	)
	if i := slices.IndexFunc(frames, func(f capture.Frame) bool { return f.Format.PixelFormat == capture.PixH264 }); i >= 0 &&
		!slices.ContainsFunc(frames[:i], isJPEGFamily) {
		tr, err = h264Track(frames)
	} else {
		tr, err = mjpegTrack(frames, quality)
	}
	if err != nil {
		return Info{}, fmt.Errorf("clip: mux %d frames: %w", len(frames), err)
	}
	info := Info{
		Codec:   tr.codecName,
		Width:   tr.width,
		Height:  tr.height,
		Frames:  len(tr.payloads),
		Skipped: len(frames) - len(tr.payloads),
		Start:   tr.times[0],
	}
	durs, total := sampleDurations(tr.times, tr.interval)
	info.End = info.Start.Add(total)
	var sound *audioTrack
	if len(audio) > 0 {
		if sound = placeAudio(audio, info.Start, total); sound != nil {
			info.Audio = sound.info
		}
	}

	var size uint64
	samples := make([]*pmp4.Sample, len(tr.payloads))
	for i, p := range tr.payloads {
		size += uint64(len(p))
		samples[i] = &pmp4.Sample{
			Duration:        durs[i],
			IsNonSyncSample: tr.nonSync != nil && tr.nonSync[i],
			PayloadSize:     uint32(len(p)),
			GetPayload:      func() ([]byte, error) { return p, nil },
		}
	}
	if size > math.MaxUint32-1<<20 {
		return Info{}, fmt.Errorf("clip: mux %d frames: %d bytes of frames, more than 32-bit MP4 offsets reach", len(frames), size)
	}
	if sound != nil && size+sound.bytes() > math.MaxUint32-1<<20 {
		return Info{}, fmt.Errorf("clip: mux %d frames: %d bytes of frames and %d of sound (%v), more than 32-bit MP4 offsets reach",
			len(frames), size, sound.bytes(), sound.info.Duration())
	}
	pres := pmp4.Presentation{Tracks: []*pmp4.Track{{
		ID:        1,
		TimeScale: timescale,
		Codec:     tr.codec,
		Samples:   samples,
	}}}
	if sound != nil {
		pres.Tracks = append(pres.Tracks, sound.mp4Track(2))
	}
	cw := &countingWriter{w: w}
	if err := pres.Marshal(cw); err != nil {
		return Info{}, fmt.Errorf("clip: mux %d frames: write mp4: %w", len(frames), err)
	}
	info.Size = cw.n
	return info, nil
}

func isJPEGFamily(f capture.Frame) bool {
	return f.Format.PixelFormat == capture.PixMJPEG || f.Format.PixelFormat == capture.PixYUYV
}

// track is the frames chosen for a clip, ready to be written.
type track struct {
	codec     codecs.Codec
	codecName string
	width     int
	height    int
	interval  time.Duration // from the frames' format; 0 if unknown
	payloads  [][]byte
	times     []time.Time
	nonSync   []bool // nil: every sample is a sync sample
}

// mjpegTrack makes an MJPEG track of the MJPEG and YUYV frames of the
// first frame's size.
func mjpegTrack(frames []capture.Frame, quality int) (track, error) {
	tr := track{codecName: CodecMJPEG}
	var lastErr error
	for _, f := range frames {
		if !isJPEGFamily(f) {
			lastErr = fmt.Errorf("frame %d: pixel format %q in an MJPEG clip", f.Seq, f.Format.PixelFormat)
			continue
		}
		if len(tr.payloads) > 0 && (f.Format.Width != tr.width || f.Format.Height != tr.height) {
			lastErr = fmt.Errorf("frame %d: size %dx%d in a %dx%d clip", f.Seq, f.Format.Width, f.Format.Height, tr.width, tr.height)
			continue
		}
		jpg, err := capture.EncodeJPEG(f, quality)
		if err != nil {
			lastErr = err
			continue
		}
		if len(tr.payloads) == 0 {
			tr.width, tr.height = f.Format.Width, f.Format.Height
			if tr.width <= 0 || tr.height <= 0 {
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
				if err != nil {
					lastErr = fmt.Errorf("frame %d: size unknown: %w", f.Seq, err)
					continue
				}
				tr.width, tr.height = cfg.Width, cfg.Height
			}
			tr.interval = f.Format.Interval()
		}
		tr.payloads = append(tr.payloads, jpg)
		tr.times = append(tr.times, f.At)
	}
	if len(tr.payloads) == 0 {
		return track{}, noFrames(lastErr)
	}
	tr.codec = &codecs.MJPEG{Width: tr.width, Height: tr.height}
	return tr, nil
}

// h264Track makes an H.264 track of the H.264 frames from the first key
// frame on. Parameter sets (SPS, PPS) stay in the samples too, so a change
// of them mid-clip still decodes; access unit delimiters are dropped.
func h264Track(frames []capture.Frame) (track, error) {
	tr := track{codecName: CodecH264}
	var sps, pps []byte
	var lastErr error
	for _, f := range frames {
		if f.Format.PixelFormat != capture.PixH264 {
			lastErr = fmt.Errorf("frame %d: pixel format %q in an H.264 clip", f.Seq, f.Format.PixelFormat)
			continue
		}
		var annexb h264.AnnexB
		if err := annexb.Unmarshal(f.Data); err != nil {
			lastErr = fmt.Errorf("frame %d: %w", f.Seq, err)
			continue
		}
		au := make([][]byte, 0, len(annexb))
		for _, nalu := range annexb {
			if len(nalu) == 0 {
				continue
			}
			switch h264.NALUType(nalu[0] & 0x1f) {
			case h264.NALUTypeAccessUnitDelimiter:
				continue
			case h264.NALUTypeSPS:
				if sps == nil {
					sps = nalu
				}
			case h264.NALUTypePPS:
				if pps == nil {
					pps = nalu
				}
			}
			au = append(au, nalu)
		}
		if len(au) == 0 {
			lastErr = fmt.Errorf("frame %d: no NAL units", f.Seq)
			continue
		}
		key := h264.IsRandomAccess(au)
		if len(tr.payloads) == 0 && !key {
			lastErr = fmt.Errorf("frame %d: before the first key frame", f.Seq)
			continue
		}
		avcc, err := h264.AVCC(au).Marshal()
		if err != nil {
			lastErr = fmt.Errorf("frame %d: %w", f.Seq, err)
			continue
		}
		if len(tr.payloads) == 0 {
			tr.interval = f.Format.Interval()
		}
		tr.payloads = append(tr.payloads, avcc)
		tr.times = append(tr.times, f.At)
		tr.nonSync = append(tr.nonSync, !key)
	}
	if len(tr.payloads) == 0 {
		return track{}, noFrames(lastErr)
	}
	if sps == nil || pps == nil {
		return track{}, errors.New("h264: no SPS and PPS in the frames")
	}
	var p h264.SPS
	if err := p.Unmarshal(sps); err != nil {
		return track{}, fmt.Errorf("h264: parse SPS: %w", err)
	}
	tr.width, tr.height = p.Width(), p.Height()
	tr.codec = &codecs.H264{SPS: sps, PPS: pps}
	return tr, nil
}

func noFrames(last error) error {
	if last == nil {
		return ErrNoFrames
	}
	return fmt.Errorf("%w (last problem: %w)", ErrNoFrames, last)
}

// sampleDurations returns each sample's duration in timescale ticks and
// their total, from the frame times: each sample lasts until the next
// frame; the last one, and any whose next frame is not later, last the
// median of the positive intervals (or interval, or defaultInterval, when
// there is none). Ticks are rounded from the exact elapsed time, so
// rounding does not accumulate.
func sampleDurations(times []time.Time, interval time.Duration) ([]uint32, time.Duration) {
	n := len(times)
	gaps := make([]time.Duration, 0, n)
	for i := 1; i < n; i++ {
		if d := times[i].Sub(times[i-1]); d > 0 {
			gaps = append(gaps, d)
		}
	}
	median := interval
	if len(gaps) > 0 {
		slices.Sort(gaps)
		median = gaps[len(gaps)/2]
		if len(gaps)%2 == 0 {
			median = (gaps[len(gaps)/2-1] + gaps[len(gaps)/2]) / 2
		}
	}
	if median <= 0 {
		median = defaultInterval
	}
	durs := make([]uint32, n)
	var elapsed time.Duration
	prevTick := int64(0)
	for i := range n {
		d := median
		if i+1 < n {
			if g := times[i+1].Sub(times[i]); g > 0 {
				d = g
			}
		}
		elapsed += d
		tick := ticks(elapsed)
		durs[i] = uint32(min(max(tick-prevTick, 1), math.MaxUint32))
		prevTick += int64(durs[i])
	}
	return durs, fromTicks(prevTick)
}

// ticks converts d to timescale ticks, rounded to the nearest.
func ticks(d time.Duration) int64 {
	s, ns := int64(d/time.Second), int64(d%time.Second)
	return s*timescale + (ns*timescale+int64(time.Second)/2)/int64(time.Second)
}

// fromTicks converts timescale ticks to a duration.
func fromTicks(t int64) time.Duration {
	return time.Duration(t/timescale)*time.Second + time.Duration(t%timescale)*time.Second/timescale
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
