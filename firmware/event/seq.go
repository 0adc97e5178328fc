package event

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/renameio/v2"
)

// seqBlock is how many sequence numbers are reserved on disk at a time.
// A restart skips the unused rest of a block, so seq is monotonic but not
// contiguous; one fsync per block keeps the SD card and the press path
// free of per-event writes.
const seqBlock = 100

// ErrSeqCorrupt means the sequence file held no number. OpenSeq then
// still returns a usable Seq, restarted from the current Unix time in
// milliseconds, which is above any count a doorbell reaches by presses.
var ErrSeqCorrupt = errors.New("sequence file corrupt")

// Seq hands out per-device sequence numbers that only ever grow, across
// restarts and power cuts. It is safe for concurrent use. The next block
// is reserved on disk in the background when half the current one is
// used, so Next does no I/O in steady state.
type Seq struct {
	mu        sync.Mutex
	path      string
	next      uint64
	reserved  uint64 // numbers below this are promised on disk
	extending bool   // a background reserve is running
	lastErr   error  // of the last background reserve

	wmu    sync.Mutex // serialises writes; never held while taking mu
	onDisk uint64     // the value in the file
}

// OpenSeq reads the counter kept in dir (file "seq"), creating it if absent.
func OpenSeq(dir string) (*Seq, error) {
	p := filepath.Join(dir, "seq")
	s := &Seq{path: p}
	var warn error
	b, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.next = 1
	case err != nil:
		return nil, fmt.Errorf("event: read sequence %s: %w", p, err)
	default:
		n, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil {
			s.next = uint64(time.Now().UnixMilli())
			warn = fmt.Errorf("event: sequence file %s: %q is not a number, restarting at %d: %w", p, b, s.next, ErrSeqCorrupt)
		} else {
			s.next = n
		}
	}
	if s.next == 0 {
		s.next = 1
	}
	if err := s.write(s.next + seqBlock); err != nil {
		return nil, err
	}
	s.reserved = s.next + seqBlock
	return s, warn
}

// write promises every number below end, atomically and durably. Writes
// are serialised and the file only ever grows.
func (s *Seq) write(end uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if end <= s.onDisk {
		return nil
	}
	if err := renameio.WriteFile(s.path, []byte(strconv.FormatUint(end, 10)+"\n"), 0o644); err != nil {
		return fmt.Errorf("event: write sequence %s: %w", s.path, err)
	}
	s.onDisk = end
	return nil
}

// extend reserves the block after end in the background.
func (s *Seq) extend(end uint64) {
	err := s.write(end)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extending = false
	s.lastErr = err
	if err == nil && end > s.reserved {
		s.reserved = end
	}
}

// Next returns the next sequence number. If the counter cannot be written
// it still returns a number (never a repeated one within this run) and the
// error.
func (s *Seq) Next() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.lastErr
	s.lastErr = nil
	if s.next >= s.reserved {
		// The background reserve fell behind (or failed): write now.
		end := s.next + seqBlock
		if werr := s.write(end); werr != nil {
			err = werr
		} else {
			s.reserved = end
		}
	} else if !s.extending && s.reserved-s.next <= seqBlock/2 {
		s.extending = true
		go s.extend(s.reserved + seqBlock)
	}
	n := s.next
	s.next++
	return n, err
}
