//go:build !unix

package install

import (
	"errors"
	"os"
)

var errUnsupported = errors.New("install: OTA updates need a Unix system")

type pendingFile interface {
	Write([]byte) (int, error)
	Name() string
	Sync() error
	CloseAtomicallyReplace() error
	Cleanup() error
}

func newPendingFile(string) (pendingFile, error) { return nil, errUnsupported }

func writeFileAtomic(string, []byte, os.FileMode) error { return errUnsupported }

func symlinkAtomic(string, string) error { return errUnsupported }

func (i *Installer) lock(bool) (func(), error) { return nil, errUnsupported }

func freeSpace(string) (uint64, error) { return 0, errUnsupported }
