package storage_test

import (
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
