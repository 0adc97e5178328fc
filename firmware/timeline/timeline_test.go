package timeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/event"
)

var t0 = time.Date(2026, 11, 26, 18, 30, 0, 0, time.UTC)

func ev(i int) event.Event {
	return event.Event{ID: fmt.Sprintf("e%03d", i), Seq: uint64(i), Device: "front", Type: event.Ring, At: t0.Add(time.Duration(i) * time.Second)}
}

// jpg returns a fake JPEG of n bytes (SOI marker, then filler).
func jpg(n int) []byte {
	b := make([]byte, n)
	b[0], b[1] = 0xFF, 0xD8
	return b
}

func ids(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, e.ID)
	}
	return strings.Join(s, ",")
}

func TestListNewestFirstAndBounded(t *testing.T) {
	tl := New(Options{MaxEvents: 3})
	for _, i := range []int{1, 3, 2, 4} { // 2 arrives late
		if err := tl.Add(ev(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(tl.List(0)); got != "e004,e003,e002" {
		t.Fatalf("List(0) = %s", got)
	}
	if got := ids(tl.List(2)); got != "e004,e003" {
		t.Fatalf("List(2) = %s", got)
	}
	// Older than everything held: it goes at once.
	if err := tl.Add(ev(0)); err != nil {
		t.Fatal(err)
	}
	if got := ids(tl.List(0)); got != "e004,e003,e002" {
		t.Fatalf("after adding an old event: %s", got)
	}
	if err := tl.Add(event.Event{Type: event.Ring}); !errors.Is(err, ErrNoID) {
		t.Fatalf("Add without id: %v, want ErrNoID", err)
	}
}

func TestSnapshotLifecycle(t *testing.T) {
	tl := New(Options{MaxEvents: 10, MaxSnapshotBytes: 1000})
	for i := 1; i <= 4; i++ {
		_ = tl.Add(ev(i))
	}
	if _, ok := tl.Snapshot("e001"); ok {
		t.Fatal("snapshot before SetSnapshot")
	}
	for i := 1; i <= 3; i++ {
		if err := tl.SetSnapshot(ev(i).ID, jpg(400), t0); err != nil {
			t.Fatal(err)
		}
	}
	// 3 × 400 > 1000: e001's went.
	if _, ok := tl.Snapshot("e001"); ok {
		t.Error("oldest snapshot kept past the byte budget")
	}
	if b, ok := tl.Snapshot("e003"); !ok || len(b) != 400 {
		t.Errorf("Snapshot(e003) = %d bytes, %v", len(b), ok)
	}
	st := tl.Stats()
	if st.Snapshots != 2 || st.SnapshotBytes != 800 || st.SnapshotsEvicted != 1 {
		t.Errorf("stats = %+v", st)
	}
	// An older event's snapshot does not push out newer ones.
	if err := tl.SetSnapshot("e001", jpg(400), t0); err != nil {
		t.Fatal(err)
	}
	if _, ok := tl.Snapshot("e001"); ok {
		t.Error("old snapshot evicted a newer one")
	}
	if _, ok := tl.Snapshot("e003"); !ok {
		t.Error("newer snapshot lost")
	}
	for _, tc := range []struct {
		id   string
		b    []byte
		want error
	}{
		{"e004", []byte("GIF89a"), ErrNotJPEG},
		{"e004", nil, ErrNotJPEG},
		{"e004", jpg(1001), ErrTooLarge},
		{"nope", jpg(10), ErrUnknownEvent},
	} {
		if err := tl.SetSnapshot(tc.id, tc.b, t0); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.id) {
			t.Errorf("SetSnapshot(%s, %d bytes) = %v, want %v naming the event", tc.id, len(tc.b), err, tc.want)
		}
	}
	// Eviction of the event frees its snapshot's bytes.
	small := New(Options{MaxEvents: 1})
	_ = small.Add(ev(1))
	_ = small.SetSnapshot("e001", jpg(100), t0)
	_ = small.Add(ev(2))
	if st := small.Stats(); st.SnapshotBytes != 0 || st.Events != 1 {
		t.Errorf("after eviction: %+v", st)
	}

	tl.ClearSnapshots()
	for _, e := range tl.List(0) {
		if e.HasSnapshot {
			t.Errorf("%s still has a snapshot after ClearSnapshots", e.ID)
		}
		if _, ok := tl.Snapshot(e.ID); ok {
			t.Errorf("Snapshot(%s) after ClearSnapshots", e.ID)
		}
	}
	if st := tl.Stats(); st.SnapshotBytes != 0 || st.Snapshots != 0 {
		t.Errorf("stats after clear = %+v", st)
	}
}

func TestSnapshotIsCopied(t *testing.T) {
	tl := New(Options{})
	_ = tl.Add(ev(1))
	b := jpg(10)
	_ = tl.SetSnapshot("e001", b, t0)
	b[5] = 99
	if got, _ := tl.Snapshot("e001"); got[5] != 0 {
		t.Fatal("timeline kept the caller's buffer")
	}
}

func TestSubscribe(t *testing.T) {
	tl := New(Options{SubscriberBuffer: 8})
	ch, cancel := tl.Subscribe()
	defer cancel()
	_ = tl.Add(ev(1))
	_ = tl.SetSnapshot("e001", jpg(10), t0.Add(time.Second))
	tl.SetClip([]string{"e001", "unknown"}, "clip-1")
	tl.ClearSnapshots()
	want := []struct {
		kind Kind
		snap bool
		clip string
	}{{Added, false, ""}, {Updated, true, ""}, {Updated, true, "clip-1"}, {Cleared, false, ""}}
	for i, w := range want {
		u := <-ch // buffered: already there
		if u.Kind != w.kind || u.Entry.HasSnapshot != w.snap || u.Entry.ClipID != w.clip {
			t.Errorf("update %d = %+v, want %+v", i, u, w)
		}
	}
	cancel()
	cancel() // twice is fine
	if _, open := <-ch; open {
		t.Fatal("channel open after cancel")
	}
}

func TestSlowSubscriberDroppedNeverBlocks(t *testing.T) {
	tl := New(Options{SubscriberBuffer: 2, MaxEvents: 1000})
	slow, cancelSlow := tl.Subscribe()
	defer cancelSlow()
	fast, cancelFast := tl.Subscribe()
	defer cancelFast()
	go func() {
		for range fast { // keeps up, or is dropped too: either way Add goes on
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			_ = tl.Add(ev(i)) // would hang here if a subscriber could block it
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Add blocked on a slow subscriber")
	}
	n := 0
	for range slow {
		n++
	}
	if n != 2 {
		t.Errorf("slow subscriber got %d updates before being dropped, want its buffer (2)", n)
	}
	if st := tl.Stats(); st.SubscribersDropped < 1 {
		t.Errorf("stats = %+v, want the drop counted", st)
	}
}

func TestEntryJSON(t *testing.T) {
	e := Entry{ID: "e1", Seq: 3, Device: "front", Type: event.Ring, At: t0.Add(1234 * time.Millisecond), HasSnapshot: true,
		SnapshotAt: t0.Add(1300 * time.Millisecond), ClipID: "c1"}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"e1","seq":3,"device":"front","event_type":"ring","has_snapshot":true,"clip_id":"c1","at":"2026-11-26T18:30:01.234Z","snapshot_at":"2026-11-26T18:30:01.300Z"}`
	if string(b) != want {
		t.Errorf("json = %s\nwant   %s", b, want)
	}
	b, _ = json.Marshal(Entry{ID: "e2", At: t0})
	if strings.Contains(string(b), "snapshot_at") || strings.Contains(string(b), "clip_id") {
		t.Errorf("empty fields not omitted: %s", b)
	}
}

func BenchmarkAdd(b *testing.B) {
	tl := New(Options{})
	for range 4 {
		ch, cancel := tl.Subscribe()
		defer cancel()
		go func() {
			for range ch {
			}
		}()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = tl.Add(ev(i))
	}
}
