package live

import "bytes"

// H.264 NAL unit types the hub looks at (ITU-T H.264 table 7-1).
const (
	nalSlice = 1 // coded slice of a non-IDR picture
	nalIDR   = 5 // coded slice of an IDR picture
	nalSPS   = 7
	nalPPS   = 8
)

// au is what the hub needs to know about one H.264 access unit.
type au struct {
	key      bool   // has an IDR slice
	sps, pps []byte // parameter sets in the unit (sub-slices of its data), nil if none
}

// parseAU scans an Annex-B access unit up to its first slice. All slices
// of one picture are of one kind, and parameter sets come before them, so
// the rest of the unit (nearly all of its bytes) is not read.
func parseAU(data []byte) au {
	var a au
	forNALs(data, func(nal []byte) bool {
		switch nal[0] & 0x1f {
		case nalSPS:
			a.sps = nal
		case nalPPS:
			a.pps = nal
		case nalIDR:
			a.key = true
			return false
		case nalSlice, 2, 3, 4: // non-IDR slice or data partition
			return false
		}
		return true
	})
	return a
}

var startCode = []byte{0, 0, 1}

// forNALs calls fn with each non-empty NAL unit of an Annex-B byte stream
// (without start code and trailing zero bytes) until fn returns false.
// Bytes before the first start code are ignored.
func forNALs(data []byte, fn func(nal []byte) bool) {
	i := bytes.Index(data, startCode)
	if i < 0 {
		return
	}
	data = data[i+3:]
	for len(data) > 0 {
		end, next := len(data), len(data)
		if j := bytes.Index(data, startCode); j >= 0 {
			end, next = j, j+3
		}
		nal := data[:end]
		for len(nal) > 0 && nal[len(nal)-1] == 0 {
			nal = nal[:len(nal)-1] // trailing_zero_8bits, or a 4-byte start code's first zero
		}
		if len(nal) > 0 && !fn(nal) {
			return
		}
		data = data[next:]
	}
}
