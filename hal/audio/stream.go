package audio

import (
	"fmt"
)

// StreamConverter converts a live stream of interleaved signed 16-bit
// samples (rate, channels) to a device Format one period at a time, by
// the rules of Convert (linear interpolation, remix, widen). It keeps the
// last two input frames between periods so the interpolation runs on
// across them; when the rates differ the output lags the input by one
// input frame (125 µs at 8 kHz), which lets each period be converted from
// input already asked for. At equal rates frames pass through unshifted.
//
// A StreamConverter has one owner: the goroutine that writes the device.
type StreamConverter struct {
	rate, channels int
	to             Format
	outPos, inPos  int64   // output frames produced, input frames asked for
	win            []int16 // the two previous input frames, then the new ones
}

// NewStreamConverter returns a converter of a stream of rate Hz (MinRate
// to MaxRate) and 1 or 2 channels to the device format to.
func NewStreamConverter(rate, channels int, to Format) (*StreamConverter, error) {
	if err := validStream(rate, channels); err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	if err := to.Validate(); err != nil {
		return nil, err
	}
	return &StreamConverter{rate: rate, channels: channels, to: to, win: make([]int16, 2*channels)}, nil
}

func validStream(rate, channels int) error {
	switch {
	case rate < MinRate || rate > MaxRate:
		return fmt.Errorf("stream rate %d Hz, want %d-%d", rate, MinRate, MaxRate)
	case channels != 1 && channels != 2:
		return fmt.Errorf("stream has %d channels, want 1 or 2", channels)
	}
	return nil
}

// InFrames is how many input frames the next Convert of frames output
// frames asks src for.
func (c *StreamConverter) InFrames(frames int) int {
	if c.rate == c.to.Rate {
		return frames
	}
	end := c.outPos + int64(frames)
	return int(ceilDiv(end*int64(c.rate), int64(c.to.Rate)) - c.inPos)
}

// Convert fills dst, which must hold a whole number of the device's
// frames, with the stream's next frames. It calls src once with room for
// the input frames they need (InFrames); src returns how many samples it
// filled, a prefix of p, and the rest is silence. Convert returns that
// count.
func (c *StreamConverter) Convert(dst []byte, src func(p []int16) int) int {
	fb := c.to.FrameBytes()
	frames := len(dst) / fb
	if frames*fb != len(dst) {
		panic(fmt.Sprintf("audio: stream convert into %d bytes: not whole %d-byte frames of %v", len(dst), fb, c.to))
	}
	ch := c.channels
	need := c.InFrames(frames)
	if n := (need + 2) * ch; cap(c.win) < n {
		w := make([]int16, n, n+n/2)
		copy(w, c.win[:2*ch])
		c.win = w
	}
	win := c.win[:(need+2)*ch]
	p := win[2*ch:]
	got := 0
	if need > 0 {
		got = max(0, min(src(p), len(p)))
		clear(p[got:])
	}

	inRate, outRate := int64(c.rate), int64(c.to.Rate)
	outCh, wide := c.to.Channels, c.to.Bits == 32
	// Input position of output frame j, in 1/outRate input frames, lagging
	// by one input frame when resampling: (j*inRate - delay) / outRate.
	delay := outRate
	if inRate == outRate {
		delay = 0
	}
	pos := c.outPos*inRate - delay
	i := floorDiv(pos, outRate)
	frac := pos - i*outRate
	a := int(i - (c.inPos - 2)) // window index of input frame i
	step, stepFrac := int(inRate/outRate), inRate%outRate
	last := need + 1
	o := 0
	for range frames {
		b := min(a+1, last)
		o = lerpFrame(dst, o, win, a, b, ch, outCh, frac, outRate, wide)
		a += step
		frac += stepFrac
		if frac >= outRate {
			frac -= outRate
			a++
		}
	}
	// Keep the last two input frames for the next period.
	copy(win[:2*ch], win[need*ch:(need+2)*ch])
	c.outPos += int64(frames)
	c.inPos += int64(need)
	return got
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
