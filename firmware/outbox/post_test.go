package outbox

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// heldSync is an Options.Sync the test holds back, as a slow SD card
// would: each call says so on entered and returns what release sends,
// until the test ends (and Close syncs).
type heldSync struct {
	entered chan struct{}
	release chan error
	over    chan struct{}
	once    sync.Once
}

// openHeld opens an outbox in dir whose syncs the test holds back.
func openHeld(t *testing.T, dir string, opts Options) (*Outbox, *heldSync) {
	h := &heldSync{entered: make(chan struct{}, 100), release: make(chan error), over: make(chan struct{})}
	opts.Sync = h.sync
	ob := open(t, dir, opts)
	t.Cleanup(h.free) // before open's Close
	return ob, h
}

// free lets every sync from now on through.
func (h *heldSync) free() { h.once.Do(func() { close(h.over) }) }

func (h *heldSync) sync(f *os.File) error {
	select {
	case h.entered <- struct{}{}:
	case <-h.over:
	}
	select {
	case err := <-h.release:
		if err != nil {
			return err
		}
	case <-h.over:
	}
	return datasync(f)
}

// enter waits for the journal to be in a sync.
func (h *heldSync) enter(t *testing.T) {
	t.Helper()
	select {
	case <-h.entered:
	case <-deadline(t):
		t.Fatal("the journal did not sync")
	}
}

// pass waits for the journal to be in a sync, and ends it with err.
func (h *heldSync) pass(t *testing.T, err error) {
	t.Helper()
	h.enter(t)
	h.release <- err
}

// durables records OnDurable calls.
type durables struct {
	mu  sync.Mutex
	ids []string
}

func (d *durables) add(id string) { d.mu.Lock(); d.ids = append(d.ids, id); d.mu.Unlock() }
func (d *durables) all() []string { d.mu.Lock(); defer d.mu.Unlock(); return slices.Clone(d.ids) }

func post(t *testing.T, s *Sender, i int, typ event.Type) {
	t.Helper()
	e, p := ev(i, typ)
	if err := s.Post(e, p); err != nil {
		t.Fatalf("Post %d: %v", i, err)
	}
}

// logRecords returns the records of the outbox log in dir, as "add
// ev0001", "ack ev0001", "drop ev0001".
func logRecords(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	res := scan(data[len(fileMagic):])
	var out []string
	for _, r := range res.records {
		out = append(out, map[byte]string{opAdd: "add ", opAck: "ack ", opDrop: "drop "}[r.op]+r.id)
	}
	return out
}

// The publish goes out while the journal is still syncing; an event
// acknowledged before its write is never written, one acknowledged while
// it is written gets an ack record; OnDurable comes after the sync.
func TestPostDoesNotWaitForTheJournal(t *testing.T) {
	dir := t.TempDir()
	var d durables
	ob, h := openHeld(t, dir, Options{OnDurable: d.add})
	pub := newFakePub(true, false)
	s := runSender(t, ob, pub, nil)

	post(t, s, 1, event.Ring)
	h.enter(t) // ev0001 is written, its sync held
	post(t, s, 2, event.Ring)
	post(t, s, 3, event.LongPress)
	msgs := pub.waitMsgs(t, 3) // all published live while the sync waits
	for i, m := range msgs {
		if e := eventOf(t, m); e.ID != []string{"ev0001", "ev0002", "ev0003"}[i] || e.Late {
			t.Fatalf("message %d: %+v", i, e)
		}
	}
	if got := d.all(); len(got) != 0 {
		t.Fatalf("OnDurable(%v) before the sync", got)
	}
	if st := ob.Stats(); st.Volatile != 3 || st.Pending != 3 {
		t.Fatalf("stats %+v, want 3 pending, none durable", st)
	}

	msgs[1].tok.complete(nil) // ev0002 acked while queued: never written
	waitFor(t, "ack of ev0002", func() bool { return !ob.Has("ev0002") })
	msgs[0].tok.complete(nil) // ev0001 acked while its sync runs
	waitFor(t, "ack of ev0001", func() bool { return !ob.Has("ev0001") })
	h.release <- nil // the first sync: ev0001
	h.pass(t, nil)   // the second: ev0003, and the ack of ev0001
	idle(ob)
	if got := d.all(); !slices.Equal(got, []string{"ev0001", "ev0003"}) {
		t.Errorf("OnDurable for %v, want ev0001 ev0003", got)
	}
	want := []string{"add ev0001", "add ev0003", "ack ev0001"}
	if got := logRecords(t, dir); !slices.Equal(got, want) {
		t.Errorf("log %v, want %v", got, want)
	}
	if st := ob.Stats(); st.Skipped != 1 || st.Syncs != 2 || st.Volatile != 0 || st.Pending != 1 {
		t.Errorf("stats %+v", st)
	}
	msgs[2].tok.complete(nil)
	waitFor(t, "ack of ev0003", func() bool { return ob.Len() == 0 })
	h.pass(t, nil) // an ack is synced too: a lost one would be a late duplicate
	idle(ob)
	if got := logRecords(t, dir); !slices.Equal(got, append(want, "ack ev0003")) {
		t.Errorf("log %v", got)
	}
}

// What OnDurable reported is on disk: a copy of the log taken then (as a
// crash would leave it) replays it.
func TestDurableSurvivesACrash(t *testing.T) {
	dir := t.TempDir()
	durable := make(chan string, 10)
	ob := open(t, dir, Options{OnDurable: func(id string) { durable <- id }})
	pub := newFakePub(false, true) // the broker is away
	s := runSender(t, ob, pub, nil)
	for i := range 3 {
		post(t, s, i, types[i])
	}
	for i := range 3 {
		select {
		case <-durable:
		case <-deadline(t):
			t.Fatalf("%d events durable", i)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	crashed := t.TempDir()
	if err := os.WriteFile(filepath.Join(crashed, FileName), data, 0o640); err != nil {
		t.Fatal(err)
	}
	if got := ids(open(t, crashed, Options{}).Pending()); !slices.Equal(got, []string{"ev0000", "ev0001", "ev0002"}) {
		t.Errorf("after the crash: %v", got)
	}
}

// Eviction of an event already in the log writes a drop record; of one
// still queued, nothing.
func TestEvictionBeforeAndAfterTheWrite(t *testing.T) {
	dir := t.TempDir()
	ob, h := openHeld(t, dir, Options{MaxEntries: 1})
	s := runSender(t, ob, newFakePub(false, true), nil)
	post(t, s, 1, event.MotionStart)
	h.enter(t)                       // ev0001 in the log
	post(t, s, 2, event.MotionStart) // evicts ev0001: a drop record
	post(t, s, 3, event.Ring)        // evicts ev0002, still queued
	h.release <- nil
	h.pass(t, nil)
	idle(ob)
	if got, want := logRecords(t, dir), []string{"add ev0001", "drop ev0001", "add ev0003"}; !slices.Equal(got, want) {
		t.Errorf("log %v, want %v", got, want)
	}
	if st := ob.Stats(); st.Dropped != 2 || st.Skipped != 1 || st.Pending != 1 {
		t.Errorf("stats %+v", st)
	}
	h.free()
	ob.Close()
	if got := ids(open(t, dir, Options{}).Pending()); !slices.Equal(got, []string{"ev0003"}) {
		t.Errorf("after reopen %v", got)
	}
}

// An event the outbox cannot store, or cannot write, is still published.
func TestPostWithoutTheOutbox(t *testing.T) {
	t.Run("full", func(t *testing.T) {
		ob := open(t, t.TempDir(), Options{MaxEntries: 1})
		pub := newFakePub(false, false)
		s := runSender(t, ob, pub, nil)
		post(t, s, 1, event.Ring)
		post(t, s, 2, event.MotionEnd) // ErrFull: logged, published untracked
		if m := pub.waitMsgs(t, 1); eventOf(t, m[0]).ID != "ev0002" {
			t.Errorf("published %s", m[0].payload)
		}
		if got := ids(ob.Pending()); !slices.Equal(got, []string{"ev0001"}) {
			t.Errorf("pending %v", got)
		}
	})
	t.Run("closed", func(t *testing.T) {
		ob := open(t, t.TempDir(), Options{})
		pub := newFakePub(true, true)
		s := runSender(t, ob, pub, nil)
		ob.Close()
		e, p := ev(1, event.Ring)
		if err := s.Post(e, p); !errors.Is(err, ErrClosed) {
			t.Errorf("Post after Close: %v", err)
		}
		pub.waitMsgs(t, 1)
	})
	t.Run("disk fails", func(t *testing.T) {
		dir := t.TempDir()
		var d durables
		ob := open(t, dir, Options{Sync: func(*os.File) error { return errors.New("I/O error") }, OnDurable: d.add})
		pub := newFakePub(true, false)
		s := runSender(t, ob, pub, nil)
		post(t, s, 1, event.Ring)
		m := pub.waitMsgs(t, 1)
		idle(ob)
		if st := ob.Stats(); st.Pending != 1 || st.Volatile != 1 || st.FileBytes != headerLen {
			t.Errorf("after the failed write: %+v, want it pending in memory and the log cut back", st)
		}
		m[0].tok.complete(nil)
		waitFor(t, "the ack", func() bool { return ob.Len() == 0 })
		if got := d.all(); len(got) != 0 {
			t.Errorf("OnDurable(%v) after a failed write", got)
		}
		// Add says so, and does not keep the event.
		e, p := ev(2, event.Ring)
		if _, err := ob.Add(e, p); err == nil || ob.Has(e.ID) {
			t.Errorf("Add with a failing disk: %v, pending %v", err, ob.Has(e.ID))
		}
	})
}

// Posting an ID whose publish waits for its PUBACK publishes nothing.
func TestPostSameIDTwice(t *testing.T) {
	ob := open(t, t.TempDir(), Options{})
	pub := newFakePub(true, false)
	s := runSender(t, ob, pub, nil)
	post(t, s, 1, event.Ring)
	post(t, s, 1, event.Ring)
	m := pub.waitMsgs(t, 1)
	post(t, s, 2, event.Ring)
	if m = pub.waitMsgs(t, 2); eventOf(t, m[1]).ID != "ev0002" {
		t.Errorf("second message %s, want ev0002 (ev0001 once)", m[1].payload)
	}
}

// Posts and acks racing the journal, with a compaction after nearly every
// pass: what is left pending, in memory and after a restart, is exactly
// what was not acknowledged, in order, and OnDurable came in post order.
func TestJournalUnderLoad(t *testing.T) {
	const n = 2000
	dir := t.TempDir()
	var d durables
	ob := open(t, dir, Options{CompactMin: 1024, OnDurable: d.add,
		Sync: func(f *os.File) error { runtime.Gosched(); return datasync(f) }})
	pub := newFakePub(true, false)
	s := runSender(t, ob, pub, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	var keep []string
	acked := make(chan struct{})
	go func() { // the broker: acknowledges most publishes, as they come
		defer close(acked)
		for i := range n {
			for len(pub.all()) <= i {
				<-pub.notify
			}
			if rng.IntN(10) < 8 {
				pub.all()[i].tok.complete(nil)
			}
		}
	}()
	for i := range n {
		post(t, s, i, types[i%len(types)])
	}
	<-acked
	for i, m := range pub.all() {
		if !isDone(m.tok) {
			keep = append(keep, fmt.Sprintf("ev%04d", i))
		}
	}
	waitFor(t, "the acks", func() bool { return ob.Len() == len(keep) })
	idle(ob)
	if got := ids(ob.Pending()); !slices.Equal(got, keep) {
		t.Fatalf("pending %d events, want %d", len(got), len(keep))
	}
	st := ob.Stats()
	if st.Volatile != 0 || st.FileBytes > 2*1024+2*st.Bytes+1024 {
		t.Errorf("stats %+v", st)
	}
	if got := d.all(); !slices.IsSorted(got) || len(got)+st.Skipped != n {
		t.Errorf("OnDurable: %d calls, in order %v; %d skipped", len(got), slices.IsSorted(got), st.Skipped)
	}
	ob.Close()
	if got := ids(open(t, dir, Options{}).Pending()); !slices.Equal(got, keep) {
		t.Errorf("after reopen %d pending, want %d", len(got), len(keep))
	}
	t.Logf("%d posted, %d pending; %d syncs, %d never written", n, len(keep), st.Syncs, st.Skipped)
}

func isDone(t *fakeToken) bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}
