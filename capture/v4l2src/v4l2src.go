package v4l2src

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

// ErrNotSupported is returned (wrapped) by Stream in a binary built without
// V4L2 support (not Linux, or CGO_ENABLED=0).
var ErrNotSupported = errors.New("built without V4L2 support (needs linux and cgo)")

// Options configures a Source. Zero fields take the defaults noted.
type Options struct {
	Width  int // requested frame width; default 640
	Height int // requested frame height; default 480
	FPS    int // requested frame rate; default 15
	// Format is the pixel format to negotiate: "auto" (or ""; MJPEG if
	// offered, else YUYV), "mjpeg" (MJPEG, else YUYV with a warning) or
	// "yuyv".
	Format string
	// NoH264 keeps "auto" from choosing H.264 (privacy masks cannot be
	// applied to it): MJPEG, else YUYV.
	NoH264 bool
	Logger *slog.Logger // default slog.Default()
	// Buffers is the number of driver buffers to request; default 4.
	Buffers int
	// StallTimeout ends a stream that delivers no frame for this long, so
	// the camera is reopened; default 5s.
	StallTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Width <= 0 {
		o.Width = 640
	}
	if o.Height <= 0 {
		o.Height = 480
	}
	if o.FPS <= 0 {
		o.FPS = 15
	}
	if o.Format == "" {
		o.Format = "auto"
	}
	o.Format = strings.ToLower(o.Format)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Buffers <= 0 {
		o.Buffers = 4
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 5 * time.Second
	}
	return o
}

// Source captures from a V4L2 device. It implements capture.Source.
type Source struct {
	device string
	opts   Options

	frames, skipped, bad atomic.Uint64
}

// Stats are a Source's counters since New, over every stream it opened.
type Stats struct {
	Frames uint64 // good frames pushed
	// Skipped counts the frames the driver dropped, from gaps in the
	// buffers' sequence numbers: the driver had no free buffer (the
	// reader was late) or the device skipped them.
	Skipped uint64
	Bad     uint64 // buffers the driver flagged as bad, or empty
}

// Stats returns the counters. It is safe for concurrent use with Stream.
func (s *Source) Stats() Stats {
	return Stats{Frames: s.frames.Load(), Skipped: s.skipped.Load(), Bad: s.bad.Load()}
}

var _ capture.Source = (*Source)(nil)

// New returns a source for the V4L2 device at path device (e.g.
// /dev/video0). It opens nothing until Stream.
func New(device string, opts Options) *Source {
	return &Source{device: device, opts: opts.withDefaults()}
}

// FourCC codes, as the driver spells them.
const (
	fourccMJPEG = "MJPG"
	fourccJPEG  = "JPEG" // each frame a JPEG too; some drivers offer it beside or instead of MJPG
	fourccYUYV  = "YUYV"
	fourccH264  = "H264"
)

// choosePixelFormat returns the FourCC to request, given the ones the
// device offers and the configured preference (auto, mjpeg, yuyv).
// fellBack reports that mjpeg was asked for but YUYV is used.
func choosePixelFormat(offered []string, want string, noH264 bool) (fourcc string, fellBack bool, err error) {
	has := func(f string) bool {
		for _, o := range offered {
			if o == f {
				return true
			}
		}
		return false
	}
	jpegLike := ""
	switch {
	case has(fourccMJPEG):
		jpegLike = fourccMJPEG
	case has(fourccJPEG):
		jpegLike = fourccJPEG
	}
	switch want {
	case "auto", "", "mjpeg":
		// MJPEG first (snapshots as captured), then H.264 passthrough
		// (small clips, no encoding, but no snapshots), then YUYV.
		if jpegLike != "" {
			return jpegLike, false, nil
		}
		if has(fourccH264) && want != "mjpeg" && !noH264 {
			return fourccH264, false, nil
		}
		if has(fourccYUYV) {
			return fourccYUYV, want == "mjpeg", nil
		}
	case "yuyv":
		if has(fourccYUYV) {
			return fourccYUYV, false, nil
		}
	case "h264":
		if has(fourccH264) {
			return fourccH264, false, nil
		}
	default:
		return "", false, fmt.Errorf("unknown format option %q (want auto, mjpeg, h264 or yuyv)", want)
	}
	why := ""
	if noH264 && has(fourccH264) {
		why = " (H.264 is left out: privacy masks need MJPEG or YUYV)"
	}
	return "", false, fmt.Errorf("no usable pixel format for %q: device offers %s%s", want, strings.Join(offered, " "), why)
}

// pixelFormat maps a FourCC the driver chose to a capture pixel format.
func pixelFormat(fourcc string) (string, bool) {
	switch fourcc {
	case fourccMJPEG, fourccJPEG:
		return capture.PixMJPEG, true
	case fourccYUYV:
		return capture.PixYUYV, true
	case fourccH264:
		return capture.PixH264, true
	}
	return "", false
}

// fourccString spells a V4L2 FourCC code.
func fourccString(code uint32) string {
	return string([]byte{byte(code), byte(code >> 8), byte(code >> 16), byte(code >> 24)})
}

// fourccCode is the inverse of fourccString; s must be 4 bytes.
func fourccCode(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// fpsOf turns a V4L2 time-per-frame fraction into frames per second; 0 if
// the driver did not say.
func fpsOf(num, den uint32) float64 {
	if num == 0 || den == 0 {
		return 0
	}
	return float64(den) / float64(num)
}

// maxFrameAge bounds how old a driver timestamp may be before it is judged
// not to be on CLOCK_MONOTONIC.
const maxFrameAge = 10 * time.Second

// wallClock maps a frame timestamp on CLOCK_MONOTONIC (frame) to wall-clock
// time, given a CLOCK_MONOTONIC reading (monoNow) taken together with now:
// wall = now - (monoNow - frame). A zero timestamp, or one in the future or
// more than maxFrameAge old (a driver on another clock), gives now.
func wallClock(frame, monoNow time.Duration, now time.Time) time.Time {
	if frame <= 0 {
		return now
	}
	age := monoNow - frame
	if age < 0 || age > maxFrameAge {
		return now
	}
	return now.Add(-age)
}

// seqGaps counts the frames missing between the sequence numbers of
// consecutive buffers of one stream (V4L2's v4l2_buffer.sequence counts
// every frame the device captured, delivered or not).
type seqGaps struct {
	last    uint32
	started bool
}

// next takes the sequence number of the next dequeued buffer and returns
// how many frames were skipped before it. A number that does not move
// forward (a driver restarting its count) is a new start, not a gap.
func (g *seqGaps) next(seq uint32) uint64 {
	var n uint64
	if g.started {
		if d := seq - g.last; d > 1 && d < 1<<31 {
			n = uint64(d - 1)
		}
	}
	g.last, g.started = seq, true
	return n
}
