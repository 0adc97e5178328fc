package storage_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/doorbelld/doorbelld/capture/storage"
)

func ExampleStore() {
	dir, _ := os.MkdirTemp("", "clips")
	defer os.RemoveAll(dir)

	store, err := storage.Open(dir, storage.Options{MaxBytes: 64 << 20, MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Now().UTC()
	m := storage.Meta{ID: "d4k9s3p2v5q8m1n0c7c0", EventIDs: []string{"d4k9s3p2v5q8m1n0c7b6"}, Start: start, End: start.Add(15 * time.Second)}
	if err := store.Put(m, []byte("....ftyp... an MP4 file")); err != nil {
		fmt.Println(err)
		return
	}

	// After a restart the index is rebuilt from the directory.
	store, _ = storage.Open(dir, storage.Options{})
	for _, m := range store.List() {
		rc, _ := store.Open(m.ID)
		b, _ := io.ReadAll(rc)
		rc.Close()
		fmt.Println(m.ID, m.Duration(), m.Size, len(b))
	}
	st := store.Stats()
	fmt.Println(st.Clips, st.Bytes, st.FreeBytes > 0)
	// Output:
	// d4k9s3p2v5q8m1n0c7c0 15s 23 23
	// 1 23 true
}

func ExampleStore_Digest() {
	store, err := storage.Open("", storage.Options{Mode: storage.ModeRAM, ChunkBytes: 4 << 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 11, 26, 19, 38, 14, 0, time.UTC)
	mp4 := make([]byte, 10<<10) // three chunks of 4 KiB, the last one short
	if err := store.Put(storage.Meta{ID: "d4k9s3p2v5q8m1n0c7c0", Start: start, End: start.Add(15 * time.Second)}, mp4); err != nil {
		fmt.Println(err)
		return
	}
	// Put computed the digest from the bytes it was given: nothing reads
	// the clip to learn it.
	m, _ := store.Lookup("d4k9s3p2v5q8m1n0c7c0")
	fmt.Println(m.Digest.SHA256[:16], m.Digest.ChunkBytes, len(m.Digest.CRC32C))
	// Another chunk size is computed from the clip once, then kept.
	d, err := store.Digest(context.Background(), m.ID, 8<<10)
	fmt.Println(d.SHA256[:16], d.ChunkBytes, len(d.CRC32C), err)
	// Output:
	// 84ff92691f909a05 4096 3
	// 84ff92691f909a05 8192 2 <nil>
}
