//go:build unix

package install

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"
)

// pendingFile is a temp file next to its destination, renamed over it on
// CloseAtomicallyReplace (renameio).
type pendingFile interface {
	Write([]byte) (int, error)
	Name() string
	Sync() error
	CloseAtomicallyReplace() error
	Cleanup() error
}

// newPendingFile starts an executable (0755) file that replaces path.
func newPendingFile(path string) (pendingFile, error) {
	return renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o755))
}

// writeFileAtomic replaces path with b (fsynced, renamed).
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	return renameio.WriteFile(path, b, perm)
}

// symlinkAtomic points newname at oldname with rename(2).
func symlinkAtomic(oldname, newname string) error { return renameio.Symlink(oldname, newname) }

// lock takes the OTA directory's lock: waiting for it, or failing with
// ErrBusy. flock(2) locks conflict between open files, so this serializes
// goroutines of one process as well as processes.
func (i *Installer) lock(wait bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(i.o.Dir, "lock"), os.O_RDWR|os.O_CREATE, 0o640)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("install: %s does not exist (set it up with doorbelld-boot --seed): %w", i.o.Dir, ErrLayout)
	}
	if err != nil {
		return nil, fmt.Errorf("install: lock: %w", err)
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("install: %w", ErrBusy)
		}
		return nil, fmt.Errorf("install: lock: %w", err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

func freeSpace(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
