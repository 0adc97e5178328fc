package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/capture/seal/sealtest"
)

// sealKeys returns a Sealer for a fresh key and the Opener of that key.
func sealKeys(t *testing.T) (*seal.Sealer, *seal.Opener) {
	k := sealtest.NewKey(t)
	return k.Sealer(t), k.Opener(t)
}

// marked returns a clip of n bytes with a marker that must never reach
// the disk in plain.
func marked(n int) []byte {
	unit := []byte("\xff\xd8\xffPLAINTEXT-FRAME")
	b := bytes.Repeat(unit, n/len(unit)+1)
	return b[:n]
}

func openPlain(t *testing.T, s *Store, o *seal.Opener, id string) []byte {
	t.Helper()
	rc, err := s.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r, err := o.Open(rc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealedOnDisk(t *testing.T) {
	sealer, opener := sealKeys(t)
	dir := t.TempDir()
	st := open(t, dir, Options{Encrypter: sealer, ChunkBytes: MinChunkBytes})
	plain := marked(300 << 10)
	if err := st.Put(meta(1), plain); err != nil {
		t.Fatal(err)
	}
	base := baseName("clip-01", meta(1).Start)
	if got, want := dirNames(t, dir), []string{base + extJSON, base + ".mp4.age"}; !slices.Equal(got, want) {
		t.Fatalf("dir holds %v, want %v", got, want)
	}
	for _, name := range dirNames(t, dir) {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if bytes.Contains(b, []byte("\xff\xd8\xffPLAINTEXT")) || bytes.Contains(b, []byte("PLAINTEXT-FRAME")) { // whole headers: 3 bytes occur in random ciphertext
			t.Fatalf("%s holds plaintext of the clip", name)
		}
	}
	m, _ := st.Lookup("clip-01")
	file, _ := os.ReadFile(filepath.Join(dir, base+".mp4.age"))
	sum := sha256.Sum256(file)
	if m.Encryption != "age" || m.Size != int64(len(file)) || m.Digest == nil || m.Digest.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("meta %+v: want encryption age, the file's size %d and sha256", m, len(file))
	}
	if want := digestBytes(file, MinChunkBytes); !slices.Equal(m.Digest.CRC32C, want.CRC32C) {
		t.Fatal("chunk CRCs are not those of the stored file")
	}
	if got := openPlain(t, st, opener, "clip-01"); !bytes.Equal(got, plain) {
		t.Fatal("decrypted clip differs from what was stored")
	}

	// A restart finds it sealed, with the same digest; a plain clip
	// stored before the recipients were set stays as it was.
	plainStore := open(t, dir, Options{})
	put(t, plainStore, 2, 5000)
	st2 := open(t, dir, Options{Encrypter: sealer, ChunkBytes: MinChunkBytes})
	m2, ok := st2.Lookup("clip-01")
	if !ok || m2.Encryption != "age" || m2.Digest.SHA256 != m.Digest.SHA256 || m2.Size != m.Size {
		t.Fatalf("after reopen: %+v, want %+v", m2, m)
	}
	if m3, _ := st2.Lookup("clip-02"); m3.Encryption != "" || m3.Size != 5000 {
		t.Fatalf("plain clip after reopen: %+v", m3)
	}
	if got := openPlain(t, st2, opener, "clip-01"); !bytes.Equal(got, plain) {
		t.Fatal("after reopen: decrypted clip differs")
	}
	if err := st2.Delete("clip-01"); err != nil {
		t.Fatal(err)
	}
	if got, want := dirNames(t, dir), []string{baseName("clip-02", meta(2).Start) + extJSON, baseName("clip-02", meta(2).Start) + extMP4}; !slices.Equal(got, want) {
		t.Fatalf("after delete dir holds %v, want %v", got, want)
	}
}

// TestSealedWrongKey: a clip sealed for one owner cannot be opened with
// another key; deleting the identity file leaves nothing that opens it.
func TestSealedWrongKey(t *testing.T) {
	sealer, _ := sealKeys(t)
	_, other := sealKeys(t)
	st := open(t, t.TempDir(), Options{Encrypter: sealer})
	if err := st.Put(meta(1), marked(10000)); err != nil {
		t.Fatal(err)
	}
	rc, _ := st.Open("clip-01")
	defer rc.Close()
	if _, err := other.Open(rc); !errors.Is(err, seal.ErrNoMatch) {
		t.Fatalf("open with another key: %v, want ErrNoMatch", err)
	}
}

func TestSealedRAM(t *testing.T) {
	sealer, opener := sealKeys(t)
	st := open(t, "", Options{Mode: ModeRAM, Encrypter: sealer})
	plain := marked(100 << 10)
	if err := st.Put(meta(1), plain); err != nil {
		t.Fatal(err)
	}
	rc, _ := st.Open("clip-01")
	stored, _ := io.ReadAll(rc)
	m, _ := st.Lookup("clip-01")
	sum := sha256.Sum256(stored)
	if !seal.IsSealed(stored) || bytes.Contains(stored, []byte("PLAINTEXT-FRAME")) || m.Size != int64(len(stored)) || m.Digest.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("RAM clip: sealed %v, size %d of %d", seal.IsSealed(stored), m.Size, len(stored))
	}
	if got := openPlain(t, st, opener, "clip-01"); !bytes.Equal(got, plain) {
		t.Fatal("decrypted RAM clip differs")
	}
}

func TestDeleteAll(t *testing.T) {
	for _, mode := range []Mode{ModeDisk, ModeRAM} {
		dir := t.TempDir()
		st := open(t, dir, Options{Mode: mode})
		for i := range 5 {
			put(t, st, i, 1000)
		}
		if n := st.DeleteAll(); n != 5 {
			t.Fatalf("%s: DeleteAll = %d, want 5", mode, n)
		}
		if len(st.List()) != 0 || st.Stats().Bytes != 0 || len(dirNames(t, dir)) != 0 {
			t.Fatalf("%s: after DeleteAll: %d clips, %d bytes, files %v", mode, len(st.List()), st.Stats().Bytes, dirNames(t, dir))
		}
		put(t, st, 7, 1000) // the store goes on
	}
}
