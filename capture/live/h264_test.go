package live_test

import (
	"bytes"
	"testing"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/live"
)

func TestH264FastStart(t *testing.T) {
	r := newRig(t, h264, rigOpts{})
	r.push(keyAU(1))
	r.push(deltaAU(2))
	r.push(deltaAU(3))
	r.push(keyAU(4))
	r.push(deltaAU(5))
	r.push(deltaAU(6))

	v := r.subscribe(live.KindRTSP)
	info := v.Info()
	if info.Codec != live.H264 || !bytes.Equal(info.SPS, testSPS) || !bytes.Equal(info.PPS, testPPS) {
		t.Errorf("viewer info %+v, want h264 with the SPS and PPS", info)
	}
	for _, want := range []byte{4, 5, 6} {
		f := next(t, v)
		if auNum(f) != want || f.Key != (want == 4) || f.Codec != live.H264 {
			t.Fatalf("fast start: unit %d key %v, want %d", auNum(f), f.Key, want)
		}
	}
	for n := byte(7); n < 12; n++ {
		r.push(deltaAU(n))
		if f := next(t, v); auNum(f) != n {
			t.Fatalf("live: unit %d, want %d", auNum(f), n)
		}
	}
	if d := v.Dropped(); d != 0 {
		t.Errorf("dropped %d", d)
	}
}

func TestH264NoKeyframeYet(t *testing.T) {
	r := newRig(t, h264, rigOpts{})
	r.push(deltaAU(1))
	v := r.subscribe(live.KindRTSP)
	r.push(deltaAU(2))
	r.push(keyAU(3))
	r.push(deltaAU(4))
	for _, want := range []byte{3, 4} {
		if f := next(t, v); auNum(f) != want {
			t.Fatalf("unit %d, want %d", auNum(f), want)
		}
	}
	if d := v.Dropped(); d != 1 {
		t.Errorf("dropped %d, want 1 (unit 2)", d)
	}
}

func TestH264Overflow(t *testing.T) {
	r := newRig(t, h264, rigOpts{hub: live.Options{QueueFrames: 4}})
	v := r.subscribe(live.KindRTSP) // reads only at the end
	r.push(keyAU(1))
	for n := byte(2); n <= 6; n++ {
		r.push(deltaAU(n))
	}
	// Queue: 1 2 3 4; unit 5 overflows it, so 1..5 are dropped and 6
	// waits for a keyframe.
	eventually(t, "overflow", func() bool { return v.Dropped() == 6 })
	if n := v.Queued(); n != 0 {
		t.Fatalf("queued %d after overflow, want 0", n)
	}
	r.push(keyAU(7))
	r.push(deltaAU(8))
	eventually(t, "keyframe queued", func() bool { return v.Queued() == 2 })
	for _, want := range []byte{7, 8} {
		if f := next(t, v); auNum(f) != want {
			t.Fatalf("after overflow: unit %d, want %d", auNum(f), want)
		}
	}
	if d := r.hub.Stats().Dropped; d != 6 {
		t.Errorf("hub dropped %d, want 6", d)
	}
}

func TestH264OverflowBytes(t *testing.T) {
	r := newRig(t, h264, rigOpts{hub: live.Options{QueueBytes: 3 * len(keyAU(0))}})
	v := r.subscribe(live.KindRTSP)
	r.push(keyAU(1))
	r.push(keyAU(2))
	r.push(keyAU(3))
	r.push(keyAU(4)) // overflows; a keyframe starts the queue again
	eventually(t, "overflow", func() bool { return v.Dropped() == 3 })
	if f := next(t, v); auNum(f) != 4 {
		t.Errorf("after overflow: unit %d, want 4", auNum(f))
	}
}

// Frames the ring evicted before the hub read them make a gap: the
// viewer resumes at the next keyframe.
func TestH264Gap(t *testing.T) {
	r := newRig(t, h264, rigOpts{ring: capture.NewRingSize(1<<20, 4), noHubRun: true})
	r.push(keyAU(1))
	r.push(deltaAU(2))
	v := r.subscribe(live.KindRTSP) // prefilled with 1, 2
	for n := byte(3); n <= 9; n++ {
		r.push(deltaAU(n)) // the ring keeps 6..9
	}
	r.startHub()
	eventually(t, "gap seen", func() bool { return v.Dropped() == 7 }) // 3..5 lost, 6..9 skipped
	r.push(keyAU(10))
	r.push(deltaAU(11))
	for _, want := range []byte{1, 2, 10, 11} {
		if f := next(t, v); auNum(f) != want {
			t.Fatalf("unit %d, want %d", auNum(f), want)
		}
	}
}

// Info finds the parameter sets in the ring when the hub has not run.
func TestH264Info(t *testing.T) {
	r := newRig(t, h264, rigOpts{noHubRun: true})
	info, err := r.hub.Info()
	if err != nil || info.SPS != nil || info.PPS != nil || info.Codec != live.H264 || info.Width != 64 || info.FPS != 10 {
		t.Errorf("Info with no frame: %+v, %v", info, err)
	}
	r.push(keyAU(1))
	r.push(deltaAU(2))
	info, err = r.hub.Info()
	if err != nil || !bytes.Equal(info.SPS, testSPS) || !bytes.Equal(info.PPS, testPPS) {
		t.Errorf("Info: %+v, %v; want the SPS and PPS", info, err)
	}
	if _, err := r.hub.Latest(); err != live.ErrNotJPEG {
		t.Errorf("Latest of H.264: %v, want ErrNotJPEG", err)
	}
}
