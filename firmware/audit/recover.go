package audit

import (
	"errors"
	"fmt"
	"os"
)

// fileScan is what one pass over a log file found.
type fileScan struct {
	found    bool    // at least one good line
	last     Entry   // the last good line
	lastHash string  // its hash
	goodEnd  int64   // offset just after it
	size     int64   // bytes read
	bad      int     // lines before the last good one that are not entries
	tail     []Entry // the last good entries, oldest first, at most keep
}

// scanFile reads the log file name, keeping its last keep entries.
func scanFile(name string, keep int) (fileScan, error) {
	var s fileScan
	fi, err := os.Stat(name)
	if err != nil {
		return s, err
	}
	if !fi.Mode().IsRegular() {
		// Opening a FIFO would block, reading a device may never end.
		return s, fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
	}
	f, err := os.Open(name)
	if err != nil {
		return s, err
	}
	defer f.Close()
	ring := make([]Entry, keep)
	next, count, pending := 0, 0, 0
	err = scanLines(f, func(l line) error {
		s.size = l.end
		e, err := parseLine(l.text)
		if l.tooLong || !l.complete || err != nil {
			pending++
			return nil
		}
		s.bad += pending
		pending = 0
		s.found, s.last, s.lastHash, s.goodEnd = true, e, hashLine(l.text), l.end
		if keep > 0 {
			ring[next] = e
			next = (next + 1) % keep
			count = min(count+1, keep)
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	for i := count; i > 0; i-- {
		s.tail = append(s.tail, ring[(next-i+keep)%keep])
	}
	return s, nil
}

// recover reads the existing files at Open: cuts a torn end off the
// current file, takes Seq and the chain from the newest good line, and
// refills Recent, newest first.
func (l *Log) recover() error {
	files, err := logFiles(l.path)
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", l.path, err)
	}
	need := len(l.recent)
	var chained bool
	var got [][]Entry // per file, oldest first; files newest first
	for i, name := range files {
		if chained && need == 0 {
			break
		}
		s, err := scanFile(name, need)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("audit: open %s: read: %w", name, err)
		}
		if s.bad > 0 {
			l.opts.Logger.Warn("audit: log file holds lines that are not audit entries; kept as they are, Verify will report them",
				"file", name, "lines", s.bad)
		}
		if i == 0 && s.size > s.goodEnd {
			l.opts.Logger.Warn("audit: cutting a torn line off the end of the log (power cut mid-write?)",
				"file", name, "bytes", s.size-s.goodEnd, "after_seq", s.last.Seq)
			if err := os.Truncate(name, s.goodEnd); err != nil {
				return fmt.Errorf("audit: open %s: cut torn line: %w", name, err)
			}
		}
		if s.found && !chained {
			l.seq, l.prev, chained = s.last.Seq, s.lastHash, true
		}
		got = append(got, s.tail)
		need -= len(s.tail)
	}
	for i := len(got) - 1; i >= 0; i-- {
		for _, e := range got[i] {
			l.remember(e)
		}
	}
	return nil
}
