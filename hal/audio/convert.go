package audio

import "encoding/binary"

// Convert resamples s to to.Rate by linear interpolation between
// neighbouring frames (no low-pass filter: good enough for speech, and
// downsampling a reply recorded above the device's rate may alias),
// remixes mono to stereo (both channels the same) or stereo to mono (the
// mean), and widens to to.Bits (S32_LE is the S16 sample in the top 16
// bits). It returns the little-endian bytes as the device takes them:
// round(frames × to.Rate / s.Rate) frames.
//
// Convert panics if s or to is not valid (see Sound.Validate and
// Format.Validate): the device edges only negotiate valid formats.
func Convert(s *Sound, to Format) []byte {
	c := newConverter(s, to)
	out := make([]byte, c.frames*to.FrameBytes())
	c.convert(out, 0, c.frames)
	return out
}

// converter produces the output frames of a conversion in any order and
// in chunks, so the speaker converts one period at a time.
type converter struct {
	s      *Sound
	to     Format
	in     int // input frames
	frames int // output frames
}

func newConverter(s *Sound, to Format) converter {
	if err := s.Validate(); err != nil {
		panic(err)
	}
	if err := to.Validate(); err != nil {
		panic(err)
	}
	in := s.Frames()
	out := int((int64(in)*int64(to.Rate) + int64(s.Rate)/2) / int64(s.Rate))
	return converter{s: s, to: to, in: in, frames: out}
}

// convert writes output frames [j0, j0+n) into dst, which holds at least
// n frames.
func (c converter) convert(dst []byte, j0, n int) {
	src, inCh, outCh := c.s.Samples, c.s.Channels, c.to.Channels
	inRate, outRate := int64(c.s.Rate), int64(c.to.Rate)
	wide := c.to.Bits == 32
	// Input position of output frame j: j*inRate/outRate, kept as an
	// integer frame i and a remainder frac (in 1/outRate frames).
	pos := int64(j0) * inRate
	i, frac := int(pos/outRate), pos%outRate
	step, stepFrac := int(inRate/outRate), inRate%outRate
	last := c.in - 1
	o := 0
	for k := 0; k < n; k++ {
		a := i
		if a > last {
			a = last
		}
		b := a + 1
		if b > last {
			b = last
		}
		o = lerpFrame(dst, o, src, a, b, inCh, outCh, frac, outRate, wide)
		i += step
		frac += stepFrac
		if frac >= outRate {
			frac -= outRate
			i++
		}
	}
}

// lerpFrame interpolates between input frames a and b of src (inCh
// channels) at frac/outRate of the way, remixes to outCh channels and
// writes the frame at dst[o:] as S16_LE, or S32_LE when wide. It returns
// the offset after it.
func lerpFrame(dst []byte, o int, src []int16, a, b, inCh, outCh int, frac, outRate int64, wide bool) int {
	var l, r int32 // the frame's left and right (or mono) values
	if inCh == 1 {
		x, y := int32(src[a]), int32(src[b])
		l = x + int32((int64(y-x)*frac)/outRate)
		r = l
	} else {
		x0, y0 := int32(src[2*a]), int32(src[2*b])
		x1, y1 := int32(src[2*a+1]), int32(src[2*b+1])
		l = x0 + int32((int64(y0-x0)*frac)/outRate)
		r = x1 + int32((int64(y1-x1)*frac)/outRate)
	}
	if outCh == 1 && inCh == 2 {
		l = (l + r) >> 1
	}
	if wide {
		binary.LittleEndian.PutUint32(dst[o:], uint32(l<<16))
		o += 4
		if outCh == 2 {
			binary.LittleEndian.PutUint32(dst[o:], uint32(r<<16))
			o += 4
		}
		return o
	}
	binary.LittleEndian.PutUint16(dst[o:], uint16(l))
	o += 2
	if outCh == 2 {
		binary.LittleEndian.PutUint16(dst[o:], uint16(r))
		o += 2
	}
	return o
}
