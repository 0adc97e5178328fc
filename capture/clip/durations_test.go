package clip

import (
	"slices"
	"testing"
	"time"
)

func TestSampleDurations(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		out := make([]time.Time, len(ms))
		for i, m := range ms {
			out[i] = t0.Add(time.Duration(m) * time.Millisecond)
		}
		return out
	}
	tests := []struct {
		name     string
		times    []time.Time
		interval time.Duration
		want     []uint32 // 90 kHz ticks
	}{
		{"one frame, format interval", at(0), 100 * time.Millisecond, []uint32{9000}},
		{"one frame, no interval", at(0), 0, []uint32{6000}},
		{"regular", at(0, 100, 200), 0, []uint32{9000, 9000, 9000}},
		{"last gets the median", at(0, 100, 150, 250, 350), 0, []uint32{9000, 4500, 9000, 9000, 9000}},
		{"median of an even count", at(0, 100, 300), 0, []uint32{9000, 18000, 13500}},
		{"gap kept", at(0, 100, 2100, 2200), 0, []uint32{9000, 180000, 9000, 9000}},
		{"time going back gets the median", at(0, 100, 50, 150), 0, []uint32{9000, 9000, 9000, 9000}},
		{"same time gets the median", at(0, 100, 100, 200), 0, []uint32{9000, 9000, 9000, 9000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total := sampleDurations(tt.times, tt.interval)
			if !slices.Equal(got, tt.want) {
				t.Errorf("sampleDurations = %v, want %v", got, tt.want)
			}
			var sum int64
			for _, d := range got {
				sum += int64(d)
			}
			if total != fromTicks(sum) {
				t.Errorf("total = %v, want %v", total, fromTicks(sum))
			}
		})
	}
}

// At 30000/1001 fps no frame interval is a whole number of ticks; the
// ticks are rounded from the elapsed time, so the error does not grow.
func TestSampleDurationsNoDrift(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	const n = 30 * 60 * 10 // ten minutes
	iv := time.Duration(1001 * int64(time.Second) / 30000)
	times := make([]time.Time, n)
	for i := range times {
		times[i] = t0.Add(time.Duration(i) * time.Second * 1001 / 30000)
	}
	durs, total := sampleDurations(times, 0)
	var tick int64
	for i, d := range durs[:n-1] {
		tick += int64(d)
		want := times[i+1].Sub(t0)
		if e := fromTicks(tick) - want; e < -12*time.Microsecond || e > 12*time.Microsecond {
			t.Fatalf("sample %d ends at %v, frame %d is at %v", i, fromTicks(tick), i+1, want)
		}
	}
	if want := times[n-1].Sub(t0) + iv; total-want > 12*time.Microsecond || want-total > 12*time.Microsecond {
		t.Errorf("total %v, want %v", total, want)
	}
}
