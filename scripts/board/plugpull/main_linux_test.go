package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

// TestWatchSeesEachInstallStep runs the real installer against plugpull's
// watch, once per step. The installer is held at the hook of the step
// whose fsync makes the change durable until watch has answered, so the
// answer must come from the change itself: after the step before it, and
// before the installer goes on.
func TestWatchSeesEachInstallStep(t *testing.T) {
	// The step plugpull cuts at, the installer step whose hook comes
	// after that change is durable, and the one before the change.
	cases := []struct{ at, hold, before install.Step }{
		{"written", install.StepSynced, install.StepWriting},
		{"placed", install.StepPlaced, install.StepSynced},
		{"armed", install.StepArmed, install.StepPlaced},
		{"swapped", install.StepSwapped, install.StepArmed},
	}
	bin := otatest.Binary("2.0.0", 300_000) // several writes
	for _, tc := range cases {
		t.Run(string(tc.at), func(t *testing.T) {
			// As on the board, where the campaign follows an update: both
			// slots exist, current -> slot-b, the update goes to slot-a.
			dir := filepath.Join(t.TempDir(), "ota")
			otatest.Seed(t, dir, otatest.Binary("1.0.0", 20_000), "1.0.0")
			clock := clockwork.NewFakeClockAt(otatest.Created.Add(24 * time.Hour))
			process := func(slot, version string, hook func(install.Step)) *install.Installer {
				i, err := install.New(install.Options{Dir: dir, Keys: otatest.Keyring(0), Clock: clock, Version: version,
					Executable: filepath.Join(dir, "slot-"+slot, install.BinaryName),
					FreeSpace:  func(string) (uint64, error) { return 1 << 40, nil },
					Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)), Hook: hook})
				if err != nil {
					t.Fatal(err)
				}
				return i
			}
			b1 := otatest.NewBundle(t, "1.5.0", otatest.Binary("1.5.0", 20_000))
			if _, err := process("a", "1.0.0", nil).Install(context.Background(), bytes.NewReader(b1), int64(len(b1)), nil); err != nil {
				t.Fatal(err)
			}
			next := process("b", "1.5.0", nil)
			if _, err := next.Boot(); err != nil {
				t.Fatal(err)
			}
			if ok, err := next.Confirm(); !ok || err != nil {
				t.Fatalf("confirm 1.5.0: %v %v", ok, err)
			}

			var mu sync.Mutex
			var passed []install.Step // hooks called so far
			answered := make(chan struct{})
			inst := process("b", "1.5.0", func(s install.Step) {
				mu.Lock()
				passed = append(passed, s)
				mu.Unlock()
				if s == tc.hold {
					<-answered
				}
			})
			type answer struct {
				step, where string
				err         error
				passed      []install.Step
			}
			ready, got := make(chan struct{}), make(chan answer, 1)
			go func() {
				step, where, err := watch(dir, string(tc.at), int64(len(bin)), func() { close(ready) })
				mu.Lock()
				got <- answer{step, where, err, slices.Clone(passed)}
				mu.Unlock()
				close(answered)
			}()
			select {
			case <-ready:
			case a := <-got:
				t.Fatalf("watch ended before it watched: %v", a.err)
			}
			done := make(chan error, 1)
			go func() {
				b := otatest.NewBundle(t, "2.0.0", bin)
				_, err := inst.Install(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
				done <- err
			}()
			var a answer
			select {
			case a = <-got:
			case err := <-done:
				t.Fatalf("the install ended (%v) and watch did not answer", err)
			}
			if a.err != nil {
				t.Fatalf("watch: %v", a.err)
			}
			if a.step != string(tc.at) {
				t.Errorf("watch answered %s (%s), want %s", a.step, a.where, tc.at)
			}
			last := install.Step("none")
			if len(a.passed) > 0 {
				last = a.passed[len(a.passed)-1]
			}
			lo, hi := slices.Index(install.InstallSteps, tc.before), slices.Index(install.InstallSteps, tc.hold)
			if k := slices.Index(install.InstallSteps, last); k < lo || k > hi {
				t.Errorf("watch answered %s after the installer's steps %v: want it after %s and before %s returns", a.step, a.passed, tc.before, tc.hold)
			}
			if err := <-done; err != nil {
				t.Fatalf("install: %v", err)
			}
		})
	}
}

func TestWatchRefusesUnknownStep(t *testing.T) {
	if _, _, err := watch(t.TempDir(), "confirmed", 0, func() {}); err == nil {
		t.Fatal("--at confirmed: want an error")
	}
	if _, _, err := watch(t.TempDir(), "written", 0, func() {}); err == nil {
		t.Fatal("--at written without --size: want an error")
	}
}
