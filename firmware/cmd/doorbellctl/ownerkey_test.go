package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

func TestOwnerKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "owner.key")
	code, out, errs := runCLI(t, nil, "owner-key", path)
	if code != 0 {
		t.Fatalf("owner-key: %d %s", code, errs)
	}
	key, err := ownerkey.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != ownerkey.MinBytes || !strings.Contains(out, key.ID()) || strings.Contains(out+errs, hex.EncodeToString(key)[:16]) {
		t.Errorf("key of %d bytes; output %s", len(key), out)
	}
	if fi, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("mode %v %v, want 0600", fi.Mode(), err)
	}
	if code, _, errs := runCLI(t, nil, "owner-key", path); code != 1 || !strings.Contains(errs, "exists; not overwriting") {
		t.Errorf("second owner-key: %d %s", code, errs)
	}
	if again, _ := ownerkey.Load(path); !again.Verify(key.Sign("x"), "x") {
		t.Error("the key changed")
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"owner-key"}, 2, "want one FILE"},
		{[]string{"owner-key", "a", "b"}, 2, "want one FILE"},
		{[]string{"owner-key", "help"}, 0, "never overwritten"},
		{[]string{"owner-key", "-h"}, 0, "never overwritten"},
		{[]string{"owner-key", filepath.Join(t.TempDir(), "no", "dir")}, 1, "no such file or directory"},
		{[]string{"help"}, 0, "owner-key"},
		{[]string{"clips", "help"}, 0, "--owner-key FILE"},
	} {
		code, out, errs := runCLI(t, nil, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("%v: exit %d, want %d with %q", c.args, code, c.code, c.want)
		}
	}
}

// A key file others may read still works, with a warning.
func TestOwnerKeyLoose(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	path := filepath.Join(t.TempDir(), "owner.key")
	if err := os.WriteFile(path, ownerkey.Generate().Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	e := &env{getenv: func(string) string { return "" }}
	var errb strings.Builder
	e.stderr = &errb
	key, code := loadOwnerKey(e, "clips pull", path)
	if key == nil || code != 0 || !strings.Contains(errb.String(), "warning: "+path+" may be read by others (chmod 600") {
		t.Errorf("loose key: %v %d %s", key, code, errb.String())
	}
}
