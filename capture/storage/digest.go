package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// Chunk sizes of a Digest's CRCs.
const (
	// DefaultChunkBytes is clipxfer's default chunk size (a test there
	// checks that the two agree), so that the clip transfer finds every
	// clip's CRCs ready.
	DefaultChunkBytes = 256 << 10
	MinChunkBytes     = 1 << 10
	MaxChunkBytes     = 16 << 20
)

// Digest is a clip's checksums, computed by Put from the bytes it stores,
// so that nothing has to read the clip back to learn them: the sha256 of
// the whole MP4 and the CRC-32C (Castagnoli) of each chunk of ChunkBytes,
// which is what a clip transfer's manifest lists (firmware/clipxfer).
type Digest struct {
	SHA256     string   `json:"sha256"`      // of the whole MP4, lowercase hex
	ChunkBytes int      `json:"chunk_bytes"` // bytes per chunk; the last one may be shorter
	CRC32C     []uint32 `json:"crc32c"`      // of each chunk, in order
}

// Chunks is how many chunks of chunkBytes (> 0) a clip of size bytes has.
func Chunks(size int64, chunkBytes int) int {
	return int((size + int64(chunkBytes) - 1) / int64(chunkBytes))
}

func (d *Digest) clone() *Digest {
	if d == nil {
		return nil
	}
	c := *d
	c.CRC32C = slices.Clone(d.CRC32C)
	return &c
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check reports what is wrong with d as the digest of size bytes.
func (d *Digest) check(size int64) error {
	switch {
	case !hex64.MatchString(d.SHA256):
		return fmt.Errorf("sha256 %q: want 64 lowercase hex digits", d.SHA256)
	case d.ChunkBytes < MinChunkBytes || d.ChunkBytes > MaxChunkBytes:
		return fmt.Errorf("chunk_bytes %d: want %d to %d", d.ChunkBytes, MinChunkBytes, MaxChunkBytes)
	case len(d.CRC32C) != Chunks(size, d.ChunkBytes):
		return fmt.Errorf("%d CRCs for %d bytes in chunks of %d, want %d", len(d.CRC32C), size, d.ChunkBytes, Chunks(size, d.ChunkBytes))
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// digester computes a Digest chunk by chunk.
type digester struct {
	h hash.Hash
	d Digest
}

func newDigester(chunkBytes int, size int64) *digester {
	return &digester{h: sha256.New(), d: Digest{ChunkBytes: chunkBytes, CRC32C: make([]uint32, 0, Chunks(size, chunkBytes))}}
}

// add takes the next chunk.
func (g *digester) add(chunk []byte) {
	g.h.Write(chunk)
	g.d.CRC32C = append(g.d.CRC32C, crc32.Checksum(chunk, castagnoli))
}

func (g *digester) sum() Digest {
	g.d.SHA256 = hex.EncodeToString(g.h.Sum(nil))
	return g.d
}

// digestBytes computes the digest of data in memory.
func digestBytes(data []byte, chunkBytes int) Digest {
	g := newDigester(chunkBytes, int64(len(data)))
	for off := 0; off < len(data); off += chunkBytes {
		g.add(data[off:min(off+chunkBytes, len(data))])
	}
	return g.sum()
}

// digestReader reads r, which must hold size bytes, for its digest.
func digestReader(ctx context.Context, r io.Reader, size int64, chunkBytes int) (Digest, error) {
	g := newDigester(chunkBytes, size)
	buf := make([]byte, chunkBytes)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return Digest{}, err
		}
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			g.add(buf[:k])
			n += int64(k)
		}
		if n > size {
			break
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return Digest{}, fmt.Errorf("read at %d: %w", n, err)
		}
	}
	if n != size {
		return Digest{}, fmt.Errorf("read %d bytes, the clip's size is %d", n, size)
	}
	return g.sum(), nil
}

// Digest returns the digest of clip id for chunks of chunkBytes: the one
// Put computed, unless the clip was stored before digests existed or for
// another chunk size. Then Digest reads the clip once, computes it and
// keeps it in the clip's metadata in place of the old one, in ModeDisk in
// its sidecar too, so that no later call reads the clip again, after a
// restart either. ctx stops that read.
func (s *Store) Digest(ctx context.Context, id string, chunkBytes int) (Digest, error) {
	if chunkBytes < MinChunkBytes || chunkBytes > MaxChunkBytes {
		return Digest{}, fmt.Errorf("storage: digest %q: chunk size %d: want %d to %d", id, chunkBytes, MinChunkBytes, MaxChunkBytes)
	}
	s.mu.Lock()
	e, ok := s.byID[id]
	if !ok {
		s.mu.Unlock()
		return Digest{}, fmt.Errorf("storage: digest %q: %w", id, ErrNotFound)
	}
	if d := e.meta.Digest; d != nil && d.ChunkBytes == chunkBytes {
		c := d.clone()
		s.mu.Unlock()
		return *c, nil
	}
	size := e.meta.Size
	s.mu.Unlock()

	rc, err := s.Open(id)
	if err != nil {
		return Digest{}, err
	}
	d, err := digestReader(ctx, rc, size, chunkBytes)
	rc.Close()
	if err != nil {
		return Digest{}, fmt.Errorf("storage: digest %s: %w", id, err)
	}
	s.keepDigest(id, e, d)
	return *d.clone(), nil
}

// keepDigest records d in the metadata of clip id (index entry e) and, in
// ModeDisk, rewrites its sidecar. A clip removed meanwhile keeps nothing.
func (s *Store) keepDigest(id string, e *entry, d Digest) {
	s.putMu.Lock() // no Put (of the same id, after a Delete) meanwhile
	defer s.putMu.Unlock()
	s.mu.Lock()
	if s.byID[id] != e {
		s.mu.Unlock()
		return
	}
	e.meta.Digest = d.clone()
	m := e.meta.clone()
	s.mu.Unlock()
	if s.opts.Mode != ModeDisk {
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		s.log.Warn("storage: keep digest", "id", id, "err", err)
		return
	}
	// Not fsynced into the directory: a sidecar lost to a power cut only
	// costs computing the digest once more.
	path := filepath.Join(s.dir, e.base+extJSON)
	if err := s.writeFile(path, b); err != nil {
		s.log.Warn("storage: keep digest in sidecar", "file", e.base+extJSON, "err", err)
		return
	}
	s.mu.Lock()
	gone := s.byID[id] != e
	s.mu.Unlock()
	if gone { // deleted while the sidecar was written: leave no orphan
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("storage: remove sidecar", "file", e.base+extJSON, "err", err)
		}
	}
}

// digestWriter computes a Digest of what is written to it, chunk by chunk.
type digestWriter struct {
	g   *digester
	buf []byte // the unfinished chunk
	n   int64  // bytes written
}

func newDigestWriter(chunkBytes int, sizeHint int64) *digestWriter {
	return &digestWriter{g: newDigester(chunkBytes, sizeHint), buf: make([]byte, 0, chunkBytes)}
}

func (w *digestWriter) Write(p []byte) (int, error) {
	n := len(p)
	w.n += int64(n)
	for len(p) > 0 {
		k := min(cap(w.buf)-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == cap(w.buf) {
			w.g.add(w.buf)
			w.buf = w.buf[:0]
		}
	}
	return n, nil
}

func (w *digestWriter) sum() Digest {
	if len(w.buf) > 0 {
		w.g.add(w.buf)
		w.buf = w.buf[:0]
	}
	return w.g.sum()
}
