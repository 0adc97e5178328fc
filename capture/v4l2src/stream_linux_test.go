//go:build linux && cgo

package v4l2src

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"

	"github.com/doorbelld/doorbelld/capture"
)

// TestStreamNoDevice checks that a missing or non-video device is an
// error from Stream, not a panic or a hang, and that started is not called.
func TestStreamNoDevice(t *testing.T) {
	for _, dev := range []string{"/dev/video-does-not-exist", os.DevNull} {
		t.Run(dev, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := New(dev, Options{}).Stream(ctx, func(capture.Format) {
				t.Error("started called")
			}, func([]byte, time.Time) {})
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
		})
	}
}

// TestFrameClock checks the mapping of driver timestamps (CLOCK_MONOTONIC)
// to wall-clock times: exact for plausible stamps, CLOCK_MONOTONIC read
// once, and now for stamps that cannot be on that clock.
func TestFrameClock(t *testing.T) {
	wall0 := time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC)
	mono0 := 1000 * time.Second
	var elapsed time.Duration // fake time since (mono0, wall0)
	reads := 0
	c := frameClock{
		readMono: func() (time.Duration, error) {
			reads++
			return mono0 + elapsed, nil
		},
	}
	tv := func(d time.Duration) unix.Timeval { return unix.NsecToTimeval(d.Nanoseconds()) }
	mon := uint32(v4l2.BufFlagTimestampMonotonic)

	// 10 s of frames at 25 fps, each seen 15 ms after its capture.
	for i := 0; i < 250; i++ {
		captured := time.Duration(i) * 40 * time.Millisecond
		elapsed = captured + 15*time.Millisecond
		at := c.wall(mon, tv(mono0+captured), wall0.Add(elapsed))
		if want := wall0.Add(captured); !at.Equal(want) {
			t.Fatalf("frame %d: at %v, want %v", i, at.Format(time.StampMicro), want.Format(time.StampMicro))
		}
	}
	if reads != 1 {
		t.Errorf("CLOCK_MONOTONIC read %d times, want once", reads)
	}

	now := wall0.Add(elapsed)
	for name, tc := range map[string]struct {
		flags uint32
		tv    unix.Timeval
	}{
		"an hour old":              {mon, tv(mono0 + elapsed - time.Hour)},
		"a minute ahead":           {mon, tv(mono0 + elapsed + time.Minute)},
		"35ms ahead (vivid's EOF)": {mon, tv(mono0 + elapsed + 35*time.Millisecond)},
		"no stamp":                 {mon, unix.Timeval{}},
		"copied stamp":             {v4l2.BufFlagTimestampCopy, tv(mono0)},
	} {
		if at := c.wall(tc.flags, tc.tv, now); !at.Equal(now) {
			t.Errorf("%s: %v, want now (%v)", name, at, now)
		}
	}
}
