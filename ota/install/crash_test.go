//go:build unix

package install_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

// TestCrashHelper is the process the crash tests kill, not a test itself.
// It runs one installer operation, with SIGKILL at OTA_CRASH_STEP.
func TestCrashHelper(t *testing.T) {
	op := os.Getenv("OTA_CRASH_OP")
	if op == "" {
		t.Skip("helper process of TestCrash*")
	}
	dir := os.Getenv("OTA_CRASH_DIR")
	step := install.Step(os.Getenv("OTA_CRASH_STEP"))
	i, err := install.New(install.Options{
		Dir: dir, Keys: otatest.Keyring(0),
		Executable:    filepath.Join(dir, "slot-"+os.Getenv("OTA_CRASH_SLOT"), install.BinaryName),
		StartID:       func() string { return os.Getenv("OTA_CRASH_START") },
		ConfirmWindow: 10 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hook: func(s install.Step) {
			if s == step {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	switch op {
	case "install", "install-slow":
		b, err := os.ReadFile(os.Getenv("OTA_CRASH_BUNDLE"))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = bytes.NewReader(b)
		if op == "install-slow" {
			r = &slowReader{r: r}
		}
		_, err = i.Install(context.Background(), r, int64(len(b)), nil)
		fmt.Println("install:", err)
	case "boot":
		_, err = i.Boot()
		fmt.Println("boot:", err)
	case "run":
		err = i.Run(context.Background())
		fmt.Println("run:", err)
	case "confirm":
		_, err = i.Confirm()
		fmt.Println("confirm:", err)
	}
}

// slowReader gives 32 KiB every 4 ms.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(4 * time.Millisecond)
	return s.r.Read(p[:min(len(p), 32<<10)])
}

// helper starts TestCrashHelper in a new process.
func helper(t *testing.T, d *device, op, slot string, step install.Step, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	// GORACE: a -race binary otherwise sleeps 1 s at exit.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "OTA_CRASH_OP="+op, "OTA_CRASH_DIR="+d.dir, "OTA_CRASH_SLOT="+slot,
		"OTA_CRASH_STEP="+string(step), fmt.Sprint("OTA_CRASH_START=helper-", d.start.Add(1)))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// killedAt runs the helper and fails t unless SIGKILL ended it.
func killedAt(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, _ := cmd.CombinedOutput()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed at its step: %v\n%s", cmd.ProcessState, out)
	}
}

// noTempFiles fails t when a crash's temp files survived Boot.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{dir, filepath.Join(dir, "slot-a"), filepath.Join(dir, "slot-b")} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("left behind: %s", filepath.Join(d, e.Name()))
			}
		}
	}
}

// recovers checks that after a crash and one Boot exactly one valid binary
// is current, the state agrees with it, and life goes on: a new version
// on trial confirms; the old one takes the update again.
func recovers(t *testing.T, d *device, want string) {
	t.Helper()
	otatest.CheckOneValid(t, d.dir, v1, v2)
	br, daemon := d.boot()
	noTempFiles(t, d.dir)
	got := otatest.CheckOneValid(t, d.dir, v1, v2)
	st := d.status()
	switch {
	case bytes.Equal(got, v2):
		if want == "old" {
			t.Fatalf("running the new version, want the old one")
		}
		if br.Slot != "b" || (!br.Trial && st.Floor != "2.0.0") {
			t.Fatalf("new binary current but %+v, %+v", br, st)
		}
		if br.Trial {
			if ok, err := daemon.Confirm(); !ok || err != nil {
				t.Fatalf("Confirm = %v, %v", ok, err)
			}
		}
		if st := d.status(); st.Floor != "2.0.0" || st.Phase != install.PhaseIdle {
			t.Fatalf("after confirm %+v", st)
		}
	default:
		if want == "new" {
			t.Fatalf("running the old version, want the new one")
		}
		if br.Slot != "a" || (st.Phase == install.PhaseTrial) {
			t.Fatalf("old binary current but %+v, %+v", br, st)
		}
		if st.Phase == install.PhaseRollback {
			if ok, err := daemon.Confirm(); !ok || err != nil {
				t.Fatalf("Confirm of the rolled-back version = %v, %v", ok, err)
			}
			return
		}
		if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
			t.Fatalf("install after the crash: %v", err)
		}
		otatest.CheckOneValid(t, d.dir, v2)
	}
}

// TestCrashAtEveryInstallStep kills an install at each of its steps.
func TestCrashAtEveryInstallStep(t *testing.T) {
	for _, step := range install.InstallSteps {
		t.Run(string(step), func(t *testing.T) {
			d := newDevice(t)
			bundle := filepath.Join(t.TempDir(), "v2.ota")
			os.WriteFile(bundle, otatest.NewBundle(t, "2.0.0", v2), 0o644)
			killedAt(t, helper(t, d, "install", "a", step, "OTA_CRASH_BUNDLE="+bundle))
			want := "old"
			if step == install.StepSwapped {
				want = "new"
			}
			recovers(t, d, want)
		})
	}
}

// TestCrashDuringRollback kills Boot's rollback (after MaxBoots failed
// starts) and Run's rollback (window over) at each step.
func TestCrashDuringRollback(t *testing.T) {
	for _, c := range []struct {
		op   string
		step install.Step
	}{
		{"boot", install.StepCounted},
		{"boot", install.StepRollbackArmed},
		{"boot", install.StepRolledBack},
		{"run", install.StepRollbackArmed},
		{"run", install.StepRolledBack},
	} {
		t.Run(c.op+"/"+string(c.step), func(t *testing.T) {
			d := newDevice(t)
			if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
				t.Fatal(err)
			}
			starts := 1
			if c.op == "boot" {
				starts = install.DefaultMaxBoots
			}
			for range starts {
				d.boot()
			}
			killedAt(t, helper(t, d, c.op, "b", c.step))
			if c.op == "boot" && c.step == install.StepCounted {
				// The 4th start was counted, then the power went: the next
				// start (the 5th) rolls back.
				otatest.CheckOneValid(t, d.dir, v2)
			}
			recovers(t, d, "old")
			if st := d.status(); st.Outcome != install.OutcomeRolledBack || !strings.Contains(st.Error, "2.0.0") {
				t.Errorf("%+v", st)
			}
		})
	}
}

func TestCrashAfterConfirm(t *testing.T) {
	d := newDevice(t)
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
		t.Fatal(err)
	}
	d.boot()
	killedAt(t, helper(t, d, "confirm", "b", install.StepConfirmed))
	recovers(t, d, "new")
	if st := d.status(); st.Outcome != install.OutcomeConfirmed {
		t.Errorf("%+v", st)
	}
}

// TestKilledFromOutside SIGKILLs a real installing process, streaming a
// 2 MiB bundle, at moments spread over its whole run (measured first), from
// before it opens the bundle to after it has finished.
func TestKilledFromOutside(t *testing.T) {
	big2 := otatest.Binary("2.0.0", 2<<20)
	bundle := filepath.Join(t.TempDir(), "v2.ota")
	os.WriteFile(bundle, otatest.NewBundle(t, "2.0.0", big2), 0o644)
	start := func(d *device) (*exec.Cmd, *bytes.Buffer) {
		cmd := helper(t, d, "install-slow", "a", "", "OTA_CRASH_BUNDLE="+bundle)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	// The whole run, warm: the fastest of three.
	var whole time.Duration
	for range 3 {
		d := newDevice(t)
		t0 := time.Now()
		cmd, out := start(d)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("uninterrupted install: %v\n%s", err, out)
		}
		if el := time.Since(t0); whole == 0 || el < whole {
			whole = el
		}
		otatest.CheckOneValid(t, d.dir, big2)
	}

	n := 20
	if testing.Short() {
		n = 6
	}
	rng := rand.New(rand.NewPCG(6, 2026))
	outcomes := map[string]int{}
	for k := range n {
		// Evenly over 0..1.5×whole (the tail lands after the end, even on
		// a slower run), jittered by up to a step.
		step := whole * 3 / 2 / time.Duration(n)
		delay := step*time.Duration(k) + time.Duration(rng.Int64N(int64(step)))
		t.Run(fmt.Sprint(k, "/", delay.Round(time.Millisecond)), func(t *testing.T) {
			d := newDevice(t)
			cmd, out := start(d)
			time.Sleep(delay)
			cmd.Process.Kill()
			cmd.Wait()
			got, err := otatest.CurrentBinary(d.dir)
			if err != nil || !bytes.Equal(got, v1) && !bytes.Equal(got, big2) {
				t.Fatalf("after the kill: current is %d bytes, %v", len(got), err)
			}
			br, daemon := d.boot()
			noTempFiles(t, d.dir)
			got, _ = otatest.CurrentBinary(d.dir)
			switch {
			case bytes.Equal(got, big2):
				outcomes["new"]++
				if !br.Trial || br.Boots != 1 {
					t.Fatalf("new binary current, not on trial: %+v", br)
				}
				if ok, err := daemon.Confirm(); !ok || err != nil {
					t.Fatal(ok, err)
				}
			case bytes.Equal(got, v1):
				outcomes["old"]++
				if st := d.status(); st.Phase != install.PhaseIdle {
					t.Fatalf("old binary current, phase %s", st.Phase)
				}
				if _, err := d.install(otatest.NewBundle(t, "2.0.0", big2)); err != nil {
					t.Fatalf("install after the kill: %v (helper said %q)", err, strings.TrimSpace(out.String()))
				}
			default:
				t.Fatalf("current is %d bytes", len(got))
			}
		})
	}
	// Which side of the swap each kill lands on depends on the machine's
	// load; both are checked above, and every step exactly by
	// TestCrashAtEveryInstallStep.
	t.Logf("an install takes %v; killed %d times: %v", whole, n, outcomes)
}
