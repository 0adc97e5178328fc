package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/fsync"
)

// FileName is the log file inside the outbox directory.
const FileName = "outbox.log"

// Errors callers branch on.
var (
	// ErrFull: the outbox is full of events that rank above this one, so it
	// was not stored. Publish it anyway; it is just not kept across an
	// outage.
	ErrFull = errors.New("outbox full")
	// ErrTooLarge: the event alone is larger than Options.MaxBytes.
	ErrTooLarge = errors.New("event too large for the outbox")
	// ErrClosed: the outbox was closed.
	ErrClosed = errors.New("outbox closed")
)

// Options configure an Outbox.
type Options struct {
	// MaxBytes bounds the pending events, counted as their size in the log.
	// Default 1MiB (about 4000 events).
	MaxBytes int64
	// MaxEntries bounds the number of pending events. Default 10000.
	MaxEntries int
	// CompactMin is how many bytes of acknowledged records the log may hold
	// before it is compacted (and then only once they outweigh the pending
	// ones). Default 64KiB.
	CompactMin int64
	Logger     *slog.Logger
	// Sync flushes the log file to stable storage after records were
	// appended to it. Default: fdatasync(2) on Linux, File.Sync elsewhere.
	// Tests and benchmarks inject a slow one (an SD card) or one they
	// hold back.
	Sync func(f *os.File) error
	// OnDurable, when set, is called with the ID of each event whose add
	// record is on stable storage: from then on a crash or a power cut
	// cannot lose it. Calls come in the order the events were stored, from
	// the journal goroutine, and must not block. There is none for an
	// event acknowledged or evicted before its record was written (the
	// write is skipped), nor for one whose write failed.
	OnDurable func(id string)
}

func (o *Options) ensureDefaults() {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 20
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	if o.CompactMin <= 0 {
		o.CompactMin = 64 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Sync == nil {
		o.Sync = datasync
	}
}

// Entry is one pending event.
type Entry struct {
	ID   string
	Seq  uint64
	Type event.Type
	At   time.Time // UTC
	// Payload is the event JSON as Add received it (no "late"). It is
	// shared: do not modify it.
	Payload []byte
}

// LatePayload returns the payload to publish when the entry is replayed
// after an outage or a restart: the same event with "late": true, its
// original "at" unchanged.
func (e Entry) LatePayload() ([]byte, error) {
	var ev event.Event
	if err := json.Unmarshal(e.Payload, &ev); err != nil {
		return nil, fmt.Errorf("outbox: event %s: payload is not an event: %w", e.ID, err)
	}
	ev.Late = true
	return json.Marshal(ev)
}

// Priority ranks event types for eviction: when the outbox is full the
// oldest event of the lowest rank goes first. It is event.Of(t).Rank.
func Priority(t event.Type) int {
	p, _ := event.Of(t)
	return p.Rank
}

// journalState is where a pending entry's add record is.
type journalState uint8

const (
	queued  journalState = iota // waiting for the journal goroutine
	written                     // in the file, its sync not yet done
	durable                     // in the file and synced
	memOnly                     // its write failed: kept in memory only
)

// entry is a pending event in memory.
type entry struct {
	Entry
	size  int64 // encoded add record
	idx   int   // position in Outbox.order
	state journalState
	pass  *pass // the journal pass that writes it; nil when read from the log
}

// op is a record waiting for the journal goroutine.
type op struct {
	code byte   // opAdd, opAck, opDrop; 0 once skipped
	e    *entry // opAdd
	id   string // opAck, opDrop
}

// pass is one round of the journal goroutine: every record queued when it
// began, appended with one write and, when they hold an add or a drop,
// one sync.
type pass struct {
	done chan struct{} // closed once the records are written, or failed to be
	err  error         // set before done is closed
}

// Outbox is a size-bounded queue of events not yet acknowledged by the
// broker, kept in memory and journaled to one append-only log file by a
// goroutine of its own, so that storing an event never waits for the
// disk. It is safe for concurrent use.
type Outbox struct {
	opts Options
	dir  string
	path string

	mu      sync.Mutex
	closed  bool
	order   []*entry // oldest first; nil where acknowledged
	holes   int      // nils in order
	byID    map[string]*entry
	live    int64         // bytes of the pending entries' add records: what MaxBytes bounds
	inFile  int64         // bytes of the add records in the file of pending entries
	size    int64         // bytes in the file
	queue   []op          // records for the journal goroutine, oldest first
	next    *pass         // the pass that will write queue
	journal chan struct{} // while the journal goroutine runs; closed when it ends
	dropped int           // evicted since Open, for the log
	syncs   int           // journal writes with a sync since Open
	skipped int           // add records never written: acknowledged or evicted first

	// The file and the encoding buffer belong to the journal goroutine
	// while it runs, else to Open and Close.
	f   *os.File // O_APPEND
	buf []byte
}

// Open opens (creating) the outbox in dir and rebuilds its pending events
// from the log. A torn or damaged record, as a power cut leaves it, is
// dropped and logged, never an error; only I/O errors are returned. Open
// starts nothing: the journal goroutine runs while records wait for it.
func Open(dir string, opts Options) (*Outbox, error) {
	opts.ensureDefaults()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("outbox: create %s: %w", dir, err)
	}
	o := &Outbox{opts: opts, dir: dir, path: filepath.Join(dir, FileName), byID: map[string]*entry{}}
	o.removeTempFiles()
	data, err := os.ReadFile(o.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("outbox: read %s: %w", o.path, err)
	}
	rewrite := false
	switch {
	case len(data) >= len(fileMagic) && string(data[:len(fileMagic)]) == fileMagic:
		res := scan(data[len(fileMagic):])
		for _, r := range res.records {
			o.apply(r)
		}
		o.size = headerLen + int64(res.end)
		if res.skipped > 0 {
			opts.Logger.Warn("outbox: damaged records skipped", "file", o.path, "bytes", res.skipped, "pending", len(o.byID))
			rewrite = true
		}
		if res.torn > 0 {
			opts.Logger.Warn("outbox: torn record at the end dropped (power cut while writing?)", "file", o.path, "bytes", res.torn)
			if err := truncate(o.path, o.size, opts.Sync); err != nil {
				return nil, err
			}
		}
	case len(data) == 0 || len(data) < len(fileMagic) && string(data) == fileMagic[:len(data)]:
		// New, or torn while being created.
		rewrite = true
	default:
		bad := o.path + ".bad-" + strconv.FormatInt(time.Now().Unix(), 10)
		opts.Logger.Error("outbox: not an outbox log, set aside", "file", o.path, "moved_to", bad)
		if err := os.Rename(o.path, bad); err != nil {
			return nil, fmt.Errorf("outbox: set aside %s: %w", o.path, err)
		}
		rewrite = true
	}
	// Options may have shrunk since the log was written.
	for len(o.byID) > 0 && (o.live > opts.MaxBytes || len(o.byID) > opts.MaxEntries) {
		v := o.victim(event.MaxRank() + 1)
		opts.Logger.Warn("outbox: over its limits after restart, dropping an event", "id", v.ID, "type", v.Type, "at", v.At)
		o.unlink(v)
		o.dropped++
		rewrite = true
	}
	if rewrite {
		if o.f, o.size, err = o.rewrite(o.inLog()); err != nil {
			return nil, err
		}
	} else if o.f, err = os.OpenFile(o.path, os.O_RDWR|os.O_APPEND, 0o640); err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", o.path, err)
	}
	if n := len(o.byID); n > 0 {
		opts.Logger.Info("outbox: events waiting to be published", "pending", n, "bytes", o.live)
	}
	return o, nil
}

// removeTempFiles removes what a compaction cut short by a crash left:
// renameio's temporary files, "." + FileName + digits.
func (o *Outbox) removeTempFiles() {
	names, _ := filepath.Glob(filepath.Join(o.dir, "."+FileName+"*"))
	for _, name := range names {
		digits := strings.TrimPrefix(filepath.Base(name), "."+FileName)
		if digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		if err := os.Remove(name); err != nil {
			o.opts.Logger.Warn("outbox: remove a compaction's leftover", "file", name, "err", err)
		} else {
			o.opts.Logger.Info("outbox: removed a compaction's leftover (crash while compacting?)", "file", name)
		}
	}
}

func truncate(path string, size int64, sync func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("outbox: open %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("outbox: truncate %s: %w", path, err)
	}
	if err := sync(f); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// apply replays one record into memory.
func (o *Outbox) apply(r record) {
	switch r.op {
	case opAdd:
		if _, dup := o.byID[r.id]; dup {
			return
		}
		e := &entry{Entry: Entry{
			ID: r.id, Seq: r.seq, Type: r.typ, At: time.Unix(0, r.at).UTC(),
			Payload: append([]byte(nil), r.payload...),
		}, size: addSize(r.id, r.typ, r.payload), state: durable}
		o.insert(e)
		o.inFile += e.size
	case opAck, opDrop:
		if e := o.byID[r.id]; e != nil {
			o.unlink(e)
		}
	}
}

func (o *Outbox) insert(e *entry) {
	e.idx = len(o.order)
	o.order = append(o.order, e)
	o.byID[e.ID] = e
	o.live += e.size
}

// unlink removes e from the pending entries. It reports whether the log
// holds e's add record (or is writing it), so that an ack or drop record
// must follow; an entry still queued is simply never written. Called
// with mu held.
func (o *Outbox) unlink(e *entry) (inLog bool) {
	o.order[e.idx] = nil
	o.holes++
	delete(o.byID, e.ID)
	o.live -= e.size
	if e.state == written || e.state == durable {
		o.inFile -= e.size
		inLog = true
	}
	if o.holes > 32 && o.holes > len(o.order)/2 {
		n := 0
		for _, x := range o.order {
			if x != nil {
				x.idx = n
				o.order[n] = x
				n++
			}
		}
		clear(o.order[n:])
		o.order, o.holes = o.order[:n], 0
	}
	return inLog
}

// inLog returns the pending entries whose add records are in the log,
// oldest first. Called with mu held, between journal passes.
func (o *Outbox) inLog() []*entry {
	var out []*entry
	for _, e := range o.order {
		if e != nil && e.state == durable {
			out = append(out, e)
		}
	}
	return out
}

// victim returns the oldest entry of the lowest priority below maxPrio, or
// nil.
func (o *Outbox) victim(maxPrio int) *entry {
	var best *entry
	bp := maxPrio
	for _, e := range o.order {
		if e == nil {
			continue
		}
		if p := Priority(e.Type); p < bp {
			best, bp = e, p
			if p == 0 {
				break
			}
		}
	}
	return best
}

// put stores e in memory and queues its add record, after the drop
// records of the events it evicts, for the journal goroutine. It never
// waits for the disk. It returns the entry and the journal pass that
// writes it (nil for an event already on disk).
//
// When the outbox is full, the oldest events of the lowest priority are
// evicted to make room (motion_end, then motion_start, long_press, ring);
// if every stored event ranks above e and there is no room, e is not
// stored and put returns ErrFull. Putting an ID that is already pending
// returns the pending entry.
func (o *Outbox) put(e event.Event, payload []byte) (Entry, *pass, error) {
	if e.ID == "" || len(e.ID) > maxIDLen || len(e.Type) > maxTypeLen || len(payload) == 0 {
		return Entry{}, nil, fmt.Errorf("outbox: add event %q type %q with %d payload bytes: want an id of 1-%d bytes, a type of at most %d and a payload",
			e.ID, e.Type, len(payload), maxIDLen, maxTypeLen)
	}
	size := addSize(e.ID, e.Type, payload)
	if size > o.opts.MaxBytes || size > maxBody {
		return Entry{}, nil, fmt.Errorf("outbox: event %s: %d bytes, at most %d: %w", e.ID, size, o.opts.MaxBytes, ErrTooLarge)
	}
	x := &entry{Entry: Entry{ID: e.ID, Seq: e.Seq, Type: e.Type, At: e.At.UTC(), Payload: append([]byte(nil), payload...)}, size: size}

	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return Entry{}, nil, ErrClosed
	}
	if p := o.byID[e.ID]; p != nil {
		o.mu.Unlock()
		return p.Entry, p.pass, nil
	}

	// Choose whom to evict, without changing anything yet.
	var victims []*entry
	live, n := o.live, len(o.byID)
	if live+size > o.opts.MaxBytes || n+1 > o.opts.MaxEntries {
		prio := Priority(e.Type)
	evict: // lowest priority first, oldest first; each entry has one priority
		for p := 0; p <= prio; p++ {
			for _, v := range o.order {
				if live+size <= o.opts.MaxBytes && n+1 <= o.opts.MaxEntries {
					break evict
				}
				if v != nil && Priority(v.Type) == p {
					victims = append(victims, v)
					live -= v.size
					n--
				}
			}
		}
		if live+size > o.opts.MaxBytes || n+1 > o.opts.MaxEntries {
			pending := len(o.byID)
			o.mu.Unlock()
			return Entry{}, nil, fmt.Errorf("outbox: %s %s not stored: %d events pending, all ranking above it: %w", e.Type, e.ID, pending, ErrFull)
		}
	}
	for _, v := range victims {
		if o.unlink(v) {
			o.enqueue(op{code: opDrop, id: v.ID})
		}
		o.dropped++
	}
	o.insert(x)
	x.pass = o.enqueue(op{code: opAdd, e: x})
	o.mu.Unlock()

	for _, v := range victims {
		o.opts.Logger.Warn("outbox: full, dropped an older event", "id", v.ID, "type", v.Type, "at", v.At.Format(event.TimeLayout), "for", e.ID)
	}
	return x.Entry, x.pass, nil
}

// enqueue queues r for the journal goroutine, starting it unless it runs,
// and returns the pass that will write r. Called with mu held.
func (o *Outbox) enqueue(r op) *pass {
	o.queue = append(o.queue, r)
	if o.next == nil {
		o.next = &pass{done: make(chan struct{})}
	}
	if o.journal == nil {
		o.journal = make(chan struct{})
		go o.runJournal(o.journal)
	}
	return o.next
}

// Add stores an event durably and returns once it is: when Add returns
// nil the event survives a crash or a power cut (or the broker has
// acknowledged it meanwhile). payload must be the event's JSON
// (json.Marshal(e)), published as is while live. Sender.Post is the
// press path, which does not wait; Add is for callers that must know.
//
// When the outbox is full, the oldest events of the lowest priority are
// evicted to make room (motion_end, then motion_start, long_press, ring);
// if every stored event ranks above e and there is no room, e is not
// stored and Add returns ErrFull. Adding an ID that is already pending
// returns the pending entry. When the write fails, e is not stored.
func (o *Outbox) Add(e event.Event, payload []byte) (Entry, error) {
	ent, p, err := o.put(e, payload)
	if err != nil || p == nil {
		return ent, err
	}
	<-p.done
	if p.err != nil {
		o.mu.Lock()
		if x := o.byID[ent.ID]; x != nil && x.state == memOnly {
			o.unlink(x)
		}
		o.mu.Unlock()
		return Entry{}, fmt.Errorf("outbox: add %s: %w", e.ID, p.err)
	}
	return ent, nil
}

// Ack removes a published event: call it once the broker acknowledged it
// (PUBACK). Acking an ID that is not pending (acknowledged before, or
// evicted) does nothing. It never waits for the disk: an event whose add
// record is not written yet is never written; otherwise an ack record is
// queued for the journal and written with a sync in its next pass. Only if
// power fails before that sync returns is the event published once more
// after the restart (subscribers drop the duplicate by id).
func (o *Outbox) Ack(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	if e := o.byID[id]; e != nil && o.unlink(e) {
		o.enqueue(op{code: opAck, id: id})
	}
	return nil
}

// runJournal is the journal goroutine: it writes what is queued, pass
// after pass, compacting the log between passes, and ends (closing done)
// once nothing is queued.
func (o *Outbox) runJournal(done chan struct{}) {
	defer close(done)
	for o.pass() {
		o.maybeCompact()
	}
}

// pass appends every queued record to the log with one write, synced
// when the records hold an add or a drop, then tells OnDurable and the
// waiting Adds. It returns false, and the journal goroutine ends, when
// nothing is queued.
func (o *Outbox) pass() bool {
	o.mu.Lock()
	if len(o.queue) == 0 {
		o.journal = nil
		o.mu.Unlock()
		return false
	}
	ops, p := o.queue, o.next
	o.queue, o.next = nil, nil
	var adds []*entry
	sync := false
	for i, r := range ops {
		switch r.code {
		case opAdd:
			if o.byID[r.e.ID] != r.e { // acknowledged or evicted before its write
				ops[i].code = 0
				o.skipped++
				continue
			}
			r.e.state = written
			o.inFile += r.e.size
			adds = append(adds, r.e)
			sync = true
		case opDrop, opAck:
			// An ack is synced too: lost to a power cut, it would bring
			// the event back as a late duplicate. Only events written
			// before their PUBACK have one (a broker slower than the
			// card, or a replay), so this costs nothing on the live path.
			sync = true
		}
	}
	o.mu.Unlock()

	b := o.buf[:0]
	for _, r := range ops {
		switch r.code {
		case opAdd:
			b = appendAdd(b, r.e.ID, r.e.Type, r.e.At.UnixNano(), r.e.Seq, r.e.Payload)
		case opAck, opDrop:
			b = appendDel(b, r.code, r.id)
		}
	}
	o.buf = b
	var err error
	if len(b) > 0 {
		err = o.write(b, sync)
	}

	o.mu.Lock()
	if err == nil {
		o.size += int64(len(b))
		if sync {
			o.syncs++
		}
		for _, e := range adds {
			e.state = durable
		}
	} else {
		for _, e := range adds {
			if o.byID[e.ID] == e {
				e.state = memOnly
				o.inFile -= e.size
			}
		}
	}
	o.mu.Unlock()

	if err != nil {
		o.opts.Logger.Error("outbox: journal write failed; its events are kept in memory only, and still published",
			"file", o.path, "events", len(adds), "err", err)
	} else if o.opts.OnDurable != nil {
		for _, e := range adds {
			o.opts.OnDurable(e.ID)
		}
	}
	if len(b) > 64<<10 {
		o.buf = nil // do not keep a backlog-sized buffer for 300-byte appends
	}
	p.err = err
	close(p.done)
	return true
}

// write appends b to the log, with a sync if sync. On failure it cuts
// the file back to where it was, so a half-written record does not stay in
// front of later ones. Called by the journal goroutine, without mu.
func (o *Outbox) write(b []byte, sync bool) error {
	_, err := o.f.Write(b)
	if err == nil && sync {
		err = o.opts.Sync(o.f)
	}
	if err != nil {
		if terr := o.f.Truncate(o.size); terr != nil {
			o.opts.Logger.Error("outbox: cut back after a failed write", "file", o.path, "err", terr)
		}
		return err
	}
	return nil
}

// maybeCompact rewrites the log once acknowledged records take more room
// than CompactMin and than the pending ones. Called by the journal
// goroutine between passes.
func (o *Outbox) maybeCompact() {
	o.mu.Lock()
	dead := o.size - headerLen - o.inFile
	if dead < o.opts.CompactMin || dead < o.inFile {
		o.mu.Unlock()
		return
	}
	var keep []*entry
	if o.inFile > 0 {
		keep = o.inLog()
	}
	o.mu.Unlock()
	// Only this goroutine appends to the file or adds to inFile, so keep
	// stays what the log holds of the pending events; what is acked
	// meanwhile is queued and appended after the compaction.
	if keep == nil {
		// The common case: everything was published. Cut the file back to
		// its header; a crash in between leaves either file, both valid.
		if err := o.f.Truncate(headerLen); err != nil {
			o.opts.Logger.Error("outbox: compact", "file", o.path, "err", err)
			return
		}
		o.mu.Lock()
		o.size = headerLen
		o.mu.Unlock()
		if err := o.opts.Sync(o.f); err != nil {
			o.opts.Logger.Error("outbox: compact", "file", o.path, "err", err)
		}
		return
	}
	f, size, err := o.rewrite(keep)
	if err != nil {
		o.opts.Logger.Error("outbox: compact", "file", o.path, "err", err)
		return
	}
	o.f.Close()
	o.f = f
	o.mu.Lock()
	o.size = size
	o.mu.Unlock()
}

// rewrite writes es to a new log, renames it over the old one and returns
// it open for appending, with its size. It changes no shared state:
// called by the journal goroutine without mu, or by Open.
func (o *Outbox) rewrite(es []*entry) (*os.File, int64, error) {
	t, err := renameio.TempFile(o.dir, o.path)
	if err != nil {
		return nil, 0, fmt.Errorf("outbox: compact %s: %w", o.path, err)
	}
	defer t.Cleanup()
	b := append(o.buf[:0], fileMagic...)
	for _, e := range es {
		b = appendAdd(b, e.ID, e.Type, e.At.UnixNano(), e.Seq, e.Payload)
	}
	o.buf = b
	if len(o.buf) > 64<<10 {
		o.buf = nil // do not keep a compaction-sized buffer for 300-byte appends
	}
	if _, err := t.Write(b); err != nil {
		return nil, 0, fmt.Errorf("outbox: compact %s: %w", o.path, err)
	}
	if err := t.Chmod(0o640); err != nil {
		return nil, 0, fmt.Errorf("outbox: compact %s: %w", o.path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return nil, 0, fmt.Errorf("outbox: compact %s: %w", o.path, err)
	}
	if err := fsync.Dir(o.dir); err != nil {
		o.opts.Logger.Warn("outbox: sync directory after compaction", "dir", o.dir, "err", err)
	}
	f, err := os.OpenFile(o.path, os.O_RDWR|os.O_APPEND, 0o640)
	if err != nil {
		return nil, 0, fmt.Errorf("outbox: reopen %s: %w", o.path, err)
	}
	return f, int64(len(b)), nil
}

// Pending returns the pending events, oldest first (in the order they
// were added), whether or not they are on disk yet.
func (o *Outbox) Pending() []Entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Entry, 0, len(o.byID))
	for _, e := range o.order {
		if e != nil {
			out = append(out, e.Entry)
		}
	}
	return out
}

// Len returns the number of pending events.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.byID)
}

// Has reports whether id is pending.
func (o *Outbox) Has(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byID[id] != nil
}

// Stats describe the outbox.
type Stats struct {
	Pending   int   // events waiting for an ack
	Bytes     int64 // their size in the log
	FileBytes int64 // size of the log file
	Dropped   int   // events evicted since Open because the outbox was full
	// Volatile counts the pending events not on stable storage: queued
	// for the journal, being written, or kept in memory after a failed
	// write.
	Volatile int
	Syncs    int // journal writes with a sync since Open
	// Skipped counts the events acknowledged (or evicted) before their
	// add record was written, which were therefore never written.
	Skipped int
}

// Stats returns the outbox's current figures.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := Stats{Pending: len(o.byID), Bytes: o.live, FileBytes: o.size, Dropped: o.dropped, Syncs: o.syncs, Skipped: o.skipped}
	for _, e := range o.order {
		if e != nil && e.state != durable {
			st.Volatile++
		}
	}
	return st
}

// Close writes what is queued for the journal, flushes the log (including
// unsynced acks) and closes it. Pending events stay in the log for the
// next Open.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true // nothing is queued from now on
	j := o.journal
	o.mu.Unlock()
	if j != nil {
		<-j
	}
	err := o.opts.Sync(o.f)
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("outbox: close %s: %w", o.path, err)
	}
	return nil
}
