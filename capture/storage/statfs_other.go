//go:build !unix

package storage

import "errors"

// freeBytes is not implemented here: Stats reports -1 and MinFree is not
// enforced (a full disk is still handled).
func freeBytes(string) (int64, error) {
	return 0, errors.New("free space unknown on this system")
}
