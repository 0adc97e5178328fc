package live

import (
	"errors"
	"time"
)

// Codec is how a live Frame's Data is encoded.
type Codec string

// The codecs of a live stream.
const (
	// JPEG: Data is one complete baseline JPEG image (an MJPEG camera's
	// frame as captured, or a YUYV camera's frame encoded once).
	JPEG Codec = "jpeg"
	// H264: Data is one H.264 access unit in Annex-B form (start codes),
	// as the camera delivered it.
	H264 Codec = "h264"
)

// Frame is one frame as viewers get it. It is shared by every viewer and
// must not be modified.
type Frame struct {
	Data   []byte
	Codec  Codec
	Width  int
	Height int
	At     time.Time // capture time (wall clock), as in capture.Frame
	Seq    uint64    // the capture ring's sequence number of the frame
	// Key is true for a frame a decoder can start from: every JPEG, and
	// an H.264 access unit with an IDR slice.
	Key bool
}

// Info describes the live stream now, for a viewer that must announce it
// before the first frame (RTSP's DESCRIBE).
type Info struct {
	Codec  Codec
	Width  int
	Height int
	FPS    float64 // 0 if unknown
	// SPS and PPS are the H.264 parameter sets last seen in the stream
	// (without start codes); nil for JPEG or when none was seen yet.
	SPS, PPS []byte
}

// Why a viewer is refused or its stream ends.
var (
	// ErrPrivate: privacy mode is on. Streams end and new viewers are
	// refused until it is switched off.
	ErrPrivate = errors.New("live: privacy mode is on: the camera is not shown")
	// ErrNoCamera: the camera is not streaming (missing, failed, or not
	// started yet).
	ErrNoCamera = errors.New("live: the camera is not streaming")
	// ErrFormatChanged: the camera restarted with another format; the
	// viewer must start again (a new DESCRIBE for RTSP).
	ErrFormatChanged = errors.New("live: the camera's format changed")
	// ErrClosed: the viewer was closed, or the hub stopped.
	ErrClosed = errors.New("live: stream closed")
)
