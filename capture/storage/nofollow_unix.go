//go:build unix

package storage

import (
	"os"
	"syscall"
)

// openNoFollow opens a clip for reading, refusing a symlink in its place:
// the store only ever reads files it wrote.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
