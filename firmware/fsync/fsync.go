// Package fsync makes changes to a directory durable. It is a leaf package,
// so that everything that writes files crash-safely (clip storage, the
// clip receiver, the OTA installer) shares it without depending on one
// another.
//
// Writing a file safely is three steps: write a temporary file and fsync
// it, rename it over the old name (renameio does both), then fsync the
// directory, which Dir does, so that the rename itself survives a power
// cut. Without the last step a file can come back after a crash as it was
// before the rename, or not at all.
package fsync

import "os"

// Dir fsyncs directory dir, so that the names created, renamed or removed
// in it survive a power cut. Its errors are *os.PathError, naming the
// operation and dir.
func Dir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
