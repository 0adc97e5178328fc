package otatest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

// TestSystemUpdates drives the real launcher and fake daemons at 1.0.0,
// 2.0.0 and 3.0.x through systemd-like restarts: an update that confirms,
// one that crashes at start, one that never gets healthy, replays, and one
// where the previous version fails too after the rollback.
func TestSystemUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	bins := map[string][]byte{}
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0", "3.0.1", "3.0.2"} {
		b, err := os.ReadFile(otatest.Build(t, otatest.FakeDaemonPkg, v))
		if err != nil {
			t.Fatal(err)
		}
		bins[v] = b
	}
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, bins["1.0.0"], "1.0.0")
	sys := &otatest.System{
		Launcher: otatest.Build(t, otatest.LauncherPkg, "boot"),
		Dir:      dir,
		Keys:     otatest.WriteKeys(t, 0),
		Window:   "300ms",
		Install:  filepath.Join(t.TempDir(), "offer.ota"),
	}
	offer := func(v string) {
		if err := os.WriteFile(sys.Install, otatest.NewBundle(t, v, bins[v]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inst, _ := install.New(install.Options{Dir: dir})
	status := func() install.Status {
		st, err := inst.Status()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	expect := func(evs []otatest.Event, want ...string) {
		t.Helper()
		var got []string
		for _, e := range evs {
			got = append(got, e.Version+" "+e.Event)
		}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Fatalf("starts:\n got  %s\n want %s", strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}

	// 1.0.0 → 2.0.0, confirmed.
	offer("2.0.0")
	expect(sys.Run(t), "1.0.0 installed 2.0.0", "2.0.0 confirmed", "2.0.0 idle")
	otatest.CheckOneValid(t, dir, bins["2.0.0"])
	if st := status(); st.Floor != "2.0.0" || st.Outcome != install.OutcomeConfirmed {
		t.Fatalf("%+v", st)
	}

	// 3.0.0 crashes at every start: 3 starts, then the launcher goes back.
	sys.Plan = map[string]string{"3.0.0": "crash"}
	offer("3.0.0")
	expect(sys.Run(t), "2.0.0 installed 3.0.0", "3.0.0 crash", "3.0.0 crash", "3.0.0 crash", "2.0.0 confirmed", "2.0.0 idle")
	otatest.CheckOneValid(t, dir, bins["2.0.0"])
	if st := status(); st.Outcome != install.OutcomeRolledBack || st.Floor != "2.0.0" || !strings.Contains(st.Error, "3.0.0 did not confirm its health in 3 starts") {
		t.Fatalf("%+v", st)
	}

	// Replays: the old 1.0.0 bundle, and 3.0.0 again right away.
	offer("1.0.0")
	evs := sys.Run(t)
	expect(evs, "2.0.0 install_failed")
	if !strings.Contains(evs[0].Error, "downgrade refused") {
		t.Errorf("1.0.0 replay: %s", evs[0].Error)
	}
	offer("3.0.0")
	evs = sys.Run(t)
	expect(evs, "2.0.0 install_failed")
	if !strings.Contains(evs[0].Error, "failed recently") {
		t.Errorf("3.0.0 again: %s", evs[0].Error)
	}

	// 3.0.1 starts but never gets healthy: the window runs out.
	sys.Plan = map[string]string{"3.0.1": "hang"}
	offer("3.0.1")
	expect(sys.Run(t), "2.0.0 installed 3.0.1", "3.0.1 rolled_back", "2.0.0 confirmed", "2.0.0 idle")
	otatest.CheckOneValid(t, dir, bins["2.0.0"])

	// 3.0.2 crashes, and 2.0.0 back after the rollback does not get
	// healthy either (say the broker is down): stay on 2.0.0, report.
	sys.Plan = map[string]string{"3.0.2": "crash", "2.0.0/rollback": "hang"}
	offer("3.0.2")
	evs = sys.Run(t)
	expect(evs, "2.0.0 installed 3.0.2", "3.0.2 crash", "3.0.2 crash", "3.0.2 crash", "2.0.0 unconfirmed")
	otatest.CheckOneValid(t, dir, bins["2.0.0"])
	st := status()
	if st.Outcome != install.OutcomeRollbackFailed || st.Phase != install.PhaseIdle || !strings.Contains(st.Error, "staying on it") {
		t.Fatalf("%+v", st)
	}
	// Later starts run 2.0.0 and no longer switch.
	sys.Plan = nil
	expect(sys.Run(t), "2.0.0 idle")
	otatest.CheckOneValid(t, dir, bins["2.0.0"])
}
