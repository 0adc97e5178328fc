//go:build linux

package gpioline

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

// The uAPI structs must match the kernel's layout exactly.
func TestUAPILayout(t *testing.T) {
	if s := unsafe.Sizeof(v2LineRequest{}); s != 592 {
		t.Errorf("gpio_v2_line_request is %d bytes, want 592", s)
	}
	if s := unsafe.Sizeof(v2LineConfig{}); s != 272 {
		t.Errorf("gpio_v2_line_config is %d bytes, want 272", s)
	}
	if s := unsafe.Sizeof(v2LineValues{}); s != 16 {
		t.Errorf("gpio_v2_line_values is %d bytes, want 16", s)
	}
	if ioctlGetLine != 0xC250B407 {
		t.Errorf("GPIO_V2_GET_LINE_IOCTL = %#x, want 0xc250b407", ioctlGetLine)
	}
	if ioctlGetValues != 0xC010B40E {
		t.Errorf("GPIO_V2_LINE_GET_VALUES_IOCTL = %#x, want 0xc010b40e", ioctlGetValues)
	}
}

// An event as the kernel writes it, built byte by byte in the machine's
// order: decodeEvent must read every field at its uAPI offset on 32- and
// 64-bit machines alike.
func TestDecodeEvent(t *testing.T) {
	b := make([]byte, v2EventSize)
	binary.NativeEndian.PutUint64(b[0:], 1_764_000_000_123_456_789)
	binary.NativeEndian.PutUint32(b[8:], v2EventFalling)
	binary.NativeEndian.PutUint32(b[12:], 17)
	binary.NativeEndian.PutUint32(b[16:], 40)
	binary.NativeEndian.PutUint32(b[20:], 39)
	for i := 24; i < v2EventSize; i++ {
		b[i] = 0xff // padding is ignored
	}
	want := rawEvent{TimestampNs: 1_764_000_000_123_456_789, ID: v2EventFalling, Offset: 17, Seqno: 40, LineSeqno: 39}
	if got := decodeEvent(b); got != want {
		t.Errorf("decodeEvent = %+v, want %+v", got, want)
	}
}

func TestLostBefore(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur uint32
		want      uint32
	}{
		{"first event after the request", 0, 1, 0},
		{"first events dropped before the first read", 0, 35, 34},
		{"next in line", 7, 8, 0},
		{"gap of one", 7, 9, 1},
		{"overflow of a 1024 queue", 100, 1125, 1024},
		{"wrap-around, none lost", 0xffffffff, 0, 0},
		{"wrap-around, two lost", 0xfffffffe, 1, 2},
		{"repeated number", 5, 5, 0},
		{"went backwards", 5, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lostBefore(tt.prev, tt.cur); got != tt.want {
				t.Errorf("lostBefore(%d, %d) = %d, want %d", tt.prev, tt.cur, got, tt.want)
			}
		})
	}
}

// The edge decoded from the event buffer carries the loss and keeps the
// running count.
func TestEventCountsLoss(t *testing.T) {
	in := &Input{}
	put := func(id, lineSeqno uint32) (uint32, bool) {
		binary.NativeEndian.PutUint64(in.buf[0:], 1_000)
		binary.NativeEndian.PutUint32(in.buf[8:], id)
		binary.NativeEndian.PutUint32(in.buf[16:], lineSeqno)
		binary.NativeEndian.PutUint32(in.buf[20:], lineSeqno)
		e, ok := in.event(true)
		if ok && (e.LineSeqno != lineSeqno || e.Level != (id == v2EventRising)) {
			t.Errorf("edge %+v from id %d line_seqno %d", e, id, lineSeqno)
		}
		return e.Lost, ok
	}
	for i, s := range []struct {
		id, seq, lost uint32
		total         uint64
	}{
		{v2EventFalling, 3, 2, 2}, // the first two were dropped
		{v2EventRising, 4, 0, 2},
		{v2EventFalling, 10, 5, 7},
		{v2EventRising, 11, 0, 7},
	} {
		lost, ok := put(s.id, s.seq)
		if !ok || lost != s.lost || in.LostEdges() != s.total {
			t.Errorf("event %d: lost %d (ok %v), total %d; want %d, %d", i, lost, ok, in.LostEdges(), s.lost, s.total)
		}
	}
	if _, ok := put(0, 12); ok {
		t.Errorf("an event with id 0 was taken as an edge")
	}
}
