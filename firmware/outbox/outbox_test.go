package outbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/event"
)

var t0 = time.Date(2026, 11, 26, 19, 38, 19, 123e6, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ev returns event i of type typ and its payload, as the daemon makes them.
func ev(i int, typ event.Type) (event.Event, []byte) {
	e := event.Event{ID: fmt.Sprintf("ev%04d", i), Seq: uint64(100 + i), Device: "front", Type: typ,
		At: t0.Add(time.Duration(i) * time.Second)}
	if typ != event.MotionEnd {
		e.Snapshot = fmt.Sprintf("sn%04d", i)
	}
	p, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return e, p
}

func open(t testing.TB, dir string, opts Options) *Outbox {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	o, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func add(t testing.TB, o *Outbox, i int, typ event.Type) Entry {
	t.Helper()
	e, p := ev(i, typ)
	ent, err := o.Add(e, p)
	if err != nil {
		t.Fatalf("Add %d: %v", i, err)
	}
	return ent
}

// idle waits until the journal goroutine has written everything queued
// (acks are written after Ack returns).
func idle(o *Outbox) {
	for {
		o.mu.Lock()
		j := o.journal
		o.mu.Unlock()
		if j == nil {
			return
		}
		<-j
	}
}

func ids(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

var types = []event.Type{event.Ring, event.MotionStart, event.LongPress, event.MotionEnd}

func TestPendingInOrderAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, Options{})
	var want []Entry
	for i := 0; i < 50; i++ {
		ent := add(t, o, i, types[i%len(types)])
		if i%3 == 1 {
			if err := o.Ack(ent.ID); err != nil {
				t.Fatal(err)
			}
		} else {
			want = append(want, ent)
		}
	}
	if got := o.Pending(); !slices.EqualFunc(got, want, sameEntry) {
		t.Fatalf("pending = %v, want %v", ids(got), ids(want))
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o2 := open(t, dir, Options{})
	got := o2.Pending()
	if !slices.EqualFunc(got, want, sameEntry) {
		t.Fatalf("after reopen pending = %v, want %v", ids(got), ids(want))
	}
	e, p := ev(3, event.MotionEnd) // pending: 0, 2, 3, ... (every third acked)
	if got[2].ID != e.ID || got[2].Seq != e.Seq || got[2].Type != e.Type || !got[2].At.Equal(e.At) || !bytes.Equal(got[2].Payload, p) {
		t.Errorf("entry after reopen = %+v, want %+v", got[2], e)
	}
	if o2.Len() != len(want) || !o2.Has("ev0000") || o2.Has("ev0001") {
		t.Errorf("Len %d Has(ev0000) %v Has(ev0001) %v", o2.Len(), o2.Has("ev0000"), o2.Has("ev0001"))
	}
}

func sameEntry(a, b Entry) bool {
	return a.ID == b.ID && a.Seq == b.Seq && a.Type == b.Type && a.At.Equal(b.At) && bytes.Equal(a.Payload, b.Payload)
}

func TestAckIdempotentAndDuplicateAdd(t *testing.T) {
	o := open(t, t.TempDir(), Options{})
	ent := add(t, o, 1, event.Ring)
	e, p := ev(1, event.Ring)
	again, err := o.Add(e, p)
	if err != nil || again.ID != ent.ID || o.Len() != 1 {
		t.Fatalf("second Add of the same id: %v, %d pending", err, o.Len())
	}
	for i := 0; i < 2; i++ {
		if err := o.Ack(ent.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Ack("never-added"); err != nil {
		t.Fatal(err)
	}
	if o.Len() != 0 {
		t.Fatal("still pending")
	}
}

func TestLatePayload(t *testing.T) {
	o := open(t, t.TempDir(), Options{})
	ent := add(t, o, 3, event.LongPress)
	late, err := ent.LatePayload()
	if err != nil {
		t.Fatal(err)
	}
	var got, orig map[string]any
	json.Unmarshal(late, &got)
	json.Unmarshal(ent.Payload, &orig)
	if got["late"] != true {
		t.Errorf("late payload %s lacks late:true", late)
	}
	delete(got, "late")
	if fmt.Sprint(got) != fmt.Sprint(orig) {
		t.Errorf("late payload %s\nchanged fields of %s", late, ent.Payload)
	}
	if orig["at"] != "2026-11-26T19:38:22.123Z" {
		t.Errorf("at = %v", orig["at"])
	}
	if _, err := (Entry{ID: "x", Payload: []byte("nope")}).LatePayload(); err == nil {
		t.Error("LatePayload of a non-event succeeded")
	}
}

func TestBadAdds(t *testing.T) {
	o := open(t, t.TempDir(), Options{MaxBytes: 300})
	e, p := ev(1, event.Ring)
	big := append(bytes.Repeat([]byte(" "), 400), p...)
	if _, err := o.Add(e, big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big event: %v", err)
	}
	if _, err := o.Add(event.Event{Type: event.Ring}, p); err == nil {
		t.Error("event without id accepted")
	}
	if _, err := o.Add(e, nil); err == nil {
		t.Error("empty payload accepted")
	}
	o.Close()
	if _, err := o.Add(e, p); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if err := o.Ack("x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack after Close: %v", err)
	}
}

func TestEvictionByPriority(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, Options{MaxEntries: 6})
	// Oldest first: a mix of every type.
	for i, typ := range []event.Type{event.MotionEnd, event.MotionStart, event.Ring, event.LongPress, event.MotionEnd, event.MotionStart} {
		add(t, o, i, typ)
	}
	steps := []struct {
		typ     event.Type
		evicted string // "" when the new event is refused
	}{
		{event.Ring, "ev0000"},        // oldest motion_end
		{event.MotionStart, "ev0004"}, // the other motion_end
		{event.Ring, "ev0001"},        // oldest motion_start
		{event.LongPress, "ev0005"},   // next motion_start
		{event.Ring, "ev0007"},        // motion_start added at step 2
		{event.MotionEnd, ""},         // nothing ranks lower: refused
		{event.MotionStart, ""},       // refused
		{event.LongPress, "ev0003"},   // oldest long_press
		{event.Ring, "ev0009"},        // long_press of step 4
		{event.Ring, "ev0013"},        // long_press of step 8
		{event.Ring, "ev0002"},        // only rings left: the oldest ring
	}
	for n, s := range steps {
		i := 6 + n
		before := o.Pending()
		e, p := ev(i, s.typ)
		_, err := o.Add(e, p)
		after := ids(o.Pending())
		if s.evicted == "" {
			if !errors.Is(err, ErrFull) || len(after) != 6 || slices.Contains(after, e.ID) {
				t.Fatalf("step %d: %s: err %v, pending %v; want ErrFull and no change", n, s.typ, err, after)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", n, err)
		}
		want := slices.DeleteFunc(ids(before), func(id string) bool { return id == s.evicted })
		want = append(want, e.ID)
		if !slices.Equal(after, want) {
			t.Fatalf("step %d: adding %s %s: pending %v, want %v (evicting %s)", n, s.typ, e.ID, after, want, s.evicted)
		}
	}
	if st := o.Stats(); st.Dropped != 9 || st.Pending != 6 {
		t.Errorf("stats %+v", st)
	}
	want := ids(o.Pending())
	o.Close()
	if got := ids(open(t, dir, Options{MaxEntries: 6}).Pending()); !slices.Equal(got, want) {
		t.Errorf("after reopen %v, want %v: evictions must be durable", got, want)
	}
}

func TestEvictionByBytes(t *testing.T) {
	_, p := ev(0, event.Ring)
	per := addSize("ev0000", event.Ring, p)
	o := open(t, t.TempDir(), Options{MaxBytes: 10*per + per/2})
	for i := 0; i < 10; i++ {
		add(t, o, i, []event.Type{event.Ring, event.MotionStart}[i%2])
	}
	add(t, o, 10, event.Ring)
	got := ids(o.Pending())
	if len(got) != 10 || got[0] != "ev0000" || slices.Contains(got, "ev0001") {
		t.Errorf("pending %v: want the oldest motion_start (ev0001) evicted", got)
	}
	if st := o.Stats(); st.Bytes > 10*per+per/2 {
		t.Errorf("%d bytes pending, over MaxBytes", st.Bytes)
	}
}

func TestLimitsShrunkOnReopen(t *testing.T) {
	dir := t.TempDir()
	o := open(t, dir, Options{})
	for i := 0; i < 10; i++ {
		add(t, o, i, types[i%len(types)])
	}
	o.Close()
	got := ids(open(t, dir, Options{MaxEntries: 5}).Pending())
	// 0 ring, 1 motion_start, 2 long_press, 3 motion_end, 4 ring, 5 ms, 6 lp, 7 me, 8 ring, 9 ms
	want := []string{"ev0000", "ev0002", "ev0004", "ev0006", "ev0008"}
	if !slices.Equal(got, want) {
		t.Errorf("pending %v, want %v", got, want)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := Options{CompactMin: 8 << 10}
	o := open(t, dir, opts)
	maxFile := int64(0)
	for i := 0; i < 2000; i++ {
		ent := add(t, o, i, event.Ring)
		if err := o.Ack(ent.ID); err != nil {
			t.Fatal(err)
		}
		maxFile = max(maxFile, o.Stats().FileBytes)
	}
	if maxFile > 2*opts.CompactMin {
		t.Errorf("log grew to %d bytes with nothing pending (CompactMin %d)", maxFile, opts.CompactMin)
	}
	// With events pending, the rewrite keeps them, in order.
	var keep []string
	for i := 2000; i < 4000; i++ {
		ent := add(t, o, i, types[i%len(types)])
		if i%400 == 0 {
			keep = append(keep, ent.ID)
			continue
		}
		if err := o.Ack(ent.ID); err != nil {
			t.Fatal(err)
		}
		st := o.Stats()
		if limit := 2*opts.CompactMin + 2*st.Bytes + 1024; st.FileBytes > limit {
			t.Fatalf("log is %d bytes, %d pending (limit %d)", st.FileBytes, st.Bytes, limit)
		}
	}
	if got := ids(o.Pending()); !slices.Equal(got, keep) {
		t.Fatalf("pending %v, want %v", got, keep)
	}
	o.Close()
	o2 := open(t, dir, opts)
	if got := ids(o2.Pending()); !slices.Equal(got, keep) {
		t.Fatalf("after reopen %v, want %v", got, keep)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("leftover files in the outbox dir: %v", ents)
	}
}

// logOf returns the outbox file's bytes and the offset where the last
// record starts, for a log holding n add records and acks of the odd ones
// before the last record.
func writeLog(t *testing.T, lastIsAck bool) (data []byte, lastStart int, before []string) {
	t.Helper()
	dir := t.TempDir()
	o := open(t, dir, Options{})
	for i := 0; i < 6; i++ {
		ent := add(t, o, i, types[i%len(types)])
		if i%2 == 1 {
			o.Ack(ent.ID)
		}
	}
	idle(o)
	before = ids(o.Pending())
	lastStart = int(o.Stats().FileBytes)
	if lastIsAck {
		o.Ack(before[0])
	} else {
		add(t, o, 6, event.Ring)
	}
	o.Close()
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return data, lastStart, before
}

// A power cut while the last record is written leaves any prefix of it:
// Open must work and keep every complete record before it.
func TestTornLastRecord(t *testing.T) {
	for _, lastIsAck := range []bool{false, true} {
		t.Run(map[bool]string{false: "add", true: "ack"}[lastIsAck], func(t *testing.T) {
			data, lastStart, before := writeLog(t, lastIsAck)
			for cut := lastStart; cut <= len(data); cut++ {
				dir := t.TempDir()
				path := filepath.Join(dir, FileName)
				if err := os.WriteFile(path, data[:cut], 0o640); err != nil {
					t.Fatal(err)
				}
				o := open(t, dir, Options{})
				want := before
				if cut == len(data) {
					if lastIsAck {
						want = before[1:]
					} else {
						want = append(slices.Clone(before), "ev0006")
					}
				}
				if got := ids(o.Pending()); !slices.Equal(got, want) {
					t.Fatalf("cut at %d of %d: pending %v, want %v", cut, len(data), got, want)
				}
				// The torn bytes are gone, so new records follow intact ones.
				add(t, o, 99, event.Ring)
				o.Close()
				if got := ids(open(t, dir, Options{}).Pending()); !slices.Equal(got, append(slices.Clone(want), "ev0099")) {
					t.Fatalf("cut at %d: after another add and reopen: %v", cut, got)
				}
			}
		})
	}
}

// Zeros after the last record (a file system that extended the file but
// not its data) are torn bytes, nothing more.
func TestZeroTail(t *testing.T) {
	data, _, before := writeLog(t, false)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), append(data, make([]byte, 4096)...), 0o640)
	if got := ids(open(t, dir, Options{}).Pending()); !slices.Equal(got, append(before, "ev0006")) {
		t.Fatalf("pending %v", got)
	}
}

func TestDamageInTheMiddle(t *testing.T) {
	data, _, _ := writeLog(t, false)
	// Flip one byte inside the payload of the first event (ev0000).
	i := bytes.Index(data, []byte(`"ev0000"`))
	data[i+3] ^= 0x20
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	os.WriteFile(path, data, 0o640)
	var logs strings.Builder
	o, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// ev0000 is lost, the records after it are kept; the ack of ev0001
	// still applies.
	want := []string{"ev0002", "ev0004", "ev0006"}
	if got := ids(o.Pending()); !slices.Equal(got, want) {
		t.Fatalf("pending %v, want %v", got, want)
	}
	if !strings.Contains(logs.String(), "damaged records skipped") {
		t.Errorf("damage not logged: %s", logs.String())
	}
	o.Close()
	// The log was rewritten without the damage.
	logs.Reset()
	o2, _ := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer o2.Close()
	if got := ids(o2.Pending()); !slices.Equal(got, want) || logs.Len() > 0 && strings.Contains(logs.String(), "damaged") {
		t.Fatalf("second open: %v, logs %s", got, logs.String())
	}
}

func TestNotAnOutboxFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte("some other file\n"), 0o640)
	o := open(t, dir, Options{})
	if o.Len() != 0 {
		t.Fatal("pending events from a foreign file")
	}
	add(t, o, 1, event.Ring)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 || !strings.HasPrefix(ents[1].Name(), FileName+".bad-") {
		t.Errorf("foreign file not set aside: %v", ents)
	}
}

func TestTornHeader(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte(fileMagic[:3]), 0o640)
	o := open(t, dir, Options{})
	add(t, o, 1, event.Ring)
	o.Close()
	if got := ids(open(t, dir, Options{}).Pending()); !slices.Equal(got, []string{"ev0001"}) {
		t.Fatalf("pending %v", got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files: %v", ents)
	}
}

// testdata/before-post.log was written by the outbox before Post (Add
// with fdatasync before every publish): eight events, two acked, two
// evicted with MaxEntries 4. The format is the same; it opens as it did.
func TestOpensTheLogBeforePost(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "before-post.log"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), data, 0o640)
	o := open(t, dir, Options{MaxEntries: 4})
	got := o.Pending()
	if !slices.Equal(ids(got), []string{"ev0000", "ev0005", "ev0006", "ev0007"}) {
		t.Fatalf("pending %v", ids(got))
	}
	e, _ := ev(7, event.DoublePress)
	e.Snapshot = "" // the writer made none
	p, _ := json.Marshal(e)
	if !sameEntry(got[3], Entry{ID: e.ID, Seq: e.Seq, Type: e.Type, At: e.At, Payload: p}) {
		t.Errorf("entry %+v, want %+v", got[3], e)
	}
	add(t, o, 8, event.Ring) // evicts ev0005, the only motion event
	o.Close()
	if got := ids(open(t, dir, Options{MaxEntries: 4}).Pending()); !slices.Equal(got, []string{"ev0000", "ev0006", "ev0007", "ev0008"}) {
		t.Errorf("after another add and reopen: %v", got)
	}
}

// A crash in the middle of a compaction leaves renameio's temporary file;
// Open removes it, and nothing else.
func TestOpenRemovesCompactionLeftovers(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".outbox.log8405723118", ".outbox.log", ".outbox.logx1", "other"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o640)
	}
	open(t, dir, Options{})
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{".outbox.log", ".outbox.logx1", "other", FileName}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
}
