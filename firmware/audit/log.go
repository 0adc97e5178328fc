package audit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/fsync"
	"github.com/doorbelld/doorbelld/firmware/ratelog"
)

// Options tune a Log. The zero value is usable: defaults are filled in
// by Open.
type Options struct {
	MaxBytes int64           // rotate when the current file would exceed it; default 1 MiB
	Keep     int             // rotated files kept (audit.log.1 .. .N); default 3; older ones removed
	Recent   int             // newest entries kept in memory for Recent(); default 200
	Sync     bool            // fdatasync after every entry (the daemon sets true)
	Clock    clockwork.Clock // default the real clock
	Logger   *slog.Logger    // default slog.Default()
}

// Defaults for Options.
const (
	DefaultMaxBytes = 1 << 20
	DefaultKeep     = 3
	DefaultRecent   = 200
)

// logEvery is how often a failing write is logged (per kind of failure).
const logEvery = time.Minute

// maxStatKeys bounds the action/outcome pairs counted separately in
// Stats.Entries; further pairs are counted under "other/other".
const maxStatKeys = 64

func (o *Options) ensureDefaults() error {
	switch {
	case o.MaxBytes < 0:
		return fmt.Errorf("audit: options: MaxBytes %d: must be 0 (default %d) or more", o.MaxBytes, DefaultMaxBytes)
	case o.Keep < 0:
		return fmt.Errorf("audit: options: Keep %d: must be 0 (default %d) or more", o.Keep, DefaultKeep)
	case o.Recent < 0:
		return fmt.Errorf("audit: options: Recent %d: must be 0 (default %d) or more", o.Recent, DefaultRecent)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Keep == 0 {
		o.Keep = DefaultKeep
	}
	if o.Recent == 0 {
		o.Recent = DefaultRecent
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// appendFile is what Log needs of its open file (an *os.File opened
// O_APPEND); tests put a failing one in its place.
type appendFile interface {
	io.WriteCloser
	Truncate(size int64) error
}

// Log is the audit trail: an append-only, hash-chained, size-bounded log
// file, the newest entries in memory, and a fan-out to subscribers. It is
// safe for concurrent use.
type Log struct {
	path string // "" = memory only
	opts Options
	logs *ratelog.Keys

	mu     sync.Mutex
	f      appendFile // nil when memory only or closed
	closed bool
	size   int64 // bytes of complete lines in f
	dirty  bool  // f may hold a partial line past size (a write failed and truncating failed)
	seq    uint64
	prev   string // hash of the last line in the file (of the last entry when memory only)
	recent []Entry
	next   int // index in recent of the next slot
	count  int // entries in recent
	subs   map[*subscriber]struct{}
	stats  Stats
}

type subscriber struct {
	ch chan Entry
}

// Stats are the Log's counters, for Prometheus.
type Stats struct {
	// Entries counts the entries recorded since Open, keyed
	// "action/outcome" (e.g. "clip.fetch/refused"). At most 64 keys; the
	// rest are counted under "other/other".
	Entries     map[string]uint64
	WriteErrors uint64 // entries not written to the file (write, sync or rotation failed, or Record after Close)
	Dropped     uint64 // entries not delivered to a subscriber whose buffer was full
	Rotations   uint64 // files rotated since Open
	Seq         uint64 // Seq of the last entry
	Head        string // hash of the last line written (what Verify returns for the whole log)
}

// Open opens the audit log at path, creating its directory (0700) and the
// file (0600) when missing. An existing log continues: Seq from its last
// line, the hash chain from that line's hash, and Recent is refilled from
// the files, newest first. A torn last line (a power cut mid-write) is
// cut off with a warning. path "" keeps the log in memory only.
func Open(path string, opts Options) (*Log, error) {
	if err := opts.ensureDefaults(); err != nil {
		return nil, err
	}
	l := &Log{
		path:   path,
		opts:   opts,
		logs:   ratelog.New(logEvery, 8),
		recent: make([]Entry, opts.Recent),
		subs:   map[*subscriber]struct{}{},
		stats:  Stats{Entries: map[string]uint64{}},
	}
	if path == "" {
		return l, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: open %s: create directory: %w", path, err)
	}
	if err := l.recover(); err != nil {
		return nil, err
	}
	if err := l.openFile(); err != nil {
		return nil, err
	}
	l.stats.Seq, l.stats.Head = l.seq, l.prev
	return l, nil
}

// openFile opens (or creates) the current file for appending.
func (l *Log) openFile() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", l.path, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err == nil && fi.Mode().Perm() != 0o600 {
		err = f.Chmod(0o600)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: open %s: %w", l.path, err)
	}
	l.f, l.size, l.dirty = f, fi.Size(), false
	return nil
}

// Record stamps e (Seq, Prev, and At when zero; At is kept in UTC),
// appends it to the file as one JSON line in a single write, rotating
// first when the file would grow past MaxBytes, and hands it to Recent and
// the subscribers. String fields
// are cut to MaxField bytes of valid UTF-8; an empty Outcome is OK. It
// returns the entry as stamped. It never fails and never blocks on a
// subscriber: a failed write is counted (Stats.WriteErrors), logged at
// most once a minute, and the entry still reaches Recent and the
// subscribers; the chain then skips it, so the file stays verifiable and
// the loss shows as a jump in Seq. Record holds the Log's lock while it
// writes (and syncs, with Options.Sync), so concurrent callers wait for
// one another's disk writes, never for a subscriber.
func (l *Log) Record(e Entry) Entry {
	e = clean(e)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Clock.Now()
	if e.At.IsZero() || e.At.Year() < 1 || e.At.Year() > 9999 {
		e.At = now
	}
	e.At = e.At.UTC().Round(0)
	l.seq++
	e.Seq, e.Prev = l.seq, l.prev
	text, err := e.MarshalJSON()
	if err != nil { // cannot happen after clean; never lose the entry over it
		e.At = now.Round(0)
		text, err = e.MarshalJSON()
	}
	switch {
	case err != nil:
		l.failed(now, "encode", err)
	case l.path == "":
		l.prev = hashLine(text)
	case l.f == nil:
		l.failed(now, "write", errors.New("log closed"))
	default:
		if err := l.write(text); err != nil {
			l.failed(now, "write", err)
		} else {
			l.prev = hashLine(text)
		}
	}
	l.stats.Seq, l.stats.Head = l.seq, l.prev
	l.count1(e)
	l.remember(e)
	for s := range l.subs {
		select {
		case s.ch <- e:
		default:
			l.stats.Dropped++
		}
	}
	return e
}

// write appends text and a newline to the file, rotating first when
// needed. On failure the file is cut back to its last complete line.
func (l *Log) write(text []byte) error {
	if l.dirty {
		if err := l.f.Truncate(l.size); err != nil {
			return fmt.Errorf("audit: write %s: cut back a partial line: %w", l.path, err)
		}
		l.dirty = false
	}
	n := int64(len(text) + 1)
	if l.size > 0 && l.size+n > l.opts.MaxBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	buf := make([]byte, 0, n)
	buf = append(append(buf, text...), '\n')
	if _, err := l.f.Write(buf); err != nil {
		if terr := l.f.Truncate(l.size); terr != nil {
			l.dirty = true
		}
		return fmt.Errorf("audit: write %s: %w", l.path, err)
	}
	l.size += n
	if l.opts.Sync {
		if f, ok := l.f.(*os.File); ok {
			if err := fdatasync(f); err != nil {
				// The line is in the page cache and may well reach the
				// disk; it stays in the chain. Count and log the failure.
				l.failed(l.opts.Clock.Now(), "sync", fmt.Errorf("audit: sync %s: %w", l.path, err))
			}
		}
	}
	return nil
}

// rotate renames path.N to path.N+1 (dropping those past Keep), path to
// path.1, and starts a new path. On failure the current file stays open.
func (l *Log) rotate() error {
	nums, err := rotated(l.path)
	if err != nil {
		return fmt.Errorf("audit: rotate %s: %w", l.path, err)
	}
	for i := len(nums) - 1; i >= 0; i-- {
		n := nums[i]
		old := l.path + "." + strconv.Itoa(n)
		if n >= l.opts.Keep {
			if err := os.Remove(old); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("audit: rotate %s: %w", l.path, err)
			}
			continue
		}
		if err := os.Rename(old, l.path+"."+strconv.Itoa(n+1)); err != nil {
			return fmt.Errorf("audit: rotate %s: %w", l.path, err)
		}
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("audit: rotate %s: %w", l.path, err)
	}
	old := l.f
	if err := l.openFile(); err != nil {
		// Keep appending to the old file under its old name rather than
		// lose entries; the next write tries again.
		if rerr := os.Rename(l.path+".1", l.path); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return fmt.Errorf("audit: rotate: %w", err)
	}
	old.Close()
	l.stats.Rotations++
	if err := fsync.Dir(filepath.Dir(l.path)); err != nil {
		l.failed(l.opts.Clock.Now(), "sync", fmt.Errorf("audit: rotate %s: sync directory: %w", l.path, err))
	}
	return nil
}

// failed counts a failed write and logs it, at most once a minute per op.
func (l *Log) failed(now time.Time, op string, err error) {
	l.stats.WriteErrors++
	v := l.logs.Allow(now, op)
	if !v.OK {
		return
	}
	l.opts.Logger.Warn("audit: entry not written to the log file", "op", op, "err", err,
		"write_errors", l.stats.WriteErrors, "suppressed", v.Suppressed)
}

func (l *Log) count1(e Entry) {
	key := e.Action + "/" + e.Outcome
	if _, ok := l.stats.Entries[key]; !ok && len(l.stats.Entries) >= maxStatKeys {
		key = "other/other"
	}
	l.stats.Entries[key]++
}

// remember puts e in the Recent ring.
func (l *Log) remember(e Entry) {
	l.recent[l.next] = e
	l.next = (l.next + 1) % len(l.recent)
	if l.count < len(l.recent) {
		l.count++
	}
}

// Recent returns the newest entries, newest first, at most n (and at most
// Options.Recent).
func (l *Log) Recent(n int) []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	n = min(n, l.count)
	if n <= 0 {
		return nil
	}
	out := make([]Entry, n)
	for i := range out {
		out[i] = l.recent[(l.next-1-i+2*len(l.recent))%len(l.recent)]
	}
	return out
}

// Subscribe returns a channel that receives every entry recorded from now
// on, in order, and a function that ends the subscription and closes the
// channel. Record never waits for a subscriber: when its buffer of buf
// entries is full, the entry is dropped for it and counted
// (Stats.Dropped); with buf 0 an entry is delivered only when the
// receiver is already waiting. Close closes all channels.
func (l *Log) Subscribe(buf int) (<-chan Entry, func()) {
	s := &subscriber{ch: make(chan Entry, max(buf, 0))}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		close(s.ch)
		return s.ch, func() {}
	}
	l.subs[s] = struct{}{}
	return s.ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, ok := l.subs[s]; ok {
			delete(l.subs, s)
			close(s.ch)
		}
	}
}

// Stats returns a copy of the counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Entries = make(map[string]uint64, len(l.stats.Entries))
	for k, v := range l.stats.Entries {
		s.Entries[k] = v
	}
	return s
}

// Close closes the file and the subscribers' channels. Entries recorded
// afterwards still reach Recent, but not the file (they count as write
// errors).
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	for s := range l.subs {
		delete(l.subs, s)
		close(s.ch)
	}
	if l.f == nil {
		return nil
	}
	var err error
	if l.opts.Sync {
		if f, ok := l.f.(*os.File); ok {
			err = fdatasync(f)
		}
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("audit: close %s: %w", l.path, err)
	}
	return nil
}
