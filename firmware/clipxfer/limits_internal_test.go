package clipxfer

import (
	"slices"
	"testing"
	"time"
)

func TestMergeRanges(t *testing.T) {
	for _, c := range []struct {
		in     [][2]int
		chunks int
		want   [][2]int
	}{
		{[][2]int{{0, 5}}, 10, [][2]int{{0, 5}}},
		{[][2]int{{0, 19}, {0, 19}, {0, 19}}, 20, [][2]int{{0, 19}}},
		{[][2]int{{8, 9}, {0, 2}, {3, 4}, {6, 6}}, 10, [][2]int{{0, 4}, {6, 6}, {8, 9}}},
		{[][2]int{{8, 9}, {6, 7}}, 10, [][2]int{{6, 9}}},
		{[][2]int{{0, 65535}}, 20, [][2]int{{0, 19}}},
		{[][2]int{{20, 30}, {5, 5}}, 20, [][2]int{{5, 5}}},
		{[][2]int{{2, 3}, {1, 8}}, 10, [][2]int{{1, 8}}},
	} {
		in := slices.Clone(c.in)
		if got := mergeRanges(c.in, c.chunks); !slices.Equal(got, c.want) {
			t.Errorf("mergeRanges(%v, %d) = %v, want %v", in, c.chunks, got, c.want)
		}
		if !slices.Equal(c.in, in) {
			t.Errorf("mergeRanges changed its input: %v", c.in)
		}
	}
}

func TestHourly(t *testing.T) {
	var h hourly
	t0 := time.Date(2026, 11, 26, 19, 0, 30, 0, time.UTC)
	h.add(t0, 100)
	h.add(t0.Add(10*time.Minute), 10)
	if s := h.sum(t0.Add(59 * time.Minute)); s != 110 {
		t.Errorf("after 59 minutes: %d", s)
	}
	if s := h.sum(t0.Add(60 * time.Minute)); s != 10 {
		t.Errorf("after an hour: %d, want the first minute gone", s)
	}
	h.add(t0.Add(60*time.Minute), 1) // the first minute's bucket, reused
	if s := h.sum(t0.Add(60 * time.Minute)); s != 11 {
		t.Errorf("bucket reused: %d", s)
	}
	if s := h.sum(t0.Add(2 * time.Hour)); s != 0 {
		t.Errorf("after two hours: %d", s)
	}
}
