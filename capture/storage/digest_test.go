package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// refDigest computes the digest of data the plain way, for the tests to
// hold the store's against.
func refDigest(data []byte, chunk int) *Digest {
	sum := sha256.Sum256(data)
	d := &Digest{SHA256: hex.EncodeToString(sum[:]), ChunkBytes: chunk, CRC32C: []uint32{}}
	for off := 0; off < len(data); off += chunk {
		d.CRC32C = append(d.CRC32C, crc32.Checksum(data[off:min(off+chunk, len(data))], crc32.MakeTable(crc32.Castagnoli)))
	}
	return d
}

// sidecar reads the sidecar of the i-th test clip in dir.
func sidecar(t *testing.T, dir string, i int) Meta {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, baseName(meta(i).ID, meta(i).Start)+extJSON))
	if err != nil {
		t.Fatal(err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("sidecar of clip %d: %v", i, err)
	}
	return m
}

// Put computes the digest from the bytes it stores, for the store's chunk
// size, and keeps it: in the index, and in ModeDisk in the sidecar.
func TestPutComputesDigest(t *testing.T) {
	const chunk = MinChunkBytes
	for _, mode := range []Mode{ModeDisk, ModeRAM} {
		for i, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 3*chunk + 7} {
			t.Run(fmt.Sprintf("%s/%d bytes", mode, size), func(t *testing.T) {
				dir := t.TempDir()
				s := open(t, dir, Options{Mode: mode, ChunkBytes: chunk})
				data := clipData(size)
				if err := s.Put(meta(i), data); err != nil {
					t.Fatal(err)
				}
				want := refDigest(data, chunk)
				m, _ := s.Lookup(meta(i).ID)
				if !reflect.DeepEqual(m.Digest, want) {
					t.Fatalf("%d bytes: Digest = %+v, want %+v", size, m.Digest, want)
				}
				if d, err := s.Digest(context.Background(), meta(i).ID, chunk); err != nil || !reflect.DeepEqual(&d, want) {
					t.Errorf("Store.Digest = %+v, %v; want %+v", d, err, want)
				}
				if mode == ModeDisk {
					if got := sidecar(t, dir, i).Digest; !reflect.DeepEqual(got, want) {
						t.Errorf("sidecar digest = %+v, want %+v", got, want)
					}
				}
				// The caller's copy is its own.
				m.Digest.CRC32C = append(m.Digest.CRC32C[:0], 42)
				if m2, _ := s.Lookup(meta(i).ID); !reflect.DeepEqual(m2.Digest, want) {
					t.Errorf("Lookup's digest changed with the caller's copy: %+v", m2.Digest)
				}
			})
		}
	}
}

// clipData is n bytes that differ from one another.
func clipData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// A clip stored before digests existed gets its digest computed once, on
// demand, and kept in its sidecar: after a restart it is there without
// reading the clip.
func TestDigestOfOldClip(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	data := clipData(600 << 10)
	if err := s.Put(meta(0), data); err != nil {
		t.Fatal(err)
	}
	// What an older doorbelld wrote: the sidecar without the digest.
	old := sidecar(t, dir, 0)
	old.Digest = nil
	b, _ := json.Marshal(old)
	if bytes.Contains(b, []byte("digest")) {
		t.Fatalf("old sidecar %s", b)
	}
	jsonPath := filepath.Join(dir, baseName(meta(0).ID, meta(0).Start)+extJSON)
	if err := os.WriteFile(jsonPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, Options{})
	if m, _ := s.Lookup(meta(0).ID); m.Digest != nil {
		t.Fatalf("old clip has a digest: %+v", m.Digest)
	}
	want := refDigest(data, DefaultChunkBytes)
	d, err := s.Digest(context.Background(), meta(0).ID, DefaultChunkBytes)
	if err != nil || !reflect.DeepEqual(&d, want) {
		t.Fatalf("Digest = %+v, %v; want %+v", d, err, want)
	}
	if m, _ := s.Lookup(meta(0).ID); !reflect.DeepEqual(m.Digest, want) {
		t.Errorf("after Digest, Lookup's digest = %+v", m.Digest)
	}
	if got := sidecar(t, dir, 0).Digest; !reflect.DeepEqual(got, want) {
		t.Errorf("sidecar digest = %+v, want %+v", got, want)
	}

	// Overwrite the MP4 with other bytes of the same size: a store opened
	// now answers from the sidecar, so it never reads them.
	mp4Path := filepath.Join(dir, baseName(meta(0).ID, meta(0).Start)+extMP4)
	if err := os.WriteFile(mp4Path, make([]byte, len(data)), 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, Options{})
	if d, err := s.Digest(context.Background(), meta(0).ID, DefaultChunkBytes); err != nil || !reflect.DeepEqual(&d, want) {
		t.Errorf("after a restart Digest = %+v, %v; want the kept %+v", d, err, want)
	}

	// Another chunk size is computed (from the bytes there now) and kept
	// in place of the old one.
	other := refDigest(make([]byte, len(data)), 64<<10)
	if d, err := s.Digest(context.Background(), meta(0).ID, 64<<10); err != nil || !reflect.DeepEqual(&d, other) {
		t.Errorf("Digest for 64 KiB chunks = %+v, %v; want %+v", d, err, other)
	}
	if got := sidecar(t, dir, 0).Digest; !reflect.DeepEqual(got, other) {
		t.Errorf("sidecar digest = %+v, want %+v", got, other)
	}
	if names := dirNames(t, dir); len(names) != 2 {
		t.Errorf("dir holds %v, want the MP4 and its sidecar", names)
	}
}

// A sidecar's digest that cannot be the file's is dropped when the store
// opens, and computed again on demand.
func TestBadDigestInSidecar(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	data := clipData(3000)
	if err := s.Put(meta(0), data); err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, baseName(meta(0).ID, meta(0).Start)+extJSON)
	for name, bad := range map[string]func(d *Digest){
		"a CRC missing":   func(d *Digest) { d.CRC32C = d.CRC32C[1:] },
		"sha256 not hex":  func(d *Digest) { d.SHA256 = strings.Repeat("z", 64) },
		"chunk size zero": func(d *Digest) { d.ChunkBytes = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			m := sidecar(t, dir, 0)
			m.Digest = refDigest(data, DefaultChunkBytes)
			bad(m.Digest)
			b, _ := json.Marshal(m)
			if err := os.WriteFile(jsonPath, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s := open(t, dir, Options{})
			got, _ := s.Lookup(meta(0).ID)
			if got.Digest != nil {
				t.Errorf("kept a bad digest: %+v", got.Digest)
			}
			if got.Frames != meta(0).Frames {
				t.Errorf("dropped the rest of the sidecar: %+v", got)
			}
			if d, err := s.Digest(context.Background(), meta(0).ID, DefaultChunkBytes); err != nil || !reflect.DeepEqual(&d, refDigest(data, DefaultChunkBytes)) {
				t.Errorf("Digest = %+v, %v", d, err)
			}
		})
	}
}

func TestDigestErrors(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	put(t, s, 0, 5000)
	ctx := context.Background()
	if _, err := s.Digest(ctx, "nope", DefaultChunkBytes); !errors.Is(err, ErrNotFound) {
		t.Errorf("Digest of a missing clip = %v, want ErrNotFound", err)
	}
	for _, chunk := range []int{0, -1, MinChunkBytes - 1, MaxChunkBytes + 1} {
		if _, err := s.Digest(ctx, meta(0).ID, chunk); err == nil || !strings.Contains(err.Error(), "chunk size") {
			t.Errorf("Digest for chunks of %d = %v, want an error naming the chunk size", chunk, err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Digest(canceled, meta(0).ID, 4<<10); !errors.Is(err, context.Canceled) {
		t.Errorf("Digest with a canceled context = %v, want context.Canceled", err)
	}
	// The clip's file is gone from under the store.
	if err := os.Remove(filepath.Join(dir, baseName(meta(0).ID, meta(0).Start)+extMP4)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Digest(ctx, meta(0).ID, 4<<10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Digest of a clip whose file is gone = %v, want os.ErrNotExist", err)
	}
	for _, chunk := range []int{-1, MinChunkBytes - 1, MaxChunkBytes + 1} {
		if _, err := Open(t.TempDir(), Options{ChunkBytes: chunk, Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "ChunkBytes") {
			t.Errorf("Open with ChunkBytes %d = %v, want an error naming ChunkBytes", chunk, err)
		}
	}
}
