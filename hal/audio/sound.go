package audio

import (
	"errors"
	"fmt"
	"time"
)

// MaxReply is the longest quick reply LoadWAV accepts.
const MaxReply = 30 * time.Second

// The rates and channel counts a Sound may have: those of a quick reply
// or a microphone.
const (
	MinRate = 8000
	MaxRate = 48000
)

// Sentinel errors callers branch on.
var (
	// ErrBadWAV wraps every refusal of ParseWAV and LoadWAV.
	ErrBadWAV = errors.New("bad wav")
	// ErrNoDevice means the sound card or its PCM device is not there
	// (unplugged USB card, module not loaded, wrong name).
	ErrNoDevice = errors.New("no such sound device")
	// ErrBusy means another program holds the PCM device.
	ErrBusy = errors.New("sound device busy")
	// ErrNoFormat means the device takes none of the formats doorbelld
	// can give it.
	ErrNoFormat = errors.New("no supported format")
	// ErrClosed is returned by a Speaker or Microphone used after Close.
	ErrClosed = errors.New("audio device closed")
)

// Sound is PCM audio in memory: interleaved signed 16-bit samples, Channels
// per frame, Rate frames a second.
type Sound struct {
	Rate, Channels int
	Samples        []int16
}

// Frames is the number of whole frames in s.
func (s *Sound) Frames() int {
	if s == nil || s.Channels <= 0 {
		return 0
	}
	return len(s.Samples) / s.Channels
}

// Duration is how long s plays.
func (s *Sound) Duration() time.Duration {
	if s == nil || s.Rate <= 0 {
		return 0
	}
	return time.Duration(int64(s.Frames()) * int64(time.Second) / int64(s.Rate))
}

// Validate says what is wrong with a Sound built by hand: rate 8000-48000,
// 1 or 2 channels, whole frames.
func (s *Sound) Validate() error {
	switch {
	case s == nil:
		return errors.New("audio: nil sound")
	case s.Rate < MinRate || s.Rate > MaxRate:
		return fmt.Errorf("audio: sound rate %d Hz, want %d-%d", s.Rate, MinRate, MaxRate)
	case s.Channels != 1 && s.Channels != 2:
		return fmt.Errorf("audio: sound has %d channels, want 1 or 2", s.Channels)
	case len(s.Samples)%s.Channels != 0:
		return fmt.Errorf("audio: sound has %d samples, not a whole number of %d-channel frames", len(s.Samples), s.Channels)
	}
	return nil
}

// Format is what a device takes or gives: frames a second, interleaved
// channels, and bits per sample, 16 (S16_LE) or 32 (S32_LE).
type Format struct {
	Rate, Channels, Bits int
}

// FrameBytes is the size of one frame in bytes.
func (f Format) FrameBytes() int { return f.Channels * f.Bits / 8 }

func (f Format) String() string {
	return fmt.Sprintf("%d Hz %dch S%d_LE", f.Rate, f.Channels, f.Bits)
}

// Validate says what is wrong with f: Convert and the device edges take
// rates 1000-384000, 1 or 2 channels, 16 or 32 bits.
func (f Format) Validate() error {
	switch {
	case f.Rate < 1000 || f.Rate > 384000:
		return fmt.Errorf("audio: format rate %d Hz, want 1000-384000", f.Rate)
	case f.Channels != 1 && f.Channels != 2:
		return fmt.Errorf("audio: format has %d channels, want 1 or 2", f.Channels)
	case f.Bits != 16 && f.Bits != 32:
		return fmt.Errorf("audio: format has %d bits, want 16 (S16_LE) or 32 (S32_LE)", f.Bits)
	}
	return nil
}
