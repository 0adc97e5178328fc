package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/renameio/v2"
	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/fsync"
)

// Mode says where clips are kept.
type Mode string

// Storage modes.
const (
	// ModeDisk keeps clips as files in the store's directory.
	ModeDisk Mode = "disk"
	// ModeRAM keeps clips in memory only, until MarkDelivered or retention
	// removes them; it never writes to disk (for SD cards, or for privacy).
	ModeRAM Mode = "ram"
)

// Default limits, used when the Options field is zero.
const (
	DefaultMaxBytesDisk int64 = 1 << 30  // 1 GiB
	DefaultMaxBytesRAM  int64 = 64 << 20 // 64 MiB
)

// Errors callers branch on. They are returned wrapped.
var (
	ErrNotFound = errors.New("clip not found")
	ErrExists   = errors.New("clip already stored")
	ErrBadID    = errors.New("bad clip id")
	ErrTooLarge = errors.New("clip larger than the store")
	ErrNoSpace  = errors.New("no space left for clip")
)

// Options configures a Store. The zero value is usable: see each field.
type Options struct {
	// Mode is ModeDisk (the default) or ModeRAM.
	Mode Mode
	// MaxBytes bounds the total size of the clips kept; the oldest are
	// evicted to make room. Default DefaultMaxBytesDisk or
	// DefaultMaxBytesRAM, by Mode.
	MaxBytes int64
	// MaxAge removes clips whose Start is older than this; 0 keeps clips
	// until MaxBytes (or MarkDelivered, in ModeRAM) removes them.
	MaxAge time.Duration
	// MinFree (ModeDisk) is how much space Put leaves free on the
	// filesystem for the rest of the daemon's state, evicting old clips to
	// keep it; 0 turns the check off (a full disk is still handled).
	MinFree int64
	// ChunkBytes is the chunk size of the CRCs in each clip's Digest,
	// MinChunkBytes to MaxChunkBytes; default DefaultChunkBytes. Give it
	// the clip transfer's chunk size (clipxfer.PublisherOptions.ChunkBytes).
	ChunkBytes int
	// Encrypter, when set, encrypts every clip Put stores, on its way to
	// the disk (streamed: the ciphertext is never held in memory beside
	// the clip) or into RAM; Meta.Encryption names it, and the digest,
	// Size and Open are of the ciphertext, which is what the clip
	// transfer sends. capture/seal's Sealer (privacy.recipients).
	Encrypter Encrypter
	Clock     clockwork.Clock // default: the real clock
	Logger    *slog.Logger    // default: slog.Default()
}

func (o Options) withDefaults() Options {
	if o.Mode == "" {
		o.Mode = ModeDisk
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytesDisk
		if o.Mode == ModeRAM {
			o.MaxBytes = DefaultMaxBytesRAM
		}
	}
	o.MaxAge = max(o.MaxAge, 0)
	o.MinFree = max(o.MinFree, 0)
	if o.ChunkBytes == 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Encrypter encrypts clips as they are stored (capture/seal.Sealer).
type Encrypter interface {
	// Name is the encryption's name, Meta.Encryption of the clips it
	// seals and their files' extension after .mp4 ("age": clip.mp4.age).
	Name() string
	// Encrypt returns a writer that encrypts into dst; its Close ends the
	// ciphertext and does not close dst.
	Encrypt(dst io.Writer) (io.WriteCloser, error)
}

// Meta describes one stored clip. It is also the clip's sidecar file and
// the payload the daemon can publish, hence the JSON names.
type Meta struct {
	ID       string    `json:"id"`                  // 1-64 of A-Z a-z 0-9 -
	EventIDs []string  `json:"event_ids,omitempty"` // the events the clip shows
	Start    time.Time `json:"start"`               // capture time of the first frame
	End      time.Time `json:"end"`                 // Start plus the clip's duration
	Frames   int       `json:"frames"`
	Codec    string    `json:"codec"` // "mjpeg" or "h264" (ffprobe's names)
	Width    int       `json:"width"`
	Height   int       `json:"height"`
	Size     int64     `json:"size"` // bytes of the MP4 file (sealed: of its ciphertext); set by Put
	// Encryption is "" for a plain MP4, or the Encrypter's name ("age")
	// when the stored file is the MP4 sealed for privacy.recipients.
	Encryption string `json:"encryption,omitempty"`
	// Audio describes the clip's sound track, e.g. "pcm_s16le 16000 Hz
	// 1ch" (codec as ffprobe names it, rate, channels); "" for a clip
	// without sound.
	Audio string `json:"audio,omitempty"`
	// Digest is set by Put. A clip stored before digests existed has none
	// until Store.Digest computes it.
	Digest *Digest `json:"digest,omitempty"`
}

// Duration returns End - Start.
func (m Meta) Duration() time.Duration { return m.End.Sub(m.Start) }

func (m Meta) clone() Meta {
	m.EventIDs = slices.Clone(m.EventIDs)
	m.Digest = m.Digest.clone()
	return m
}

// Stats are a Store's counters.
type Stats struct {
	Mode     Mode
	Clips    int   // clips held
	Bytes    int64 // their total size
	MaxBytes int64
	// FreeBytes is the space available on the directory's filesystem, or
	// -1 in ModeRAM or when it cannot be read.
	FreeBytes   int64
	Evicted     uint64 // clips removed by retention or to make room
	Undelivered uint64 // of those, in ModeRAM, clips never marked delivered
	WriteErrors uint64 // failed Puts
}

// Store holds clips. Its methods are safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	log  *slog.Logger
	clk  clockwork.Clock

	putMu sync.Mutex // serialises Put, so space checks and writes do not interleave

	mu      sync.Mutex
	byID    map[string]*entry
	order   []*entry // oldest first (by Start, then ID)
	bytes   int64
	stats   Stats         // counters only
	changed chan struct{} // wakes Run after a Put; capacity 1

	// Test hooks (nil in production).
	write        func(path string, data []byte) error // replaces writeAtomic
	beforeRename func(path string)                    // between temp file fsync and rename
}

// entry is one clip in the index.
type entry struct {
	meta Meta
	base string // file name without extension (ModeDisk)
	ext  string // the clip file's extension: ".mp4", or ".mp4.age" when sealed (ModeDisk)
	data []byte // the MP4, or its ciphertext (ModeRAM)
}

// File names: <start, UTC, ms>_<id>.mp4 and .json; renameio's temporary
// files are "." + name + random digits.
const (
	timeLayout = "20060102T150405.000Z"
	extMP4     = ".mp4"
	extJSON    = ".json"
	filePerm   = 0o640
	dirPerm    = 0o750
)

var (
	idRE   = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	encRE  = regexp.MustCompile(`^[a-z0-9]{1,16}$`) // an Encrypter's name
	tempRE = regexp.MustCompile(`^\.(\d{8}T\d{6}\.\d{3}Z_[A-Za-z0-9-]{1,64})\.(mp4|json|mp4\.[a-z0-9]{1,16})\d+$`)
)

// ValidID reports whether s can be a clip id: 1-64 of A-Z a-z 0-9 -,
// safe as a file name and as an MQTT topic level.
func ValidID(s string) bool { return idRE.MatchString(s) }

// BaseName returns the file name, without extension, of clip id started at
// start: <start, UTC, ms>_<id>. Receivers store clips under it too.
func BaseName(id string, start time.Time) string { return baseName(id, start) }

// baseName returns the file name, without extension, of a clip.
func baseName(id string, start time.Time) string {
	return start.UTC().Format(timeLayout) + "_" + id
}

// parseBase parses a name made by baseName.
func parseBase(base string) (id string, start time.Time, ok bool) {
	ts, id, found := strings.Cut(base, "_")
	if !found || !idRE.MatchString(id) || len(ts) != len(timeLayout) {
		return "", time.Time{}, false
	}
	start, err := time.Parse(timeLayout, ts)
	if err != nil || start.Format(timeLayout) != ts { // time.Parse also takes "," for "."
		return "", time.Time{}, false
	}
	return id, start, true
}

// Open returns the store in dir (ModeDisk; created if missing), with the
// index rebuilt from the files there: leftover temporary files and sidecars
// without their MP4 are removed, and retention is applied at once. Files
// that are not the store's are left alone. In ModeRAM dir is not touched
// (it may be ""), and the store starts empty. Open starts nothing: call
// Run to expire clips by age.
func Open(dir string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	s := &Store{
		dir:     dir,
		opts:    opts,
		log:     opts.Logger,
		clk:     opts.Clock,
		byID:    make(map[string]*entry),
		changed: make(chan struct{}, 1),
	}
	s.stats.Mode = opts.Mode
	s.stats.MaxBytes = opts.MaxBytes
	if opts.ChunkBytes < MinChunkBytes || opts.ChunkBytes > MaxChunkBytes {
		return nil, fmt.Errorf("storage: open %s: ChunkBytes %d: want %d to %d, or 0 for %d", dir, opts.ChunkBytes, MinChunkBytes, MaxChunkBytes, DefaultChunkBytes)
	}
	switch opts.Mode {
	case ModeRAM:
		return s, nil
	case ModeDisk:
	default:
		return nil, fmt.Errorf("storage: open %s: unknown mode %q (want %q or %q)", dir, opts.Mode, ModeDisk, ModeRAM)
	}
	if dir == "" {
		return nil, fmt.Errorf("storage: open: mode %s needs a directory", ModeDisk)
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	if err := s.scan(); err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	s.mu.Lock()
	s.pruneLocked(0)
	s.mu.Unlock()
	return s, nil
}

// scan rebuilds the index from the directory.
func (s *Store) scan() error {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	type files struct {
		mp4  string // the clip file's extension, "" if there is none
		json bool
	}
	found := make(map[string]*files)
	var bases []string
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() {
			continue
		}
		if tempRE.MatchString(name) {
			s.log.Info("storage: removing unfinished write", "file", name)
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				s.log.Warn("storage: remove unfinished write", "file", name, "err", err)
			}
			continue
		}
		ext := clipExt(name)
		base := strings.TrimSuffix(name, ext)
		if ext == "" {
			continue
		}
		if _, _, ok := parseBase(base); !ok {
			continue
		}
		f := found[base]
		if f == nil {
			f = &files{}
			found[base] = f
			bases = append(bases, base)
		}
		switch {
		case ext == extJSON:
			f.json = true
		case f.mp4 != "":
			s.log.Warn("storage: skipping a second file of one clip", "file", name, "kept", base+f.mp4)
		default:
			f.mp4 = ext
		}
	}
	for _, base := range bases {
		f := found[base]
		if f.mp4 == "" {
			// The sidecar is written first: the MP4 never made it.
			s.log.Info("storage: removing sidecar of an unfinished clip", "file", base+extJSON)
			if err := os.Remove(filepath.Join(s.dir, base+extJSON)); err != nil {
				s.log.Warn("storage: remove sidecar", "file", base+extJSON, "err", err)
			}
			continue
		}
		e, err := s.load(base, f.mp4, f.json)
		if err != nil {
			s.log.Warn("storage: skipping clip", "file", base+f.mp4, "err", err)
			continue
		}
		if _, dup := s.byID[e.meta.ID]; dup {
			s.log.Warn("storage: skipping clip with a duplicate id", "file", base+f.mp4)
			continue
		}
		s.insertLocked(e)
	}
	return nil
}

// load reads one clip's metadata: the sidecar if there is a good one, else
// what the file name and size say.
func (s *Store) load(base, ext string, hasJSON bool) (*entry, error) {
	id, start, _ := parseBase(base)
	fi, err := os.Stat(filepath.Join(s.dir, base+ext))
	if err != nil {
		return nil, err
	}
	m := Meta{ID: id, Start: start, End: start}
	if hasJSON {
		var j Meta
		b, err := os.ReadFile(filepath.Join(s.dir, base+extJSON))
		switch {
		case err != nil:
			s.log.Warn("storage: read sidecar", "file", base+extJSON, "err", err)
		case json.Unmarshal(b, &j) != nil || j.ID != id:
			s.log.Warn("storage: ignoring bad sidecar", "file", base+extJSON)
		default:
			m = j
		}
	} else {
		s.log.Warn("storage: clip has no sidecar; keeping it with what its name says", "file", base+ext)
	}
	m.Size = fi.Size()
	m.Encryption = strings.TrimPrefix(strings.TrimPrefix(ext, extMP4), ".") // the file says, not the sidecar
	if m.Digest != nil {
		if err := m.Digest.check(m.Size); err != nil {
			// Computed again when it is needed (Store.Digest).
			s.log.Warn("storage: ignoring the sidecar's digest", "file", base+extJSON, "err", err)
			m.Digest = nil
		}
	}
	return &entry{meta: m, base: base, ext: ext}, nil
}

// clipExt returns the extension of a file of the store: extJSON, extMP4,
// or extMP4 plus an encryption's (".mp4.age"); "" for any other name.
func clipExt(name string) string {
	switch ext := filepath.Ext(name); ext {
	case extJSON, extMP4:
		return ext
	case "":
		return ""
	default:
		if rest := strings.TrimSuffix(name, ext); filepath.Ext(rest) == extMP4 && encRE.MatchString(ext[1:]) {
			return extMP4 + ext
		}
	}
	return ""
}

// insertLocked adds e to the index, keeping order sorted.
func (s *Store) insertLocked(e *entry) {
	i, _ := slices.BinarySearchFunc(s.order, e, func(a, b *entry) int {
		if c := a.meta.Start.Compare(b.meta.Start); c != 0 {
			return c
		}
		return strings.Compare(a.meta.ID, b.meta.ID)
	})
	s.order = slices.Insert(s.order, i, e)
	s.byID[e.meta.ID] = e
	s.bytes += e.meta.Size
}

// Put stores a clip: data is its MP4 file, m its metadata (m.Size and
// m.Digest are set from data). It first evicts the oldest clips as
// retention requires to make room. In ModeDisk the clip is durable when
// Put returns nil, and data is not retained; on a full disk Put evicts
// the oldest clip and retries until it fits or nothing is left
// (ErrNoSpace). In ModeRAM Put keeps data itself: the caller must not
// modify it afterwards.
func (s *Store) Put(m Meta, data []byte) error {
	if !idRE.MatchString(m.ID) {
		return fmt.Errorf("storage: put %q: %w (want 1-64 of A-Z a-z 0-9 -)", m.ID, ErrBadID)
	}
	m = m.clone()
	m.Size = int64(len(data))
	m.Encryption = ""
	enc := s.opts.Encrypter
	if enc != nil {
		m.Encryption = enc.Name()
		m.Size = sealedSize(m.Size)
	}
	if m.Size > s.opts.MaxBytes {
		s.countWriteError()
		return fmt.Errorf("storage: put %s: %d bytes, max_bytes is %d: %w", m.ID, m.Size, s.opts.MaxBytes, ErrTooLarge)
	}
	switch {
	case enc != nil && s.opts.Mode == ModeRAM:
		sealed, err := s.sealBytes(data)
		if err != nil {
			s.countWriteError()
			return fmt.Errorf("storage: put %s: %w", m.ID, err)
		}
		data = sealed
		m.Size = int64(len(data))
		fallthrough
	case enc == nil:
		d := digestBytes(data, s.opts.ChunkBytes) // before the lock: other Puts need not wait for it
		m.Digest = &d
	}
	// A sealed clip on disk gets its Size and Digest as it is written.
	s.putMu.Lock()
	defer s.putMu.Unlock()

	s.mu.Lock()
	if _, ok := s.byID[m.ID]; ok {
		s.mu.Unlock()
		return fmt.Errorf("storage: put %s: %w", m.ID, ErrExists)
	}
	s.pruneLocked(m.Size)
	s.mu.Unlock()

	e := &entry{meta: m, ext: extMP4}
	if m.Encryption != "" {
		e.ext = extMP4 + "." + m.Encryption
	}
	if s.opts.Mode == ModeRAM {
		e.data = data
	} else {
		e.base = baseName(m.ID, m.Start)
		if err := s.putDisk(e, data); err != nil {
			s.countWriteError()
			return fmt.Errorf("storage: put %s: %w", m.ID, err)
		}
	}
	s.mu.Lock()
	s.insertLocked(e)
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

func (s *Store) countWriteError() {
	s.mu.Lock()
	s.stats.WriteErrors++
	s.mu.Unlock()
}

// putDisk writes e's sidecar and MP4, making room on a full disk.
func (s *Store) putDisk(e *entry, data []byte) error {
	s.keepFree(e.meta.Size)
	for {
		var err error
		if e.meta.Encryption != "" {
			err = s.writeSealed(e, data)
		} else {
			err = s.writeClip(e, data)
		}
		if err == nil {
			return nil
		}
		if !isNoSpace(err) {
			return err
		}
		if !s.evictOldest("disk full") {
			return fmt.Errorf("%w: %w", ErrNoSpace, err)
		}
	}
}

// keepFree evicts the oldest clips until writing size bytes leaves MinFree
// free on the filesystem (or nothing is left to evict).
func (s *Store) keepFree(size int64) {
	if s.opts.MinFree <= 0 {
		return
	}
	for {
		free, err := freeBytes(s.dir)
		if err != nil || free-size >= s.opts.MinFree {
			return
		}
		if !s.evictOldest("min_free") {
			return
		}
	}
}

// writeClip writes the sidecar, then the MP4 (the commit point), then
// syncs the directory. On failure it removes what it wrote.
func (s *Store) writeClip(e *entry, data []byte) error {
	sidecar, err := json.Marshal(e.meta)
	if err != nil {
		return err
	}
	jsonPath := filepath.Join(s.dir, e.base+extJSON)
	mp4Path := filepath.Join(s.dir, e.base+e.ext)
	if err := s.writeFile(jsonPath, sidecar); err != nil {
		return err
	}
	if err := s.writeFile(mp4Path, data); err != nil {
		_ = os.Remove(jsonPath)
		return err
	}
	s.syncDir()
	return nil
}

func (s *Store) syncDir() {
	if err := fsync.Dir(s.dir); err != nil {
		// The clip is complete and visible; only its durability across a
		// power cut right now is in doubt.
		s.log.Warn("storage: sync directory", "dir", s.dir, "err", err)
	}
}

// writeSealed encrypts data into a temporary file beside the clip's,
// computing the ciphertext's size and digest on the way (into e.meta),
// then writes the sidecar, then renames the clip file into place (the
// commit point, as in writeClip) and syncs the directory.
func (s *Store) writeSealed(e *entry, data []byte) error {
	clipPath := filepath.Join(s.dir, e.base+e.ext)
	f, err := renameio.NewPendingFile(clipPath, renameio.WithTempDir(s.dir), renameio.WithPermissions(filePerm))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	dw := newDigestWriter(s.opts.ChunkBytes, e.meta.Size)
	w, err := s.opts.Encrypter.Encrypt(io.MultiWriter(f, dw))
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	d := dw.sum()
	e.meta.Digest = &d
	e.meta.Size = dw.n
	sidecar, err := json.Marshal(e.meta)
	if err != nil {
		return err
	}
	jsonPath := filepath.Join(s.dir, e.base+extJSON)
	if err := s.writeFile(jsonPath, sidecar); err != nil {
		return err
	}
	if s.beforeRename != nil {
		if err := f.Sync(); err != nil {
			_ = os.Remove(jsonPath)
			return err
		}
		s.beforeRename(clipPath)
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		_ = os.Remove(jsonPath)
		return err
	}
	s.syncDir()
	return nil
}

// sealBytes returns data encrypted (ModeRAM).
func (s *Store) sealBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(sealedSize(int64(len(data)))))
	w, err := s.opts.Encrypter.Encrypt(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sealedSize bounds the size of n bytes sealed: age adds a header (well
// under 4 KiB for a few recipients) and 16 bytes per 64 KiB chunk. Put
// makes room for this much before it knows the real size.
func sealedSize(n int64) int64 { return n + (n/(64<<10)+1)*16 + 4<<10 }

func (s *Store) writeFile(path string, data []byte) error {
	if s.write != nil {
		return s.write(path, data)
	}
	return s.writeAtomic(path, data)
}

// writeAtomic writes data to a temporary file beside path, fsyncs it and
// renames it to path.
func (s *Store) writeAtomic(path string, data []byte) error {
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(s.dir), renameio.WithPermissions(filePerm))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if s.beforeRename != nil {
		if err := f.Sync(); err != nil {
			return err
		}
		s.beforeRename(path)
	}
	return f.CloseAtomicallyReplace()
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// evictOldest removes the oldest clip; false if there is none.
func (s *Store) evictOldest(reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return false
	}
	s.evictLocked(s.order[0], reason)
	return true
}

// pruneLocked evicts clips past MaxAge, then the oldest until incoming
// more bytes fit within MaxBytes.
func (s *Store) pruneLocked(incoming int64) {
	if s.opts.MaxAge > 0 {
		cutoff := s.clk.Now().Add(-s.opts.MaxAge)
		for len(s.order) > 0 && !s.order[0].meta.Start.After(cutoff) {
			s.evictLocked(s.order[0], "max_age")
		}
	}
	for len(s.order) > 0 && s.bytes+incoming > s.opts.MaxBytes {
		s.evictLocked(s.order[0], "max_bytes")
	}
}

// evictLocked removes e from the index and, in ModeDisk, its files.
func (s *Store) evictLocked(e *entry, reason string) {
	undelivered := s.opts.Mode == ModeRAM
	s.removeLocked(e)
	s.stats.Evicted++
	if undelivered {
		s.stats.Undelivered++
		s.log.Warn("storage: evicted a clip that was never delivered", "id", e.meta.ID, "reason", reason)
		return
	}
	s.log.Info("storage: evicted clip", "id", e.meta.ID, "start", e.meta.Start, "reason", reason)
}

// removeLocked removes e from the index and its files (MP4 first: from then
// on the clip no longer exists).
func (s *Store) removeLocked(e *entry) {
	i := slices.Index(s.order, e)
	s.order = slices.Delete(s.order, i, i+1)
	delete(s.byID, e.meta.ID)
	s.bytes -= e.meta.Size
	e.data = nil
	if s.opts.Mode != ModeDisk {
		return
	}
	for _, ext := range []string{e.ext, extJSON} {
		if err := os.Remove(filepath.Join(s.dir, e.base+ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("storage: remove clip file", "file", e.base+ext, "err", err)
		}
	}
	if err := fsync.Dir(s.dir); err != nil {
		s.log.Warn("storage: sync directory", "dir", s.dir, "err", err)
	}
}

// List returns the metadata of every clip held, oldest first.
func (s *Store) List() []Meta {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Meta, len(s.order))
	for i, e := range s.order {
		out[i] = e.meta.clone()
	}
	return out
}

// Lookup returns the metadata of clip id.
func (s *Store) Lookup(id string) (Meta, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return Meta{}, false
	}
	return e.meta.clone(), true
}

// Open returns the stored file of clip id, the MP4 or, for a sealed clip
// (Meta.Encryption), its ciphertext; the caller must close it. A clip
// removed while it is open stays readable until it is closed.
func (s *Store) Open(id string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("storage: open %q: %w", id, ErrNotFound)
	}
	if s.opts.Mode == ModeRAM {
		return ramClip{bytes.NewReader(e.data)}, nil
	}
	f, err := openNoFollow(filepath.Join(s.dir, e.base+e.ext))
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", id, err)
	}
	return f, nil
}

// ramClip is a clip held in RAM, opened: like the *os.File of a clip on
// disk it seeks and reads at offsets (io.ReaderAt), which a sealed clip's
// random-access decryption needs.
type ramClip struct{ *bytes.Reader }

func (ramClip) Close() error { return nil }

// Delete removes clip id.
func (s *Store) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("storage: delete %q: %w", id, ErrNotFound)
	}
	s.removeLocked(e)
	return nil
}

// DeleteAll removes every clip, for "delete all recordings", and returns
// how many it removed. A clip being stored meanwhile is stored after it.
func (s *Store) DeleteAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.order)
	for len(s.order) > 0 {
		s.removeLocked(s.order[len(s.order)-1])
	}
	return n
}

// MarkDelivered records that clip id has reached its subscriber. In
// ModeRAM this frees the clip; in ModeDisk the clip stays until retention
// removes it.
func (s *Store) MarkDelivered(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("storage: mark delivered %q: %w", id, ErrNotFound)
	}
	if s.opts.Mode == ModeRAM {
		s.removeLocked(e)
	}
	return nil
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	st.Clips = len(s.order)
	st.Bytes = s.bytes
	s.mu.Unlock()
	st.FreeBytes = -1
	if s.opts.Mode == ModeDisk {
		if free, err := freeBytes(s.dir); err == nil {
			st.FreeBytes = free
		}
	}
	return st
}

// maxPruneWait bounds Run's sleep, so a clock step is noticed.
const maxPruneWait = time.Hour

// Run removes clips as they pass MaxAge, until ctx is done; it returns
// nil. Without MaxAge it only waits for ctx.
func (s *Store) Run(ctx context.Context) error {
	for {
		wait := maxPruneWait
		if s.opts.MaxAge > 0 {
			s.mu.Lock()
			s.pruneLocked(0)
			if len(s.order) > 0 {
				wait = min(wait, s.order[0].meta.Start.Add(s.opts.MaxAge).Sub(s.clk.Now()))
			}
			s.mu.Unlock()
		}
		t := s.clk.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.Chan():
		case <-s.changed:
			t.Stop()
		}
	}
}
