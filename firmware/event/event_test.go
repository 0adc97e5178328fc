package event

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEventJSON(t *testing.T) {
	at := time.Date(2026, 11, 26, 18, 30, 1, 234567890, time.FixedZone("CET", 3600))
	e := Event{ID: "cv1", Seq: 7, Device: "front", Type: Ring, At: at, Snapshot: "s1"}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"cv1","seq":7,"device":"front","event_type":"ring","snapshot":"s1","at":"2026-11-26T17:30:01.234Z"}`
	if string(b) != want {
		t.Errorf("json = %s\nwant   %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.At.Equal(at.Truncate(time.Millisecond)) || back.ID != e.ID || back.Seq != 7 || back.Type != Ring {
		t.Errorf("round trip = %+v", back)
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := NewID()
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

func TestSeqSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	var last uint64
	for run := 0; run < 3; run++ {
		s, err := OpenSeq(dir)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 150; i++ { // crosses a block boundary
			n, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			if n <= last {
				t.Fatalf("run %d: seq %d after %d", run, n, last)
			}
			last = n
		}
	}
}

func TestSeqBadFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "seq"), []byte("banana"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSeq(dir)
	if !errors.Is(err, ErrSeqCorrupt) || !strings.Contains(err.Error(), "banana") {
		t.Fatalf("err = %v, want ErrSeqCorrupt naming the bad content", err)
	}
	n, err := s.Next()
	if err != nil || n < uint64(time.Now().Add(-time.Minute).UnixMilli()) {
		t.Fatalf("after a corrupt file Next = %d, %v; want a number above any press count", n, err)
	}
	s2, err := OpenSeq(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n2, _ := s2.Next(); n2 <= n {
		t.Fatalf("after restart seq %d <= %d", n2, n)
	}
}
