package outbox

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/google/renameio/v2"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// benchDir is where benchmarks write: DOORBELL_BENCH_DIR (to measure the
// real storage, e.g. the SD card of a Pi) or a temporary directory.
func benchDir(b *testing.B) string {
	base := os.Getenv("DOORBELL_BENCH_DIR")
	if base == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(base, "outbox-bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// slowSync is the journal of a cheap SD card: every sync 50ms longer.
func slowSync(f *os.File) error {
	time.Sleep(50 * time.Millisecond)
	return datasync(f)
}

// acking is a broker connection that acknowledges every publish at once.
type acking struct{}

func (acking) Connected() bool { return true }
func (acking) Publish(string, byte, bool, []byte) paho.Token {
	t := newToken()
	t.complete(nil)
	return t
}

// BenchmarkPost is what a press costs the event loop: Sender.Post, live,
// acknowledged at once, with the journal writing beside it on the disk
// or on a simulated SD card (every sync 50ms slower). The two should
// cost the same.
func BenchmarkPost(b *testing.B) {
	for _, c := range []struct {
		name string
		sync func(*os.File) error
	}{{"disk", nil}, {"sdcard", slowSync}} {
		b.Run(c.name, func(b *testing.B) {
			ob, err := Open(benchDir(b), Options{Logger: quiet(), Sync: c.sync})
			if err != nil {
				b.Fatal(err)
			}
			defer ob.Close()
			s := NewSender(ob, SenderOptions{Topic: "doorbell/front/event", Publisher: acking{}, Logger: quiet()})
			e, p := ev(1, event.Ring)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n++
				e.ID = strconv.Itoa(n) // the outbox reads no payload
				if err := s.Post(e, p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			s.waiters.Wait()
		})
	}
}

// BenchmarkAddAck is the outbox's cost per event on the path before Post:
// Add (write + fdatasync, waited for) and, once the broker acknowledged
// it, Ack (written by the journal), with compaction as it comes.
func BenchmarkAddAck(b *testing.B) { benchAddAck(b, 0) }

// BenchmarkAddAckBacklog is the same with 1000 events waiting (an outage).
func BenchmarkAddAckBacklog(b *testing.B) { benchAddAck(b, 1000) }

// benchAddAck adds and acks one ring per iteration, with backlog motion
// events left waiting in the outbox.
func benchAddAck(b *testing.B, backlog int) {
	o, err := Open(benchDir(b), Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	for i := range backlog {
		e, p := ev(i, event.MotionStart)
		if _, err := o.Add(e, p); err != nil {
			b.Fatal(err)
		}
	}
	e, p := ev(backlog+5000, event.Ring)
	b.SetBytes(addSize(e.ID, e.Type, p))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Add(e, p); err != nil {
			b.Fatal(err)
		}
		if err := o.Ack(e.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// baselineFile returns an append-only file and the bytes of one add
// record plus one ack record, what BenchmarkAddAck writes per event.
func baselineFile(b *testing.B) (*os.File, []byte) {
	f, err := os.OpenFile(filepath.Join(benchDir(b), "raw"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	e, p := ev(1, event.Ring)
	rec := appendAdd(nil, e.ID, e.Type, e.At.UnixNano(), e.Seq, p)
	b.SetBytes(int64(len(rec)))
	return f, appendDel(rec, opAck, e.ID)
}

// BenchmarkBaselineWriteSync is the floor: the same bytes appended with
// os.File.Write and Sync (fsync), nothing else.
func BenchmarkBaselineWriteSync(b *testing.B) {
	f, rec := baselineFile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineWriteDatasync is the same floor with fdatasync, which
// the outbox uses on Linux.
func BenchmarkBaselineWriteDatasync(b *testing.B) {
	f, rec := baselineFile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := datasync(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilePerEntry is the design not taken: one file per event,
// written with renameio (temp file, fsync, rename) and removed on ack.
func BenchmarkFilePerEntry(b *testing.B) {
	dir := benchDir(b)
	e, p := ev(1, event.Ring)
	path := filepath.Join(dir, e.ID)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if err := renameio.WriteFile(path, p, 0o640); err != nil {
			b.Fatal(err)
		}
		if err := os.Remove(path); err != nil {
			b.Fatal(err)
		}
	}
}
