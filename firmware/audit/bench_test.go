package audit_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/audit"
)

// BenchmarkRecord measures Record (Sync false, default 1 MiB rotation)
// against the baseline of writing the same line with a plain os.File
// write to an O_APPEND file (cut back to empty at the same size), in the
// same run. Reported: record-ns/op, write-ns/op and x-write, their ratio.
func BenchmarkRecord(b *testing.B) {
	dir := b.TempDir()
	l, err := audit.Open(filepath.Join(dir, "audit.log"), audit.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := entry(1)
	line, _ := json.Marshal(l.Record(e))
	line = append(line, '\n')
	f, err := os.OpenFile(filepath.Join(dir, "plain.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var size int64
	for i := 0; i < b.N; i++ {
		if size+int64(len(line)) > audit.DefaultMaxBytes {
			if err := f.Truncate(0); err != nil {
				b.Fatal(err)
			}
			size = 0
		}
		if _, err := f.Write(line); err != nil {
			b.Fatal(err)
		}
		size += int64(len(line))
	}
	write := time.Since(start)
	start = time.Now()
	for i := 0; i < b.N; i++ {
		l.Record(e)
	}
	record := time.Since(start)
	b.StopTimer()
	if st := l.Stats(); st.WriteErrors != 0 {
		b.Fatalf("write errors: %+v", st)
	}
	b.ReportMetric(float64(record.Nanoseconds())/float64(b.N), "record-ns/op")
	b.ReportMetric(float64(write.Nanoseconds())/float64(b.N), "write-ns/op")
	b.ReportMetric(float64(record)/float64(write), "x-write")
}
