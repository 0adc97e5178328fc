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
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/event"
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

// entry is a pending event in memory.
type entry struct {
	Entry
	size int64 // encoded add record
	idx  int   // position in Outbox.order
}

// Outbox is a durable, size-bounded queue of events not yet acknowledged
// by the broker, kept in one append-only log file. It is safe for
// concurrent use.
type Outbox struct {
	opts Options
	dir  string
	path string

	mu      sync.Mutex
	f       *os.File // O_APPEND; nil once closed
	size    int64    // bytes in the file
	live    int64    // bytes of the pending entries' add records
	order   []*entry // oldest first; nil where acknowledged
	holes   int      // nils in order
	byID    map[string]*entry
	buf     []byte
	dropped int // evicted since Open, for the log
}

// Open opens (creating) the outbox in dir and rebuilds its pending events
// from the log. A torn or damaged record, as a power cut leaves it, is
// dropped and logged, never an error; only I/O errors are returned.
func Open(dir string, opts Options) (*Outbox, error) {
	opts.ensureDefaults()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("outbox: create %s: %w", dir, err)
	}
	o := &Outbox{opts: opts, dir: dir, path: filepath.Join(dir, FileName), byID: map[string]*entry{}}
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
			if err := truncate(o.path, o.size); err != nil {
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
		o.remove(v)
		o.dropped++
		rewrite = true
	}
	if rewrite {
		if err := o.rewrite(); err != nil {
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

func truncate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("outbox: open %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("outbox: truncate %s: %w", path, err)
	}
	if err := datasync(f); err != nil {
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
		o.insert(&entry{Entry: Entry{
			ID: r.id, Seq: r.seq, Type: r.typ, At: time.Unix(0, r.at).UTC(),
			Payload: append([]byte(nil), r.payload...),
		}, size: addSize(r.id, r.typ, r.payload)})
	case opAck, opDrop:
		if e := o.byID[r.id]; e != nil {
			o.remove(e)
		}
	}
}

func (o *Outbox) insert(e *entry) {
	e.idx = len(o.order)
	o.order = append(o.order, e)
	o.byID[e.ID] = e
	o.live += e.size
}

func (o *Outbox) remove(e *entry) {
	o.order[e.idx] = nil
	o.holes++
	delete(o.byID, e.ID)
	o.live -= e.size
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

// Add stores an event durably before it is published: when Add returns nil
// the event survives a crash or a power cut. payload must be the event's
// JSON (json.Marshal(e)), published as is while live. It costs one write
// and one fdatasync.
//
// When the outbox is full, the oldest events of the lowest priority are
// evicted to make room (motion_end, then motion_start, long_press, ring);
// if every stored event ranks above e and there is no room, e is not
// stored and Add returns ErrFull. Adding an ID that is already pending
// returns the pending entry.
func (o *Outbox) Add(e event.Event, payload []byte) (Entry, error) {
	if e.ID == "" || len(e.ID) > maxIDLen || len(e.Type) > maxTypeLen || len(payload) == 0 {
		return Entry{}, fmt.Errorf("outbox: add event %q type %q with %d payload bytes: want an id of 1-%d bytes, a type of at most %d and a payload",
			e.ID, e.Type, len(payload), maxIDLen, maxTypeLen)
	}
	size := addSize(e.ID, e.Type, payload)
	if size > o.opts.MaxBytes || size > maxBody {
		return Entry{}, fmt.Errorf("outbox: event %s: %d bytes, at most %d: %w", e.ID, size, o.opts.MaxBytes, ErrTooLarge)
	}
	at := e.At.UTC()

	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return Entry{}, ErrClosed
	}
	if x := o.byID[e.ID]; x != nil {
		return x.Entry, nil
	}

	// Choose whom to evict, without changing anything yet.
	var victims []*entry
	live, n := o.live, len(o.byID)
	if live+size > o.opts.MaxBytes || n+1 > o.opts.MaxEntries {
		prio := Priority(e.Type)
	evict: // lowest priority first, oldest first; each entry has one priority
		for p := 0; p <= prio; p++ {
			for _, x := range o.order {
				if live+size <= o.opts.MaxBytes && n+1 <= o.opts.MaxEntries {
					break evict
				}
				if x != nil && Priority(x.Type) == p {
					victims = append(victims, x)
					live -= x.size
					n--
				}
			}
		}
		if live+size > o.opts.MaxBytes || n+1 > o.opts.MaxEntries {
			return Entry{}, fmt.Errorf("outbox: %s %s not stored: %d events pending, all ranking above it: %w", e.Type, e.ID, len(o.byID), ErrFull)
		}
	}

	b := o.buf[:0]
	for _, v := range victims {
		b = appendDel(b, opDrop, v.ID)
	}
	b = appendAdd(b, e.ID, e.Type, at.UnixNano(), e.Seq, payload)
	o.buf = b
	if err := o.write(b, true); err != nil {
		return Entry{}, fmt.Errorf("outbox: add %s: %w", e.ID, err)
	}
	for _, v := range victims {
		o.opts.Logger.Warn("outbox: full, dropped an older event", "id", v.ID, "type", v.Type, "at", v.At.Format(event.TimeLayout), "for", e.ID)
		o.remove(v)
		o.dropped++
	}
	x := &entry{Entry: Entry{ID: e.ID, Seq: e.Seq, Type: e.Type, At: at, Payload: append([]byte(nil), payload...)}, size: size}
	o.insert(x)
	return x.Entry, nil
}

// write appends b to the log, with fdatasync if sync. On failure it cuts
// the file back to where it was, so a half-written record does not stay in
// front of later ones.
func (o *Outbox) write(b []byte, sync bool) error {
	_, err := o.f.Write(b)
	if err == nil && sync {
		err = datasync(o.f)
	}
	if err != nil {
		if terr := o.f.Truncate(o.size); terr != nil {
			o.opts.Logger.Error("outbox: cut back after a failed write", "file", o.path, "err", terr)
		}
		return err
	}
	o.size += int64(len(b))
	return nil
}

// Ack removes a published event: call it once the broker acknowledged it
// (PUBACK). Acking an ID that is not pending (acknowledged before, or
// evicted) does nothing. The ack record is not fsynced: if power fails
// before the kernel writes it, the event is published once more after the
// restart, and subscribers drop the duplicate by id.
func (o *Outbox) Ack(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return ErrClosed
	}
	e := o.byID[id]
	if e == nil {
		return nil
	}
	o.remove(e)
	b := appendDel(o.buf[:0], opAck, id)
	o.buf = b
	if err := o.write(b, false); err != nil {
		return fmt.Errorf("outbox: ack %s: %w", id, err)
	}
	return o.maybeCompact()
}

// maybeCompact rewrites the log once acknowledged records take more room
// than CompactMin and than the pending ones. Called with mu held.
func (o *Outbox) maybeCompact() error {
	dead := o.size - headerLen - o.live
	if dead < o.opts.CompactMin || dead < o.live {
		return nil
	}
	if len(o.byID) == 0 {
		// The common case: everything was published. Cut the file back to
		// its header; a crash in between leaves either file, both valid.
		if err := o.f.Truncate(headerLen); err != nil {
			return fmt.Errorf("outbox: compact %s: %w", o.path, err)
		}
		o.size = headerLen
		if err := datasync(o.f); err != nil {
			return fmt.Errorf("outbox: compact: %w", err)
		}
		return nil
	}
	return o.rewrite()
}

// rewrite writes the pending entries to a new log and renames it over the
// old one. Called with mu held (or before o is shared).
func (o *Outbox) rewrite() error {
	t, err := renameio.TempFile(o.dir, o.path)
	if err != nil {
		return fmt.Errorf("outbox: compact %s: %w", o.path, err)
	}
	defer t.Cleanup()
	b := append(o.buf[:0], fileMagic...)
	for _, e := range o.order {
		if e != nil {
			b = appendAdd(b, e.ID, e.Type, e.At.UnixNano(), e.Seq, e.Payload)
		}
	}
	o.buf = b
	if _, err := t.Write(b); err != nil {
		return fmt.Errorf("outbox: compact %s: %w", o.path, err)
	}
	if err := t.Chmod(0o640); err != nil {
		return fmt.Errorf("outbox: compact %s: %w", o.path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("outbox: compact %s: %w", o.path, err)
	}
	if err := storage.SyncDir(o.dir); err != nil {
		o.opts.Logger.Warn("outbox: sync directory after compaction", "dir", o.dir, "err", err)
	}
	f, err := os.OpenFile(o.path, os.O_RDWR|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("outbox: reopen %s: %w", o.path, err)
	}
	if o.f != nil {
		o.f.Close()
	}
	o.f, o.size = f, int64(len(b))
	if len(o.buf) > 64<<10 {
		o.buf = nil // do not keep a compaction-sized buffer for 300-byte appends
	}
	return nil
}

// Pending returns the pending events, oldest first (in the order they
// were added).
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
}

// Stats returns the outbox's current figures.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Stats{Pending: len(o.byID), Bytes: o.live, FileBytes: o.size, Dropped: o.dropped}
}

// Close flushes the log (including unsynced acks) and closes it.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	err := datasync(o.f)
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	o.f = nil
	if err != nil {
		return fmt.Errorf("outbox: close %s: %w", o.path, err)
	}
	return nil
}
