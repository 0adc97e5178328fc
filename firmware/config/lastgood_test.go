package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLoadFallback: a config file damaged on disk (NUL bytes where an
// unsynced append was) runs on the last good copy; a config with a
// mistake in it is refused even when a good copy exists.
func TestLoadFallback(t *testing.T) {
	dir := t.TempDir()
	cfgPath, kept := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "state", "config.last-good.yaml")
	if err := os.Mkdir(filepath.Dir(kept), 0o700); err != nil {
		t.Fatal(err)
	}
	good := "device:\n  id: front_door\ngpio:\n  button:\n    line: GPIO17\nstorage:\n  dir: " + dir + "\n"
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inode := func() uint64 {
		t.Helper()
		fi, err := os.Stat(kept)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}

	// Damaged before any good start: refused, saying there is no copy.
	write(good + strings.Repeat("\x00", 40))
	if _, _, _, err := LoadFallback(cfgPath, kept, Default()); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "no last good copy") {
		t.Fatalf("damaged, no copy: %v; want ErrDamaged naming the missing copy", err)
	}

	// A good start keeps its text; a second start with the same text does
	// not write the copy again.
	write(good)
	cfg, data, damaged, err := LoadFallback(cfgPath, kept, Default())
	if err != nil || damaged != nil || cfg.Device.ID != "front_door" {
		t.Fatalf("good config: %v %v %q", err, damaged, cfg.Device.ID)
	}
	if err := KeepLastGood(kept, data); err != nil {
		t.Fatal(err)
	}
	ino := inode()
	if err := KeepLastGood(kept, data); err != nil || inode() != ino {
		t.Fatalf("same text kept again: %v, inode %d → %d; want no write", err, ino, inode())
	}

	// The append a power cut turned into NULs: the copy runs, and the
	// damage is reported with where it is.
	write(good + strings.Repeat("\x00", 19))
	cfg, _, damaged, err = LoadFallback(cfgPath, kept, Default())
	if err != nil || !errors.Is(damaged, ErrDamaged) || cfg.Device.ID != "front_door" {
		t.Fatalf("damaged with a copy: cfg %q, damaged %v, err %v; want the copy and ErrDamaged", cfg.Device.ID, damaged, err)
	}
	if !strings.Contains(damaged.Error(), "19 NUL bytes, the first at byte") || !strings.Contains(damaged.Error(), cfgPath) {
		t.Errorf("damage reported as %q; want the count, the offset and the file", damaged)
	}

	// A mistake is the owner's: refused, never replaced by the copy.
	write(strings.Replace(good, "front_door", "Front Door", 1))
	if _, _, damaged, err := LoadFallback(cfgPath, kept, Default()); err == nil || damaged != nil || errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "device.id") {
		t.Fatalf("typo: err %v, damaged %v; want device.id refused, no fallback", err, damaged)
	}

	// A copy that does not load is no way out either, and says so.
	if err := os.WriteFile(kept, []byte("device:\n  id: Bad Id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(good + "\x00")
	if _, _, _, err := LoadFallback(cfgPath, kept, Default()); err == nil || !strings.Contains(err.Error(), "last good copy does not load") {
		t.Fatalf("bad copy: %v", err)
	}

	// lastGood "" is Load.
	if _, _, damaged, err := LoadFallback(cfgPath, "", Default()); !errors.Is(err, ErrDamaged) || damaged != nil {
		t.Fatalf("no fallback: %v %v", err, damaged)
	}
}
