package audit_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/audit"
)

func seeds(f *testing.F) {
	l, _ := audit.Open("", audit.Options{Clock: clockwork.NewFakeClockAt(t0)})
	var good bytes.Buffer
	for i := 1; i <= 3; i++ {
		b, _ := json.Marshal(l.Record(entry(i)))
		good.Write(append(b, '\n'))
	}
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:good.Len()-7])
	f.Add([]byte("{}\n"))
	f.Add([]byte("\x00\x00\n\n"))
	f.Add([]byte(`{"seq":1,"prev":""}` + "\n" + `{"seq":2,"prev":"x"}`))
}

// FuzzVerify: Verify never panics, and when it accepts the input, the
// input is whole lines, each one a well-formed entry.
func FuzzVerify(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		last, n, err := audit.Verify(bytes.NewReader(data), "")
		if err != nil {
			return
		}
		if n != bytes.Count(data, []byte("\n")) || len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatalf("accepted %q as %d lines", data, n)
		}
		if n > 0 && len(last) != 64 || n == 0 && last != "" {
			t.Fatalf("last %q after %d lines", last, n)
		}
	})
}

// FuzzOpen: whatever the log file holds, Open recovers, the next entry is
// appended as a whole line after the last good one, and it chains to it.
func FuzzOpen(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "audit.log")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := audit.Open(path, audit.Options{Logger: slog.New(slog.DiscardHandler), Clock: clockwork.NewFakeClockAt(t0)})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		head := l.Stats().Head
		e := l.Record(entry(1))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if e.Prev != head {
			t.Fatalf("prev %q, head was %q", e.Prev, head)
		}
		b, _ := os.ReadFile(path)
		want, _ := json.Marshal(e)
		if !bytes.HasSuffix(b, append(want, '\n')) {
			t.Fatalf("file does not end with the new line:\n%q", b)
		}
		rest := b[:len(b)-len(want)-1]
		if len(rest) > len(data) || !bytes.Equal(rest, data[:len(rest)]) {
			t.Fatalf("recovery changed more than a torn end: kept %q of %q", rest, data)
		}
		if len(rest) > 0 && !strings.HasSuffix(string(rest), "\n") {
			t.Fatalf("kept a torn end: %q", rest)
		}
	})
}
