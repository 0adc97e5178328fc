package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"github.com/doorbelld/doorbelld/firmware/fsync"
)

// A config file can be damaged on disk without anyone typing a mistake:
// text appended (echo >> config.yaml) and not synced before a power cut
// comes back as NUL bytes, because ext4 allocates the new blocks late and
// only replace-by-rename and truncate-and-rewrite (what editors do) are
// flushed early. doorbelld would then refuse the file at every start,
// and systemd restart it every two seconds, for good. So the daemon keeps
// a copy of the last config it started with (KeepLastGood), and falls
// back to that copy only for damage of this kind (LoadFallback): a typo
// is still refused, with its key and line, and never silently replaced.

// ErrDamaged is the error, wrapped, of a config file with NUL bytes in
// it: bytes nobody types, what a power cut leaves of a write that had
// not reached the disk.
var ErrDamaged = errors.New("damaged on disk")

// damage reports NUL bytes in data as ErrDamaged.
func damage(data []byte) error {
	i := bytes.IndexByte(data, 0)
	if i < 0 {
		return nil
	}
	return fmt.Errorf("%w: %d NUL bytes, the first at byte %d (what a power cut leaves of a write that had not reached the disk)",
		ErrDamaged, bytes.Count(data, []byte{0}), i)
}

// LoadFallback is Load, except when the file at path is damaged on disk
// (ErrDamaged) and lastGood names a valid copy kept by KeepLastGood: then
// cfg comes from that copy and damaged is the error for path. data is
// what cfg was parsed from, for KeepLastGood. lastGood "" turns the
// fallback off.
func LoadFallback(path, lastGood string, base Config) (cfg Config, data []byte, damaged, err error) {
	data, err = readFile(path)
	if err != nil {
		return base, nil, nil, fmt.Errorf("config: load %s: %w", path, err)
	}
	cfg, err = loadData(path, data, base, false)
	if err == nil || lastGood == "" || !errors.Is(err, ErrDamaged) {
		return cfg, data, nil, err
	}
	kept, rerr := readFile(lastGood)
	if rerr != nil {
		return cfg, nil, nil, fmt.Errorf("%w; no last good copy to run on: %w", err, rerr)
	}
	good, gerr := loadData(lastGood, kept, base, false)
	if gerr != nil {
		return cfg, nil, nil, fmt.Errorf("%w; the last good copy does not load either: %w", err, gerr)
	}
	return good, kept, err, nil
}

// KeepLastGood makes path hold data (the config file a daemon started
// with), durably: written to a temporary file, fsynced, renamed over
// path, and the directory fsynced. A path that holds data already is not
// written again, so a restart costs the card nothing.
func KeepLastGood(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := renameio.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("config: keep the last good copy: %w", err)
	}
	if err := fsync.Dir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("config: keep the last good copy: %w", err)
	}
	return nil
}
