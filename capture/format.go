package capture

import (
	"fmt"
	"strconv"
	"time"
)

// Pixel formats a Source may deliver. The names are V4L2 FourCC codes.
const (
	// PixMJPEG means every frame is one complete JPEG image (Motion-JPEG).
	PixMJPEG = "MJPG"
	// PixYUYV means every frame is packed YUV 4:2:2: Y0 U Y1 V for each pair
	// of pixels, Width*2 bytes a row, no padding.
	PixYUYV = "YUYV"
	// PixH264 means every frame is one H.264 access unit in Annex-B form
	// (start codes), as V4L2 delivers it. Clips pass it through; there is
	// no decoder, so an H.264 stream gives no snapshots.
	PixH264 = "H264"
)

// Format describes the frames a Source delivers: what the driver really
// chose, which may differ from what was asked for.
type Format struct {
	PixelFormat string  // PixMJPEG, PixYUYV or PixH264
	Width       int     // pixels
	Height      int     // pixels
	FPS         float64 // frames per second; 0 if unknown
}

// String returns the format as "MJPG 640x480@30fps".
func (f Format) String() string {
	pix := f.PixelFormat
	if pix == "" {
		pix = "?"
	}
	s := fmt.Sprintf("%s %dx%d", pix, f.Width, f.Height)
	if f.FPS > 0 {
		s += "@" + strconv.FormatFloat(f.FPS, 'f', -1, 64) + "fps"
	}
	return s
}

// Interval returns the time between two frames, or 0 if FPS is unknown.
func (f Format) Interval() time.Duration {
	if f.FPS <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / f.FPS)
}

// Frame is one captured image. Frames returned by Ring and Camera are
// copies: the caller owns Data.
type Frame struct {
	Data   []byte    // encoded as Format.PixelFormat says
	At     time.Time // when the frame was captured (wall clock)
	Seq    uint64    // assigned by the Ring, starting at 1, never reused
	Format Format
}

// Stills reports whether frames of this format can be snapshots: MJPEG as
// they are, YUYV encoded to JPEG. H.264 frames cannot (no decoder).
func (f Format) Stills() bool { return f.PixelFormat == PixMJPEG || f.PixelFormat == PixYUYV }
