//go:build !unix

package config

import "errors"

// statfs is not implemented here: CheckHost warns that it cannot check
// storage.dir's filesystem.
func statfs(string) (fsInfo, error) {
	return fsInfo{}, errors.New("filesystem size unknown on this system")
}
