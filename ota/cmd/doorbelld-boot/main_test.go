package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

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

// TestOrGood: ExecStopPost's --or-good runs current's binary, and the
// known-good slot's when current's fails (an update that cannot start
// must not keep the relays from being released); it counts no start.
func TestOrGood(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	ran := filepath.Join(t.TempDir(), "ran")
	script := func(name string, code int) []byte {
		return []byte(fmt.Sprintf("#!/bin/sh\necho %s \"$@\" >> %s\nexit %d\n", name, ran, code))
	}
	good := script("good", 0)
	otatest.Seed(t, dir, good, "1.0.0")
	install1 := func(version string, bin []byte) {
		t.Helper()
		i, err := install.New(install.Options{Dir: dir, Keys: otatest.Keyring(0),
			Clock:      clockwork.NewFakeClockAt(otatest.Created.Add(24 * time.Hour)),
			Executable: filepath.Join(dir, "current", install.BinaryName),
			FreeSpace:  func(string) (uint64, error) { return 1 << 40, nil }})
		if err != nil {
			t.Fatal(err)
		}
		b := otatest.NewBundle(t, version, bin)
		if _, err := i.Install(context.Background(), bytes.NewReader(b), int64(len(b)), nil); err != nil {
			t.Fatal(err)
		}
	}
	orGood := func() (int, string) {
		t.Helper()
		os.Remove(ran)
		var errb bytes.Buffer
		code := run([]string{"--dir", dir, "--or-good", "--", "--release-outputs", "--config", "c.yaml"}, &errb)
		out, _ := os.ReadFile(ran)
		return code, string(out)
	}
	if code, out := orGood(); code != 0 || out != "good --release-outputs --config c.yaml\n" {
		t.Fatalf("one slot: exit %d, ran %q", code, out)
	}
	install1("2.0.0", script("broken", 1))
	before := otatest.Snapshot(t, dir)
	if code, out := orGood(); code != 0 || out != "broken --release-outputs --config c.yaml\ngood --release-outputs --config c.yaml\n" {
		t.Fatalf("broken update on trial: exit %d, ran %q; want the new binary, then the good one", code, out)
	}
	if d := otatest.DiffSnapshots(before, otatest.Snapshot(t, dir)); d != "" {
		t.Errorf("--or-good changed the OTA directory: %s", d)
	}
	// Both failing is a failure.
	if err := os.WriteFile(filepath.Join(dir, "slot-a", install.BinaryName), script("good", 3), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _ := orGood(); code != 1 {
		t.Errorf("both failing: exit %d, want 1", code)
	}
}
