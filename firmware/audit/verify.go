package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// maxLine bounds the bytes of one line read back from a log file. Record
// writes far less (every string field is at most MaxField bytes, six
// times that when escaped); a longer line is damage, not an entry.
const maxLine = 64 << 10

// ErrChain is wrapped by the errors of Verify and VerifyFiles when the log
// does not hold together (a line edited, removed, reordered or torn), as
// opposed to an error reading it.
var ErrChain = errors.New("hash chain broken")

// line is one line of a log file as scanLines saw it.
type line struct {
	no       int    // 1-based
	text     []byte // without the newline; only valid until the next line
	complete bool   // ended with a newline
	tooLong  bool   // longer than maxLine; text is empty
	end      int64  // offset just after the line (and its newline)
}

// scanLines calls fn for each line read from r, the last one incomplete
// when r does not end with a newline. Lines longer than maxLine are
// skipped over and reported with tooLong. fn's error stops the scan and
// is returned.
func scanLines(r io.Reader, fn func(line) error) error {
	br := bufio.NewReaderSize(r, maxLine)
	var off int64
	for no := 1; ; no++ {
		b, err := br.ReadSlice('\n')
		l := line{no: no, text: b}
		off += int64(len(b))
		if errors.Is(err, bufio.ErrBufferFull) {
			l.tooLong, l.text = true, nil
			for errors.Is(err, bufio.ErrBufferFull) {
				b, err = br.ReadSlice('\n')
				off += int64(len(b))
			}
		}
		if err != nil && err != io.EOF {
			return err
		}
		l.end = off
		l.complete = err == nil
		if l.complete && !l.tooLong {
			l.text = l.text[:len(l.text)-1]
		}
		if err == io.EOF && len(b) == 0 && !l.tooLong {
			return nil
		}
		if ferr := fn(l); ferr != nil {
			return ferr
		}
		if err == io.EOF {
			return nil
		}
	}
}

// parseLine decodes one line of a log file; it fails for anything Record
// cannot have written: not JSON, not an object, trailing bytes, seq 0.
func parseLine(text []byte) (Entry, error) {
	var e Entry
	d := json.NewDecoder(bytes.NewReader(text))
	if err := d.Decode(&e); err != nil {
		return Entry{}, err
	}
	if d.More() {
		return Entry{}, errors.New("bytes after the entry")
	}
	if e.Seq == 0 {
		return Entry{}, errors.New("no seq")
	}
	return e, nil
}

// Verify checks the hash chain of a log read from r: every line must be an
// entry whose Prev is the hex SHA-256 of the line before it (prev for the
// first line: "" when r starts at the very first entry, else the hash of
// the line before r's start), and Seq must grow from line to line (it may
// jump: an entry whose write failed is left out of the file, and the chain
// skips it). It returns the hash of the last line, to compare with the
// head the daemon reports (Stats.Head) or to continue with the next file,
// and the number of lines checked. An error wraps ErrChain and names the
// line where the chain breaks: a line edited breaks it at the next line, a
// line removed at the line after the gap. An edit of the last line shows
// only as a last hash different from the head.
func Verify(r io.Reader, prev string) (last string, n int, err error) {
	last = prev
	var seq uint64
	err = scanLines(r, func(l line) error {
		if l.tooLong {
			return fmt.Errorf("audit: verify: line %d: longer than %d bytes: %w", l.no, maxLine, ErrChain)
		}
		if !l.complete {
			return fmt.Errorf("audit: verify: line %d: torn (no newline at the end): %w", l.no, ErrChain)
		}
		e, err := parseLine(l.text)
		if err != nil {
			return fmt.Errorf("audit: verify: line %d: not an audit entry (%v): %w", l.no, err, ErrChain)
		}
		if e.Prev != last {
			if l.no == 1 {
				return fmt.Errorf("audit: verify: line 1: prev %q is not the start given, %q: %w", short(e.Prev), short(last), ErrChain)
			}
			return fmt.Errorf("audit: verify: line %d (seq %d): prev %q is not the hash of line %d (seq %d), %q: line %d edited, or lines removed or reordered between them: %w",
				l.no, e.Seq, short(e.Prev), l.no-1, seq, short(last), l.no-1, ErrChain)
		}
		if l.no > 1 && e.Seq <= seq {
			return fmt.Errorf("audit: verify: line %d: seq %d does not follow seq %d: %w", l.no, e.Seq, seq, ErrChain)
		}
		last, seq, n = hashLine(l.text), e.Seq, n+1
		return nil
	})
	if err != nil && !errors.Is(err, ErrChain) {
		err = fmt.Errorf("audit: verify: read after line %d: %w", n, err)
	}
	return last, n, err
}

// short cuts a hash for an error message.
func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// VerifyFiles checks the chain through the log at path and its rotated
// files (path.N, oldest first, then path). The files older than the oldest
// kept were removed by rotation, so the oldest file's first line is taken
// as the start, unless it is seq 1, which must have Prev "". Errors name
// the file.
func VerifyFiles(path string) (last string, n int, err error) {
	files, err := logFiles(path)
	if err != nil {
		return "", 0, fmt.Errorf("audit: verify %s: %w", path, err)
	}
	first := true
	for i := len(files) - 1; i >= 0; i-- {
		f, err := os.Open(files[i])
		if err != nil {
			if i == 0 && errors.Is(err, os.ErrNotExist) {
				break // crashed between rotating and creating the new file
			}
			return last, n, fmt.Errorf("audit: verify: %w", err)
		}
		if first {
			last, err = startOf(f)
			if err == nil {
				_, err = f.Seek(0, io.SeekStart)
			}
			if err != nil {
				f.Close()
				return last, n, fmt.Errorf("audit: verify %s: %w", files[i], err)
			}
			first = false
		}
		var k int
		last, k, err = Verify(f, last)
		f.Close()
		n += k
		if err != nil {
			return last, n, fmt.Errorf("%s: %w", files[i], err)
		}
	}
	return last, n, nil
}

// startOf is the Prev the first line of r must have when r is the oldest
// file kept: "" for seq 1, else whatever it says.
func startOf(r io.Reader) (string, error) {
	var prev string
	err := scanLines(r, func(l line) error {
		if e, err := parseLine(l.text); err == nil && e.Seq != 1 {
			prev = e.Prev
		}
		return io.EOF
	})
	if err == io.EOF {
		err = nil
	}
	return prev, err
}

// logFiles lists path and its rotated files, newest first: path, path.1,
// path.2, ... by number (path itself even when it does not exist).
func logFiles(path string) ([]string, error) {
	nums, err := rotated(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	for _, n := range nums {
		files = append(files, path+"."+strconv.Itoa(n))
	}
	return files, nil
}

// rotated returns the numbers N of the files path.N that exist, ascending.
func rotated(path string) ([]int, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var nums []int
	for _, de := range ents {
		rest, ok := strings.CutPrefix(de.Name(), base+".")
		if !ok || rest == "" || rest[0] == '0' || strings.TrimLeft(rest, "0123456789") != "" {
			continue
		}
		if n, err := strconv.Atoi(rest); err == nil {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	return nums, nil
}
