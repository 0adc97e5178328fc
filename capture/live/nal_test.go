package live

import (
	"bytes"
	"testing"
)

func TestParseAU(t *testing.T) {
	sps := []byte{0x67, 1, 2, 3}
	pps := []byte{0x68, 4, 5}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	sc4, sc3 := []byte{0, 0, 0, 1}, []byte{0, 0, 1}
	for _, tc := range []struct {
		name     string
		data     []byte
		key      bool
		sps, pps []byte
	}{
		{"idr with parameter sets", join(sc4, sps, sc4, pps, sc3, []byte{0x65, 9, 9}), true, sps, pps},
		{"idr alone", join(sc4, []byte{0x25, 1}), true, nil, nil}, // nal_ref_idc 1
		{"non-idr", join(sc4, []byte{0x41, 1, 2}), false, nil, nil},
		{"delimiter then non-idr", join(sc4, []byte{0x09, 0x10}, sc4, []byte{0x21, 7}), false, nil, nil},
		{"trailing zeros", join(sc4, sps, []byte{0, 0}, sc4, []byte{0x65}), true, sps, nil},
		{"sei then idr", join(sc3, []byte{0x06, 5, 5}, sc3, []byte{0x65, 1}), true, nil, nil},
		{"garbage before start code", join([]byte{7, 7}, sc3, []byte{0x65}), true, nil, nil},
		{"no start code", []byte{0x65, 1, 2}, false, nil, nil},
		{"empty", nil, false, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := parseAU(tc.data)
			if a.key != tc.key || !bytes.Equal(a.sps, tc.sps) || !bytes.Equal(a.pps, tc.pps) {
				t.Errorf("parseAU = key %v sps %x pps %x; want %v %x %x", a.key, a.sps, a.pps, tc.key, tc.sps, tc.pps)
			}
		})
	}
}

func FuzzForNALs(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x65, 2})
	f.Add([]byte{0, 0, 1, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		total := 0
		forNALs(data, func(nal []byte) bool {
			if len(nal) == 0 || nal[len(nal)-1] == 0 {
				t.Fatalf("bad nal %x", nal)
			}
			if bytes.Contains(nal, []byte{0, 0, 1}) {
				t.Fatalf("nal %x holds a start code", nal)
			}
			total += len(nal)
			return true
		})
		if total > len(data) {
			t.Fatalf("nals hold %d bytes of %d", total, len(data))
		}
		parseAU(data)
	})
}
