package rtsp

import "math/bits"

// G.711 (ITU-T, 1972) as RTP carries it: one byte a sample, 8000 Hz.
// Computed, not looked up: a few shifts a sample, no tables to build.
// Decoding gives the same values as mediacommon's g711 package (which
// the tests check for all 256 codes).

// RTP payload types of G.711 (RFC 3551, static).
const (
	ptPCMU = 0 // µ-law
	ptPCMA = 8 // A-law
)

// mulawEncode encodes one 16-bit sample with µ-law (bias 0x84, clipped
// at 32635), rounding to the nearest step.
func mulawEncode(s int16) byte {
	x := int(s)
	var sign byte
	if x < 0 {
		x, sign = -x, 0x80
	}
	x = min(x, 32635) + 0x84
	exp := bits.Len(uint(x)) - 8 // x in [0x84, 0x7fff]: 0..7
	mant := (x >> (exp + 3)) & 0x0f
	return ^(sign | byte(exp)<<4 | byte(mant))
}

// mulawDecode decodes one µ-law byte to a 16-bit sample.
func mulawDecode(b byte) int16 {
	u := ^b
	t := (int(u&0x0f)<<3 + 0x84) << ((u & 0x70) >> 4)
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// alawDecode decodes one A-law byte to a 16-bit sample.
func alawDecode(b byte) int16 {
	a := b ^ 0x55
	t := int(a&0x0f) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
