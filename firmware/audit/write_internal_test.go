package audit

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// fullFile is an appendFile on a real file that, while full is set,
// writes only half of what it is given and fails with ENOSPC, as a
// filling disk does.
type fullFile struct {
	*os.File
	full bool
}

func (f *fullFile) Write(p []byte) (int, error) {
	if !f.full {
		return f.File.Write(p)
	}
	n, _ := f.File.Write(p[:len(p)/2])
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestWriteErrorCountedNotBlocking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	clock := clockwork.NewFakeClockAt(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	var logs syncBuf
	l, err := Open(path, Options{Clock: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sub, cancel := l.Subscribe(100)
	defer cancel()
	rec := func(who string) Entry {
		return l.Record(Entry{Action: ActionSnapshot, Actor: who, From: "198.51.100.1:4242"})
	}
	rec("web:alice")
	ff := &fullFile{File: l.f.(*os.File), full: true}
	l.f = ff
	for i := 0; i < 10; i++ {
		rec("web:bob")
	}
	if st := l.Stats(); st.WriteErrors != 10 || st.Seq != 11 {
		t.Fatalf("stats %+v, want 10 write errors", st)
	}
	if n := strings.Count(logs.String(), "entry not written"); n != 1 {
		t.Errorf("%d warnings for 10 failures within a minute, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "no space left") {
		t.Errorf("warning does not name the error:\n%s", logs.String())
	}
	if r := l.Recent(20); len(r) != 11 || r[0].Actor != "web:bob" {
		t.Errorf("Recent holds %d entries, want 11", len(r))
	}
	for i := 1; i <= 11; i++ {
		if e := <-sub; e.Seq != uint64(i) {
			t.Fatalf("subscriber got seq %d, want %d", e.Seq, i)
		}
	}
	clock.Advance(time.Minute)
	rec("web:bob")
	if !strings.Contains(logs.String(), "suppressed=9") {
		t.Errorf("second warning does not count the 9 held back:\n%s", logs.String())
	}

	ff.full = false
	e := rec("web:carol")
	if e.Seq != 13 {
		t.Errorf("seq %d after the disk recovered, want 13", e.Seq)
	}
	f, _ := os.Open(path)
	defer f.Close()
	last, n, err := Verify(f, "")
	if err != nil || n != 2 || last != l.Stats().Head {
		t.Errorf("Verify after failed writes = %s, %d, %v; want the 2 written lines, the partial ones cut back", last, n, err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(`"seq":1,`)) || !bytes.Contains(b, []byte(`"seq":13,`)) {
		t.Errorf("file:\n%s", b)
	}
}

type failTruncate struct {
	fullFile
	fail bool
}

func (f *failTruncate) Truncate(size int64) error {
	if f.fail {
		return errors.New("EIO")
	}
	return f.File.Truncate(size)
}

func TestPartialLineCutBackLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Record(Entry{Action: ActionLive, Actor: "a"})
	ft := &failTruncate{fullFile: fullFile{File: l.f.(*os.File), full: true}, fail: true}
	l.f = ft
	l.Record(Entry{Action: ActionLive, Actor: "b"}) // half a line stays
	ft.full, ft.fail = false, false
	l.Record(Entry{Action: ActionLive, Actor: "c"}) // cuts it back first
	f, _ := os.Open(path)
	defer f.Close()
	if _, n, err := Verify(f, ""); err != nil || n != 2 {
		t.Errorf("Verify = %d, %v; want 2 lines", n, err)
	}
}
