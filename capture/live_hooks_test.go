package capture_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

// closedWithin reports whether ch is closed within a generous deadline.
func closedWithin(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestCameraNext(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{})
	r.run()
	r.waitStarted()
	next := r.cam.Next()
	if isClosed(next) {
		t.Fatal("Next closed before any frame")
	}
	r.src.Push([]byte{1, 2, 3}, start)
	if !closedWithin(next) {
		t.Fatal("Next not closed after a frame was pushed")
	}
	if _, ok := r.cam.Ring().Latest(); !ok {
		t.Fatal("frame not in the ring when Next fired")
	}
	// A new waiter waits for a new frame.
	next = r.cam.Next()
	if isClosed(next) {
		t.Fatal("second Next closed without a new frame")
	}
	r.src.Push([]byte{4}, start)
	if !closedWithin(next) {
		t.Fatal("second Next not closed")
	}
}

func TestCameraChanged(t *testing.T) {
	r := newRig(t, mjpg10, capture.Options{MinBackoff: time.Second})
	ch := r.cam.Changed()
	r.run()
	r.waitStarted()
	if !closedWithin(ch) {
		t.Fatal("Changed not closed when the stream started")
	}
	if !r.cam.Status().Available {
		t.Fatal("not available after Changed")
	}
	ch = r.cam.Changed()
	r.src.Push([]byte{1}, start)
	if isClosed(ch) {
		t.Fatal("Changed closed by a frame")
	}
	r.src.Fail(errors.New("unplugged"))
	if !closedWithin(ch) {
		t.Fatal("Changed not closed when the stream stopped")
	}
	if r.cam.Status().Available {
		t.Fatal("available after the stream stopped")
	}
}

func TestRingAfterSeqFindLast(t *testing.T) {
	ring := capture.NewRingSize(100, 10)
	if got := ring.Seq(); got != 0 {
		t.Errorf("empty Seq = %d, want 0", got)
	}
	if got := ring.After(0); len(got) != 0 {
		t.Errorf("empty After = %d frames", len(got))
	}
	f := capture.Format{PixelFormat: capture.PixH264, Width: 2, Height: 2}
	for i := 1; i <= 5; i++ {
		ring.Push(bytes.Repeat([]byte{byte(i)}, 30), start.Add(time.Duration(i)*time.Second), f)
	}
	// 100 bytes hold three 30-byte frames: 3, 4, 5.
	if got := ring.Seq(); got != 5 {
		t.Errorf("Seq = %d, want 5", got)
	}
	for _, tc := range []struct {
		after uint64
		want  []uint64
	}{{0, []uint64{3, 4, 5}}, {3, []uint64{4, 5}}, {4, []uint64{5}}, {5, nil}, {99, nil}} {
		got := ring.After(tc.after)
		var seqs []uint64
		for _, fr := range got {
			seqs = append(seqs, fr.Seq)
			if fr.Data[0] != byte(fr.Seq) || fr.Format != f || !fr.At.Equal(start.Add(time.Duration(fr.Seq)*time.Second)) {
				t.Errorf("After(%d): frame %d has wrong content", tc.after, fr.Seq)
			}
		}
		if len(seqs) != len(tc.want) {
			t.Errorf("After(%d) = %v, want %v", tc.after, seqs, tc.want)
			continue
		}
		for i := range seqs {
			if seqs[i] != tc.want[i] {
				t.Errorf("After(%d) = %v, want %v", tc.after, seqs, tc.want)
			}
		}
	}
	// After returns copies.
	got := ring.After(4)
	got[0].Data[0] = 99
	if again := ring.After(4); again[0].Data[0] != 5 {
		t.Error("After returned the ring's own bytes")
	}

	var seen []byte
	seq, ok := ring.FindLast(func(data []byte, _ time.Time, _ capture.Format) bool {
		seen = append(seen, data[0])
		return data[0] == 4
	})
	if !ok || seq != 4 {
		t.Errorf("FindLast = %d, %v; want 4, true", seq, ok)
	}
	if !bytes.Equal(seen, []byte{5, 4}) {
		t.Errorf("FindLast visited %v, want newest first [5 4]", seen)
	}
	if _, ok := ring.FindLast(func([]byte, time.Time, capture.Format) bool { return false }); ok {
		t.Error("FindLast matched nothing but returned true")
	}
}
