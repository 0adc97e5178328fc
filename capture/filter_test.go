package capture_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

// upperFilter is a Filter that returns a transformed copy (like a JPEG
// masker) or fails on frames starting with "bad".
type upperFilter struct {
	mu      sync.Mutex
	formats []capture.Format
	buf     []byte
}

func (f *upperFilter) Filter(data []byte, fm capture.Format) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.formats = append(f.formats, fm)
	if bytes.HasPrefix(data, []byte("bad")) {
		return nil, errors.New("cannot mask frame")
	}
	f.buf = append(f.buf[:0], bytes.ToUpper(data)...)
	return f.buf, nil
}

func TestCameraFilter(t *testing.T) {
	flt := &upperFilter{}
	r := newRig(t, mjpg10, capture.Options{Filter: flt, FilterLogEvery: 10 * time.Second})
	r.run()
	r.waitStarted()

	r.src.Push([]byte("frame one"), start)
	fr, ok := r.cam.Ring().Latest()
	if !ok || string(fr.Data) != "FRAME ONE" {
		t.Fatalf("ring holds %q, want the filtered frame", fr.Data)
	}

	// Failures drop the frame; the log is rate-limited on the camera clock.
	for i := 0; i < 3; i++ {
		r.src.Push([]byte("bad frame"), start.Add(time.Duration(i+1)*100*time.Millisecond))
	}
	if fr, _ := r.cam.Ring().Latest(); string(fr.Data) != "FRAME ONE" {
		t.Fatalf("a refused frame reached the ring: %q", fr.Data)
	}
	st := r.cam.Status()
	if st.Frames != 4 || st.FilterDropped != 3 || st.Dropped != 0 {
		t.Errorf("status %+v, want 4 frames, 3 filter drops", st)
	}
	if n := r.logs.count("frame dropped by filter"); n != 1 {
		t.Errorf("logged %d filter failures, want 1 (rate-limited)", n)
	}
	r.clk.Advance(10 * time.Second)
	r.src.Push([]byte("bad again"), start.Add(11*time.Second))
	if n := r.logs.count("frame dropped by filter"); n != 2 {
		t.Errorf("logged %d filter failures after the quiet period, want 2", n)
	}
	if n := r.logs.count("unlogged=2"); n != 1 {
		t.Errorf("second log does not count the 2 unlogged failures")
	}

	// The filter sees every frame with the stream's format.
	flt.mu.Lock()
	defer flt.mu.Unlock()
	if len(flt.formats) != 5 {
		t.Fatalf("filter called %d times, want 5", len(flt.formats))
	}
	for _, f := range flt.formats {
		if f != mjpg10 {
			t.Errorf("filter got format %v, want %v", f, mjpg10)
		}
	}
}

func TestCameraNilFilterStoresAsIs(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{})
	r.run()
	r.waitStarted()
	r.src.Push([]byte("frame"), start)
	if fr, ok := r.cam.Ring().Latest(); !ok || string(fr.Data) != "frame" {
		t.Fatalf("ring holds %q", fr.Data)
	}
	if st := r.cam.Status(); st.FilterDropped != 0 {
		t.Errorf("FilterDropped %d", st.FilterDropped)
	}
}
