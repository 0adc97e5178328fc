package audit_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/audit"
)

var t0 = time.Date(2026, 12, 6, 19, 38, 14, 0, time.UTC)

// logBuf is a concurrency-safe buffer for a slog text handler.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *logBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *logBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func open(t *testing.T, path string, opts audit.Options) *audit.Log {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = clockwork.NewFakeClockAt(t0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := audit.Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func entry(i int) audit.Entry {
	return audit.Entry{Action: audit.ActionClipFetch, Actor: "web:alice", From: "192.0.2.7:51234",
		Object: fmt.Sprintf("clip-%04d", i), Outcome: audit.OK}
}

// lines returns the lines of a file, each checked to end in a newline.
func lines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", name)
	}
	return strings.Split(string(b[:len(b)-1]), "\n")
}

func verifyFile(t *testing.T, name, prev string) (string, int, error) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return audit.Verify(f, prev)
}

func TestRecordStampsAndChains(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	clock := clockwork.NewFakeClockAt(t0)
	l := open(t, path, audit.Options{Clock: clock})
	var got []audit.Entry
	for i := 1; i <= 3; i++ {
		got = append(got, l.Record(entry(i)))
		clock.Advance(time.Second)
	}
	given := t0.Add(-time.Hour)
	e := entry(4)
	e.At, e.Outcome = given, ""
	got = append(got, l.Record(e))

	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Errorf("entry %d: seq %d", i, e.Seq)
		}
		if i < 3 && !e.At.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Errorf("entry %d: at %v, want the clock's %v", i, e.At, t0.Add(time.Duration(i)*time.Second))
		}
	}
	if !got[3].At.Equal(given) || got[3].Outcome != audit.OK {
		t.Errorf("given at/empty outcome: %+v, want at %v and outcome ok", got[3], given)
	}
	ls := lines(t, path)
	if len(ls) != 4 {
		t.Fatalf("%d lines, want 4", len(ls))
	}
	prev := ""
	for i, line := range ls {
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if e.Prev != prev {
			t.Errorf("line %d: prev %q, want %q", i+1, e.Prev, prev)
		}
		b, _ := json.Marshal(got[i])
		if string(b) != line {
			t.Errorf("line %d:\n%s\njson.Marshal of the returned entry:\n%s", i+1, line, b)
		}
		if got[i].Hash() == prev {
			t.Errorf("line %d: hash did not change", i+1)
		}
		prev = got[i].Hash()
	}
	st := l.Stats()
	if st.Seq != 4 || st.Head != prev || st.Entries["clip.fetch/ok"] != 4 {
		t.Errorf("stats %+v, want seq 4, head %s, 4 clip.fetch/ok", st, prev)
	}
	if last, n, err := verifyFile(t, path, ""); err != nil || n != 4 || last != st.Head {
		t.Errorf("Verify = %s, %d, %v; want head %s, 4 lines", last, n, err, st.Head)
	}
}

func TestContinueAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "audit") // created by Open
	path := filepath.Join(dir, "audit.log")
	l := open(t, path, audit.Options{Recent: 4})
	var before []audit.Entry
	for i := 1; i <= 5; i++ {
		before = append(before, l.Record(entry(i)))
	}
	head := l.Stats().Head
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", name, fi.Mode(), err, want)
		}
	}

	l = open(t, path, audit.Options{Recent: 4})
	if st := l.Stats(); st.Seq != 5 || st.Head != head {
		t.Errorf("after reopen: seq %d head %s, want 5 and %s", st.Seq, st.Head, head)
	}
	rec := l.Recent(10)
	if len(rec) != 4 {
		t.Fatalf("Recent after reopen: %d entries, want 4", len(rec))
	}
	for i, e := range rec {
		w := before[4-i]
		if e.Seq != w.Seq || !e.At.Equal(w.At) || e.Object != w.Object || e.Prev != w.Prev {
			t.Errorf("Recent[%d] = %+v, want %+v", i, e, w)
		}
	}
	e := l.Record(entry(6))
	if e.Seq != 6 || e.Prev != head {
		t.Errorf("first entry after reopen: seq %d prev %s, want 6 and %s", e.Seq, e.Prev, head)
	}
	if _, n, err := verifyFile(t, path, ""); err != nil || n != 6 {
		t.Errorf("Verify after reopen: %d lines, %v", n, err)
	}
}

func TestTornLastLine(t *testing.T) {
	for name, tail := range map[string]string{
		"no newline":         `{"seq":4,"at":"2026-12-06T19:3`,
		"zeros":              "\x00\x00\x00\x00\x00\x00\x00\x00",
		"bad json with nl":   "{\"seq\":4,\"at\x00\x00\n",
		"not an entry":       "{}\n",
		"two lines of junk":  "garbage\n\x00\x00",
		"only a newline":     "\n",
		"valid but no nl":    `{"seq":4,"at":"2026-12-06T19:38:14Z","action":"live","actor":"x","outcome":"ok","prev":""}`,
		"huge line no nl":    strings.Repeat("x", 100<<10),
		"huge line with nl":  strings.Repeat("x", 100<<10) + "\n",
		"junk after seq gap": "{\"seq\":0}\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l := open(t, path, audit.Options{})
			for i := 1; i <= 3; i++ {
				l.Record(entry(i))
			}
			head := l.Stats().Head
			l.Close()
			good, _ := os.ReadFile(path)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tail)
			f.Close()

			var logs logBuf
			l = open(t, path, audit.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if !strings.Contains(logs.String(), "torn") || !strings.Contains(logs.String(), fmt.Sprintf("bytes=%d", len(tail))) {
				t.Errorf("no warning about the torn line of %d bytes; logged:\n%s", len(tail), logs.String())
			}
			if now, _ := os.ReadFile(path); !bytes.Equal(now, good) {
				t.Errorf("file not cut back to its last good line: %d bytes, want %d", len(now), len(good))
			}
			if e := l.Record(entry(4)); e.Seq != 4 || e.Prev != head {
				t.Errorf("after recovery: seq %d prev %s, want 4 and %s", e.Seq, e.Prev, head)
			}
			if _, n, err := verifyFile(t, path, ""); err != nil || n != 4 {
				t.Errorf("Verify after recovery: %d lines, %v", n, err)
			}
		})
	}
}

func TestTornFileOnlyJunk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(`{"seq":1,"at":"20`), 0o644); err != nil {
		t.Fatal(err)
	}
	l := open(t, path, audit.Options{})
	if e := l.Record(entry(1)); e.Seq != 1 || e.Prev != "" {
		t.Errorf("first entry after a torn first line: seq %d prev %q", e.Seq, e.Prev)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, n, err := verifyFile(t, path, ""); err != nil || n != 1 {
		t.Errorf("Verify: %d, %v", n, err)
	}
}

func TestRotationBound(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	const maxBytes, keep, total = 8 << 10, 3, 5000
	opts := audit.Options{MaxBytes: maxBytes, Keep: keep, Recent: 50}
	l := open(t, path, opts)
	for i := 1; i <= total; i++ {
		l.Record(entry(i))
		if i == total/2 { // a restart half way: the chain goes on
			l.Close()
			l = open(t, path, opts)
		}
	}
	st := l.Stats()
	if st.Rotations == 0 || st.Seq != total || st.WriteErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	ents, _ := os.ReadDir(dir)
	var size int64
	names := map[string]bool{}
	for _, de := range ents {
		fi, _ := de.Info()
		if fi.Size() > maxBytes {
			t.Errorf("%s: %d bytes, more than MaxBytes %d", de.Name(), fi.Size(), maxBytes)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", de.Name(), fi.Mode().Perm())
		}
		size += fi.Size()
		names[de.Name()] = true
	}
	want := map[string]bool{"audit.log": true, "audit.log.1": true, "audit.log.2": true, "audit.log.3": true}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("files %v, want %v", names, want)
	}
	if size > (keep+1)*maxBytes {
		t.Errorf("%d bytes in all, more than (Keep+1)*MaxBytes = %d", size, (keep+1)*maxBytes)
	}

	// The concatenated files, oldest first, verify; the oldest line kept
	// names the hash of a line rotated away, which is the start.
	var all bytes.Buffer
	for _, n := range []string{"audit.log.3", "audit.log.2", "audit.log.1", "audit.log"} {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		all.Write(b)
	}
	var first audit.Entry
	firstLine, _, _ := bufio.NewReader(bytes.NewReader(all.Bytes())).ReadLine()
	if err := json.Unmarshal(firstLine, &first); err != nil || first.Prev == "" || first.Seq == 1 {
		t.Fatalf("oldest kept line %s: %v", firstLine, err)
	}
	last, n, err := audit.Verify(bytes.NewReader(all.Bytes()), first.Prev)
	if err != nil || last != st.Head || n != total-int(first.Seq)+1 {
		t.Errorf("Verify(concatenated) = %s, %d, %v; want %s, %d lines", last, n, err, st.Head, total-int(first.Seq)+1)
	}
	if last, n2, err := audit.VerifyFiles(path); err != nil || last != st.Head || n2 != n {
		t.Errorf("VerifyFiles = %s, %d, %v; want %s, %d", last, n2, err, st.Head, n)
	}
	if rec := l.Recent(100); len(rec) != 50 || rec[0].Seq != total || rec[49].Seq != total-49 {
		t.Errorf("Recent: %d entries, first seq %d", len(rec), rec[0].Seq)
	}
}

func TestRecentRefilledAcrossFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	opts := audit.Options{MaxBytes: 2048, Keep: 2, Recent: 12}
	l := open(t, path, opts)
	for i := 1; i <= 30; i++ {
		l.Record(entry(i))
	}
	l.Close()
	if n := len(lines(t, path)); n >= 12 {
		t.Fatalf("test needs the newest file to hold fewer than 12 lines, has %d", n)
	}
	l = open(t, path, opts)
	rec := l.Recent(100)
	if len(rec) != 12 {
		t.Fatalf("Recent: %d entries, want 12", len(rec))
	}
	for i, e := range rec {
		if e.Seq != uint64(30-i) {
			t.Errorf("Recent[%d].Seq = %d, want %d", i, e.Seq, 30-i)
		}
	}
}

func TestVerifyDetects(t *testing.T) {
	l := open(t, "", audit.Options{})
	var good []string
	for i := 1; i <= 6; i++ {
		b, _ := json.Marshal(l.Record(entry(i)))
		good = append(good, string(b))
	}
	head := l.Stats().Head
	join := func(ls []string) io.Reader { return strings.NewReader(strings.Join(ls, "\n") + "\n") }
	if last, n, err := audit.Verify(join(good), ""); err != nil || n != 6 || last != head {
		t.Fatalf("Verify(good) = %s, %d, %v", last, n, err)
	}

	edit := func(f func([]string) []string) []string {
		return f(append([]string(nil), good...))
	}
	for _, tc := range []struct {
		name  string
		lines []string
		start string
		want  string // in the error
		n     int
	}{
		{"actor edited", edit(func(ls []string) []string {
			ls[2] = strings.Replace(ls[2], "web:alice", "web:mallory", 1)
			return ls
		}), "", "line 4 (seq 4): prev", 3},
		{"line removed", edit(func(ls []string) []string { return append(ls[:2], ls[3:]...) }), "", "line 3 (seq 4)", 2},
		{"lines swapped", edit(func(ls []string) []string { ls[1], ls[2] = ls[2], ls[1]; return ls }), "", "line 2 (seq 3)", 1},
		{"first line removed", good[1:], "", "line 1: prev", 0},
		{"wrong start", good, head, "line 1: prev", 0},
		{"not json", edit(func(ls []string) []string { ls[4] = "hello"; return ls }), "", "line 5: not an audit entry", 4},
		{"blank line", edit(func(ls []string) []string { ls[4] = ""; return ls }), "", "line 5: not an audit entry", 4},
		{"seq rewound", edit(func(ls []string) []string {
			// a line whose chain is right but whose seq goes back
			var e audit.Entry
			json.Unmarshal([]byte(ls[1]), &e)
			e.Seq = 1
			b, _ := json.Marshal(e)
			return []string{ls[0], string(b)}
		}), "", "line 2: seq 1 does not follow seq 1", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := audit.Verify(join(tc.lines), tc.start)
			if err == nil || !errors.Is(err, audit.ErrChain) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want an ErrChain naming %q", err, tc.want)
			}
			if n != tc.n {
				t.Errorf("n = %d, want %d lines good before the break", n, tc.n)
			}
		})
	}
	torn := strings.Join(good, "\n") // no final newline
	if _, _, err := audit.Verify(strings.NewReader(torn), ""); err == nil || !strings.Contains(err.Error(), "line 6: torn") {
		t.Errorf("Verify(torn) = %v", err)
	}
	// The last line edited: the chain holds, the head differs.
	ls := append([]string(nil), good...)
	ls[5] = strings.Replace(ls[5], "clip-0006", "clip-9999", 1)
	if last, _, err := audit.Verify(join(ls), ""); err != nil || last == head {
		t.Errorf("last line edited: Verify = %s, %v; want no error and a head other than %s", last, err, head)
	}
}

func TestVerifyFilesNamesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := open(t, path, audit.Options{MaxBytes: 1024, Keep: 5})
	for i := 1; i <= 20; i++ {
		l.Record(entry(i))
	}
	l.Close()
	if _, n, err := audit.VerifyFiles(path); err != nil || n != 20 {
		t.Fatalf("VerifyFiles = %d, %v", n, err)
	}
	name := path + ".1"
	b, _ := os.ReadFile(name)
	os.WriteFile(name, bytes.Replace(b, []byte("clip-00"), []byte("clip-99"), 1), 0o600)
	if _, _, err := audit.VerifyFiles(path); err == nil || !strings.Contains(err.Error(), name+": audit: verify: line 2") {
		t.Errorf("VerifyFiles after an edit in %s = %v", name, err)
	}
}

func TestSanitise(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := open(t, path, audit.Options{})
	long := strings.Repeat("é", 200) // 400 bytes, 2 per rune
	in := []audit.Entry{
		{Action: "login", Actor: "web:alice\n{\"seq\":1}", From: "\x1b[31m192.0.2.1\x1b[0m:1", Outcome: audit.Refused, Reason: "bad password\r\n"},
		{Action: "live", Actor: "rtsp:\x7fbob\u009b31m", Object: "\u2028x\u2029", Duration: math.NaN()},
		{Action: "live", Actor: "web:\xff\xfe", Object: long, Reason: strings.Repeat("a", 300), Duration: math.Inf(1)},
		{Action: "live", Actor: "x", Duration: -3},
		{Action: "live", Actor: "x", Duration: 12.5, At: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	var out []audit.Entry
	for _, e := range in {
		out = append(out, l.Record(e))
	}
	raw, _ := os.ReadFile(path)
	for i, c := range raw {
		if c < 0x20 && c != '\n' || c == 0x7f || c == 0xc2 && i+1 < len(raw) && raw[i+1] >= 0x80 && raw[i+1] <= 0x9f {
			t.Errorf("raw control byte %#x at offset %d of the log", c, i)
		}
	}
	if !utf8.Valid(raw) {
		t.Error("log is not valid UTF-8")
	}
	ls := lines(t, path)
	if len(ls) != len(in) {
		t.Fatalf("%d lines for %d entries:\n%s", len(ls), len(in), raw)
	}
	for i, line := range ls {
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if e.Actor != out[i].Actor || e.From != out[i].From || e.Object != out[i].Object || e.Reason != out[i].Reason || !e.At.Equal(out[i].At) {
			t.Errorf("line %d reads back as %+v, Record returned %+v", i+1, e, out[i])
		}
	}
	if out[0].Actor != "web:alice\n{\"seq\":1}" || out[0].From != "\x1b[31m192.0.2.1\x1b[0m:1" {
		t.Errorf("control characters are escaped in the file, not removed from the entry: %q %q", out[0].Actor, out[0].From)
	}
	if !strings.Contains(ls[0], `web:alice\n{\"seq\":1}`) || !strings.Contains(ls[0], `\u001b[31m`) {
		t.Errorf("line 1 does not carry the escapes: %s", ls[0])
	}
	if !strings.Contains(ls[1], `\u007fbob\u009b31m`) || !strings.Contains(ls[1], `\u2028x\u2029`) {
		t.Errorf("line 2 does not escape DEL, C1 and line separators: %s", ls[1])
	}
	if out[2].Actor != "web:\uFFFD" {
		t.Errorf("invalid UTF-8 kept: %q", out[2].Actor)
	}
	if len(out[2].Object) != 256 || !utf8.ValidString(out[2].Object) || len(out[2].Reason) != audit.MaxField {
		t.Errorf("fields not cut to %d bytes on a rune boundary: %d, %d bytes", audit.MaxField, len(out[2].Object), len(out[2].Reason))
	}
	for i, w := range []float64{0, 0, 0, 12.5} {
		if d := out[i+1].Duration; d != w {
			t.Errorf("entry %d: duration %v, want %v", i+2, d, w)
		}
	}
	if !out[4].At.Equal(t0) {
		t.Errorf("at out of JSON's range not replaced by the clock: %v", out[4].At)
	}
	if _, n, err := verifyFile(t, path, ""); err != nil || n != len(in) {
		t.Errorf("Verify: %d, %v", n, err)
	}
}

func TestSubscriberOverflow(t *testing.T) {
	l := open(t, "", audit.Options{})
	slow, cancelSlow := l.Subscribe(1)
	fast, cancelFast := l.Subscribe(200)
	defer cancelFast()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 100; i++ {
			l.Record(entry(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Record blocked on a full subscriber")
	}
	if st := l.Stats(); st.Dropped != 99 {
		t.Errorf("Dropped = %d, want 99", st.Dropped)
	}
	if e := <-slow; e.Seq != 1 {
		t.Errorf("slow subscriber got seq %d, want 1", e.Seq)
	}
	cancelSlow()
	cancelSlow() // twice is harmless
	if _, ok := <-slow; ok {
		t.Error("channel not closed by cancel")
	}
	prev := ""
	for i := 1; i <= 100; i++ {
		e := <-fast
		if e.Seq != uint64(i) || e.Prev != prev {
			t.Fatalf("fast subscriber: entry %d is seq %d prev %s", i, e.Seq, e.Prev)
		}
		prev = e.Hash()
	}
	l.Close()
	if _, ok := <-fast; ok {
		t.Error("channel not closed by Close")
	}
	late, cancel := l.Subscribe(1)
	cancel()
	if _, ok := <-late; ok {
		t.Error("Subscribe after Close: channel open")
	}
}

func TestConcurrentRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := open(t, path, audit.Options{MaxBytes: 64 << 10, Keep: 10, Sync: true})
	sub, cancel := l.Subscribe(2000)
	defer cancel()
	const workers, each = 8, 100
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				e := entry(i)
				e.Actor = fmt.Sprintf("web:user%d", w)
				l.Record(e)
				l.Recent(5)
				l.Stats()
			}
		}()
	}
	wg.Wait()
	st := l.Stats()
	if st.Seq != workers*each || st.Dropped != 0 || st.Entries["clip.fetch/ok"] != workers*each {
		t.Fatalf("stats %+v", st)
	}
	if last, n, err := audit.VerifyFiles(path); err != nil || n != workers*each || last != st.Head {
		t.Errorf("VerifyFiles = %s, %d, %v; want %s, %d", last, n, err, st.Head, workers*each)
	}
	prev := ""
	for i := 1; i <= workers*each; i++ {
		e := <-sub
		if e.Seq != uint64(i) || e.Prev != prev {
			t.Fatalf("subscriber: entry %d is seq %d prev %.8s, want prev %.8s", i, e.Seq, e.Prev, prev)
		}
		prev = e.Hash()
	}
}

func TestMemoryOnly(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	l := open(t, "", audit.Options{Recent: 3})
	for i := 1; i <= 5; i++ {
		l.Record(entry(i))
	}
	rec := l.Recent(10)
	if len(rec) != 3 || rec[0].Seq != 5 || rec[2].Seq != 3 || rec[0].Prev != rec[1].Hash() {
		t.Errorf("Recent = %+v", rec)
	}
	if r := l.Recent(0); len(r) != 0 {
		t.Errorf("Recent(0) = %v", r)
	}
	if st := l.Stats(); st.Seq != 5 || st.Head != rec[0].Hash() || st.WriteErrors != 0 || st.Rotations != 0 {
		t.Errorf("stats %+v", st)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("memory-only log wrote files: %v", ents)
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
}

func TestRecordAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := open(t, path, audit.Options{})
	l.Record(entry(1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	e := l.Record(entry(2))
	if st := l.Stats(); st.WriteErrors != 1 || e.Seq != 2 || len(l.Recent(5)) != 2 {
		t.Errorf("after Close: %+v, entry %+v", st, e)
	}
	if n := len(lines(t, path)); n != 1 {
		t.Errorf("%d lines, want 1", n)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		opts audit.Options
		want string
	}{
		{filepath.Join(dir, "a.log"), audit.Options{MaxBytes: -1}, "MaxBytes -1"},
		{filepath.Join(dir, "a.log"), audit.Options{Keep: -2}, "Keep -2"},
		{filepath.Join(dir, "a.log"), audit.Options{Recent: -3}, "Recent -3"},
		{dir, audit.Options{}, "audit: open " + dir},
	} {
		_, err := audit.Open(tc.path, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s, %+v) = %v, want an error naming %q", tc.path, tc.opts, err, tc.want)
		}
	}
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o600)
	if _, err := audit.Open(filepath.Join(blocker, "audit.log"), audit.Options{}); err == nil || !strings.Contains(err.Error(), "create directory") {
		t.Errorf("Open under a file = %v", err)
	}
}

func TestStatsKeysBounded(t *testing.T) {
	l := open(t, "", audit.Options{})
	for i := 0; i < 100; i++ {
		l.Record(audit.Entry{Action: fmt.Sprint("a", i), Actor: "x", Outcome: audit.Refused})
	}
	st := l.Stats()
	if len(st.Entries) != 65 || st.Entries["a0/refused"] != 1 || st.Entries["other/other"] != 36 {
		t.Errorf("%d keys, other/other %d", len(st.Entries), st.Entries["other/other"])
	}
}

func TestOpenRefusesNonRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Skip(err)
	}
	_, err := audit.Open(path, audit.Options{})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), path) {
		t.Errorf("Open(symlink to /dev/zero) = %v, want an error naming the path", err)
	}
}

func TestAtKeptInUTC(t *testing.T) {
	l := open(t, "", audit.Options{})
	at := time.Date(2026, 12, 6, 20, 38, 14, 0, time.FixedZone("odd", 3600+17))
	e := l.Record(audit.Entry{Action: "live", Actor: "x", At: at})
	if !e.At.Equal(at) || e.At.Location() != time.UTC {
		t.Errorf("At = %v, want %v in UTC", e.At, at)
	}
}
