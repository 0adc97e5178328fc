package fsync_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/fsync"
)

func TestDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fsync.Dir(dir); err != nil {
		t.Errorf("Dir(%s) = %v", dir, err)
	}
	missing := filepath.Join(dir, "missing")
	err := fsync.Dir(missing)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != missing {
		t.Errorf("Dir(%s) = %v, want a *fs.PathError naming it, wrapping fs.ErrNotExist", missing, err)
	}
}
