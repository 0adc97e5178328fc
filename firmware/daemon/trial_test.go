package daemon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

// While an update is on trial a restart command is refused: each start
// counts towards the trial's rollback, so three of them would roll back a
// signed update. The refusal does not use up a restart of the hour.
func TestRestartRefusedDuringTrial(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	v1, v2 := otatest.Binary("1.0.0", 20_000), otatest.Binary("2.0.0", 30_000)
	otatest.Seed(t, dir, v1, "1.0.0")
	clk := clockwork.NewFakeClockAt(otatest.Created.Add(24 * time.Hour))
	inst, err := install.New(install.Options{
		Dir: dir, Keys: otatest.Keyring(0, 1), Clock: clk,
		Executable: filepath.Join(dir, "slot-a", install.BinaryName),
		StartID:    func() string { return "start-1" },
		FreeSpace:  func(string) (uint64, error) { return 1 << 40, nil },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := loadRestarts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{inst: inst, restarts: rl, clock: clk}
	if err := d.restartAllowed(); err != nil {
		t.Fatalf("restart refused with no update on trial: %v", err)
	}
	bundle := otatest.NewBundle(t, "2.0.0", v2)
	if _, err := inst.Install(context.Background(), bytes.NewReader(bundle), int64(len(bundle)), nil); err != nil {
		t.Fatal(err)
	}
	err = d.restartAllowed()
	if err == nil || !strings.Contains(err.Error(), "on trial") {
		t.Fatalf("restart during the trial of 2.0.0: %v, want refused", err)
	}
	if n := rl.n.Load(); n != 1 {
		t.Errorf("restarts counted this hour %d, want 1 (the refused one not counted)", n)
	}
}
