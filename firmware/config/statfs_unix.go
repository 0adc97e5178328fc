//go:build unix

package config

import "golang.org/x/sys/unix"

// statfs returns the size of the filesystem holding path.
func statfs(path string) (fsInfo, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fsInfo{}, err
	}
	return fsInfo{Size: int64(st.Blocks) * int64(st.Bsize)}, nil //nolint:unconvert // Bsize's type differs by OS
}
