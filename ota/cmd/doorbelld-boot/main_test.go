package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

// Starting a slot (the exec) is tested end to end in otatest's
// TestSystemUpdates; here: seeding and the failures before exec.
func TestSeedAndNothingToStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	var errb bytes.Buffer
	if code := run([]string{"--dir", dir, "--", "--config", "x"}, &errb); code != 1 || !strings.Contains(errb.String(), "nothing to start") {
		t.Errorf("no layout: exit %d\n%s", code, errb.String())
	}
	bin := filepath.Join(t.TempDir(), "doorbelld")
	os.WriteFile(bin, otatest.Binary("1.2.0", 1000), 0o755)
	errb.Reset()
	if code := run([]string{"--dir", dir, "--seed", bin, "--seed-version", "1.2.0"}, &errb); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errb.String())
	}
	otatest.CheckOneValid(t, dir, otatest.Binary("1.2.0", 1000))
	i, _ := install.New(install.Options{Dir: dir})
	if st, err := i.Status(); err != nil || st.Floor != "1.2.0" || st.Current != "a" {
		t.Errorf("%+v %v", st, err)
	}
	errb.Reset()
	if code := run([]string{"--dir", dir, "--seed", bin, "--seed-version", "1.2.0"}, &errb); code != 1 || !strings.Contains(errb.String(), "exists already") {
		t.Errorf("second seed: exit %d\n%s", code, errb.String())
	}
	if code := run([]string{"--dir", "relative"}, &errb); code != 2 {
		t.Errorf("relative dir: exit %d", code)
	}
}
