package install_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

var (
	v1 = otatest.Binary("1.0.0", 20_000)
	v2 = otatest.Binary("2.0.0", 30_000)
	v3 = otatest.Binary("3.0.0", 25_000)
)

// device is one OTA directory and a clock; installer returns the
// installer a process running from slot would have.
type device struct {
	t     *testing.T
	dir   string
	clock *clockwork.FakeClock
	start atomic.Int64 // for StartID: every installer is a new start
	opts  func(*install.Options)
}

func newDevice(t *testing.T) *device {
	d := &device{t: t, dir: filepath.Join(t.TempDir(), "ota"), clock: clockwork.NewFakeClockAt(otatest.Created.Add(24 * time.Hour))}
	otatest.Seed(t, d.dir, v1, "1.0.0")
	return d
}

// process returns the installer of a new daemon process running slot's
// binary (slot "" means the current slot).
func (d *device) process(slot string) *install.Installer {
	d.t.Helper()
	return d.processStart(slot, fmt.Sprint("start-", d.start.Add(1)))
}

// processStart is process for a given StartID: the launcher and the
// daemon it execs are one process, one start.
func (d *device) processStart(slot, startID string) *install.Installer {
	d.t.Helper()
	if slot == "" {
		slot = d.current()
	}
	o := install.Options{
		Dir: d.dir, Keys: otatest.Keyring(0, 1), Clock: d.clock,
		Executable: filepath.Join(d.dir, "slot-"+slot, install.BinaryName),
		StartID:    func() string { return startID },
		FreeSpace:  func(string) (uint64, error) { return 1 << 40, nil },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if d.opts != nil {
		d.opts(&o)
	}
	i, err := install.New(o)
	if err != nil {
		d.t.Fatal(err)
	}
	return i
}

func (d *device) current() string {
	d.t.Helper()
	target, err := os.Readlink(filepath.Join(d.dir, install.CurrentLink))
	if err != nil {
		d.t.Fatal(err)
	}
	return strings.TrimPrefix(target, "slot-")
}

func (d *device) status() install.Status {
	d.t.Helper()
	st, err := d.process("").Status()
	if err != nil {
		d.t.Fatal(err)
	}
	return st
}

// install installs bundle from a process on the current slot.
func (d *device) install(bundle []byte) (install.Result, error) {
	return d.process("").Install(context.Background(), bytes.NewReader(bundle), int64(len(bundle)), nil)
}

// boot is one start through the launcher: Boot, then the daemon runs
// the slot Boot chose.
func (d *device) boot() (install.BootResult, *install.Installer) {
	d.t.Helper()
	id := fmt.Sprint("start-", d.start.Add(1))
	res, err := d.processStart("", id).Boot()
	if err != nil {
		d.t.Fatal(err)
	}
	return res, d.processStart(res.Slot, id)
}

func TestInstallBootConfirm(t *testing.T) {
	d := newDevice(t)
	var last, total int64
	res, err := d.process("").Install(context.Background(), bytes.NewReader(otatest.NewBundle(t, "2.0.0", v2)), -1,
		func(done, tot int64) { last, total = done, tot })
	if err != nil {
		t.Fatal(err)
	}
	if res.Slot != "b" || res.Previous != "a" || !res.RestartRequired || res.Manifest.Version != "2.0.0" {
		t.Errorf("result %+v", res)
	}
	if last != total || total != int64(len(otatest.NewBundle(t, "2.0.0", v2))) {
		t.Errorf("progress ended at %d of %d", last, total)
	}
	otatest.CheckOneValid(t, d.dir, v2)
	if st := d.status(); st.Phase != install.PhaseTrial || st.TrialVersion != "2.0.0" || st.Boots != 0 {
		t.Errorf("after install: %+v", st)
	}

	br, daemon := d.boot()
	if br.Slot != "b" || !br.Trial || br.Boots != 1 || br.RolledBack || br.RestartRequired || br.Version != "2.0.0" {
		t.Errorf("boot %+v", br)
	}
	// The daemon calls Boot too: the same start, not counted twice.
	if again, err := daemon.Boot(); err != nil || again.Boots != 1 {
		t.Errorf("daemon's Boot: %+v %v", again, err)
	}
	ok, err := daemon.Confirm()
	if !ok || err != nil {
		t.Fatalf("Confirm = %v, %v", ok, err)
	}
	if ok, err := daemon.Confirm(); ok || err != nil {
		t.Errorf("second Confirm = %v, %v", ok, err)
	}
	st := d.status()
	if st.Phase != install.PhaseIdle || st.Outcome != install.OutcomeConfirmed || st.Floor != "2.0.0" || st.Current != "b" ||
		st.Slots["a"] != "1.0.0" || st.Slots["b"] != "2.0.0" {
		t.Errorf("after confirm: %+v", st)
	}
	// Replaying signed bundles at or below the floor is refused.
	for _, v := range []string{"1.0.0", "2.0.0", "1.9.9", "2.0.0-rc.1"} {
		if _, err := d.install(otatest.NewBundle(t, v, otatest.Binary(v, 100))); !errors.Is(err, ota.ErrDowngrade) {
			t.Errorf("replay %s: %v", v, err)
		}
	}
	// The next update goes to slot a; b is the previous.
	if res, err := d.install(otatest.NewBundle(t, "3.0.0", v3)); err != nil || res.Slot != "a" || res.Previous != "b" {
		t.Fatalf("3.0.0: %+v %v", res, err)
	}
	otatest.CheckOneValid(t, d.dir, v3)
}

func TestConfirmFromOtherProcessIsNoOp(t *testing.T) {
	d := newDevice(t)
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
		t.Fatal(err)
	}
	// The old daemon (slot a) is still running: its Confirm must not
	// confirm the new version it never ran.
	if ok, err := d.process("a").Confirm(); ok || err != nil {
		t.Fatalf("old daemon's Confirm = %v, %v", ok, err)
	}
	if st := d.status(); st.Phase != install.PhaseTrial {
		t.Errorf("phase %s", st.Phase)
	}
}

// TestRejectedLeavesNoTrace: every refused bundle leaves every file, link
// and the state as they were.
func TestRejectedLeavesNoTrace(t *testing.T) {
	good := otatest.NewBundle(t, "2.0.0", v2)
	s, _ := ota.Sign(otatest.Manifest("2.0.0", v2), otatest.Key(0))
	hdr := len(s.Header())
	flip := func(off int) []byte {
		b := bytes.Clone(good)
		b[off] ^= 0x10
		return b
	}
	with := func(f func(*ota.Manifest)) []byte {
		m := otatest.Manifest("2.0.0", v2)
		f(&m)
		return otatest.Bundle(t, 0, m, v2)
	}
	other := ota.Arch{GOOS: "linux", GOARCH: "arm", GOARM: "7"}
	if ota.RunningArch().GOARCH == "arm" {
		other = ota.Arch{GOOS: "linux", GOARCH: "riscv64"}
	}
	cases := []struct {
		name   string
		bundle []byte
		size   int64 // 0: len(bundle)
		opts   func(*install.Options)
		want   error
	}{
		{"flipped bit in binary", flip(hdr + 1000), 0, nil, ota.ErrHashMismatch},
		{"flipped bit in last binary byte", flip(len(good) - 1), 0, nil, ota.ErrHashMismatch},
		{"flipped bit in manifest", flip(30), 0, nil, ota.ErrBadSignature},
		{"flipped bit in signature", flip(hdr - 1), 0, nil, ota.ErrBadSignature},
		{"wrong key", otatest.Bundle(t, 7, otatest.Manifest("2.0.0", v2), v2), 0, nil, ota.ErrUnknownKey},
		{"no keys configured", good, 0, func(o *install.Options) { o.Keys = nil }, ota.ErrUnknownKey},
		{"expired", with(func(m *ota.Manifest) { m.Expires = otatest.Created.Add(time.Hour) }), 0, nil, ota.ErrExpired},
		{"older version", otatest.NewBundle(t, "0.9.0", v2), 0, nil, ota.ErrDowngrade},
		{"same version", otatest.NewBundle(t, "1.0.0", v2), 0, nil, ota.ErrDowngrade},
		{"running version is the floor", otatest.NewBundle(t, "1.5.0", v2), 0, func(o *install.Options) { o.Version = "v1.6.0" }, ota.ErrDowngrade},
		{"wrong architecture", with(func(m *ota.Manifest) { m.GOARCH, m.GOARM = other.GOARCH, other.GOARM }), 0, nil, ota.ErrWrongArch},
		{"wrong model", with(func(m *ota.Manifest) { m.Model = "gate" }), 0, nil, ota.ErrWrongModel},
		{"truncated in header", good[:hdr-10], 0, nil, ota.ErrTruncated},
		{"truncated in binary", good[:len(good)-1], -1, nil, ota.ErrTruncated},
		{"trailing data", append(bytes.Clone(good), 'x'), -1, nil, ota.ErrMalformed},
		{"oversized binary", good, 0, func(o *install.Options) { o.MaxSize = int64(len(v2)) - 1 }, ota.ErrTooLarge},
		{"oversized offer", good, 1 << 40, nil, ota.ErrTooLarge},
		{"offer size differs", good, int64(len(good)) + 1, nil, ota.ErrMalformed},
		{"no free space", good, 0, func(o *install.Options) {
			o.FreeSpace = func(string) (uint64, error) { return uint64(len(v2)), nil }
		}, install.ErrNoSpace},
		{"not running from the current slot", good, 0, func(o *install.Options) { o.Executable = "/usr/local/bin/doorbelld" }, install.ErrLayout},
		{"garbage", bytes.Repeat([]byte{0xff}, 5000), 0, nil, ota.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDevice(t)
			d.opts = c.opts
			before := otatest.Snapshot(t, d.dir)
			size := c.size
			if size == 0 {
				size = int64(len(c.bundle))
			}
			_, err := d.process("a").Install(context.Background(), bytes.NewReader(c.bundle), size, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "install: ") {
				t.Errorf("error does not name the operation: %q", err)
			}
			if diff := otatest.DiffSnapshots(before, otatest.Snapshot(t, d.dir)); diff != "" {
				t.Errorf("rejected install changed the directory:\n%s", diff)
			}
			t.Log(err)
		})
	}
}

func TestBootCounterRollsBack(t *testing.T) {
	d := newDevice(t)
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
		t.Fatal(err)
	}
	// 2.0.0 crashes before it can confirm: starts 1..3 run it.
	for n := 1; n <= install.DefaultMaxBoots; n++ {
		br, _ := d.boot()
		if br.Slot != "b" || br.Boots != n || br.RolledBack {
			t.Fatalf("start %d: %+v", n, br)
		}
	}
	br, daemon := d.boot()
	if br.Slot != "a" || !br.RolledBack || !br.Trial || br.Version != "1.0.0" {
		t.Fatalf("start 4: %+v", br)
	}
	otatest.CheckOneValid(t, d.dir, v1)
	st := d.status()
	if st.Phase != install.PhaseRollback || st.Outcome != install.OutcomeRolledBack || !strings.Contains(st.Error, "2.0.0 did not confirm its health in 3 starts") {
		t.Errorf("after rollback: %+v", st)
	}
	if ok, err := daemon.Confirm(); !ok || err != nil {
		t.Fatalf("old version's Confirm = %v, %v", ok, err)
	}
	st = d.status()
	if st.Phase != install.PhaseIdle || st.Outcome != install.OutcomeRolledBack || st.Floor != "1.0.0" || st.Current != "a" {
		t.Errorf("after confirming the old version: %+v", st)
	}
	// The failed version is refused for a while, then may try again.
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); !errors.Is(err, install.ErrRecentlyFailed) {
		t.Errorf("retry at once: %v", err)
	}
	d.clock.Advance(install.DefaultRetryAfter)
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
		t.Errorf("retry later: %v", err)
	}
	if _, err := d.install(otatest.NewBundle(t, "2.0.1", v2)); !errors.Is(err, install.ErrTrialPending) {
		t.Errorf("install during a trial: %v", err)
	}
}

func TestRunWindowRollsBack(t *testing.T) {
	d := newDevice(t)
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
		t.Fatal(err)
	}
	_, daemon := d.boot()
	done := make(chan error, 1)
	go func() { done <- daemon.Run(context.Background()) }()
	d.clock.BlockUntil(1)
	d.clock.Advance(install.DefaultConfirmWindow - time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run returned before the window: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	d.clock.Advance(time.Millisecond)
	err := <-done
	if !errors.Is(err, install.ErrRestartRequired) || !strings.Contains(err.Error(), "within 3m0s") {
		t.Fatalf("Run = %v", err)
	}
	otatest.CheckOneValid(t, d.dir, v1)
	// The old version comes back and confirms: not a restart loop.
	br, old := d.boot()
	if br.Slot != "a" || !br.Trial || br.Boots != 1 {
		t.Errorf("boot after rollback: %+v", br)
	}
	if ok, err := old.Confirm(); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if st := d.status(); st.Phase != install.PhaseIdle || st.Outcome != install.OutcomeRolledBack {
		t.Errorf("%+v", st)
	}
}

func TestRunStopsOnConfirm(t *testing.T) {
	d := newDevice(t)
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
		t.Fatal(err)
	}
	_, daemon := d.boot()
	done := make(chan error, 1)
	go func() { done <- daemon.Run(context.Background()) }()
	d.clock.BlockUntil(1)
	if ok, err := daemon.Confirm(); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	d.clock.Advance(time.Hour)
	otatest.CheckOneValid(t, d.dir, v2)
	// Without a trial Run returns at once.
	if err := daemon.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestBothVersionsFail: the new version crashes, and after the rollback
// the previous one does not confirm either: stay on the previous one,
// report, no ping-pong.
func TestBothVersionsFail(t *testing.T) {
	for _, how := range []string{"previous crashes too", "previous never confirms"} {
		t.Run(how, func(t *testing.T) {
			d := newDevice(t)
			if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
				t.Fatal(err)
			}
			for range install.DefaultMaxBoots {
				d.boot()
			}
			br, old := d.boot()
			if !br.RolledBack {
				t.Fatalf("%+v", br)
			}
			if how == "previous crashes too" {
				for range install.DefaultMaxBoots {
					br, _ = d.boot()
				}
			} else {
				done := make(chan error, 1)
				go func() { done <- old.Run(context.Background()) }()
				d.clock.BlockUntil(1)
				d.clock.Advance(install.DefaultConfirmWindow)
				if err := <-done; err != nil {
					t.Fatalf("Run = %v (a failed rollback stays: no restart)", err)
				}
			}
			st := d.status()
			if st.Phase != install.PhaseIdle || st.Outcome != install.OutcomeRollbackFailed || st.Current != "a" ||
				!strings.Contains(st.Error, "staying on it") || !strings.Contains(st.Error, "2.0.0") {
				t.Fatalf("%+v", st)
			}
			// Further starts stay on 1.0.0 and count nothing.
			for range 5 {
				if br, _ := d.boot(); br.Slot != "a" || br.Trial || br.RolledBack {
					t.Fatalf("%+v", br)
				}
			}
			otatest.CheckOneValid(t, d.dir, v1)
			// It recovers (say the broker is back): the next update can come.
			if ok, err := d.process("a").Confirm(); ok || err != nil {
				t.Fatal(ok, err)
			}
			d.clock.Advance(install.DefaultRetryAfter)
			if _, err := d.install(otatest.NewBundle(t, "2.0.1", v3)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVersionMismatchIsNotConfirmed(t *testing.T) {
	d := newDevice(t)
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
		t.Fatal(err)
	}
	d.opts = func(o *install.Options) { o.Version = "v1.9.0" } // the binary is not what the manifest said
	_, daemon := d.boot()
	if ok, err := daemon.Confirm(); ok || !errors.Is(err, install.ErrVersionMismatch) {
		t.Fatalf("Confirm = %v, %v", ok, err)
	}
	d.opts = func(o *install.Options) { o.Version = "v2.0.0" } // git tags carry a v
	_, daemon = d.boot()
	if ok, err := daemon.Confirm(); !ok || err != nil {
		t.Fatalf("Confirm = %v, %v", ok, err)
	}
}

// A development build ("dev", not a version) is not held to the
// manifest's version: it confirms.
func TestDevVersionIsNotChecked(t *testing.T) {
	d := newDevice(t)
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); err != nil {
		t.Fatal(err)
	}
	d.opts = func(o *install.Options) { o.Version = "dev" }
	_, daemon := d.boot()
	if ok, err := daemon.Confirm(); !ok || err != nil {
		t.Fatalf("Confirm = %v, %v", ok, err)
	}
}

func TestOneInstallAtATime(t *testing.T) {
	d := newDevice(t)
	pr, pw := io.Pipe()
	bundle := otatest.NewBundle(t, "2.0.0", v2)
	first := make(chan error, 1)
	go func() {
		_, err := d.process("").Install(context.Background(), pr, int64(len(bundle)), nil)
		first <- err
	}()
	pw.Write(bundle[:100]) // the first install holds the lock now
	if _, err := d.install(otatest.NewBundle(t, "2.0.1", v2)); !errors.Is(err, install.ErrBusy) {
		t.Errorf("concurrent install: %v", err)
	}
	pw.Write(bundle[100:])
	pw.Close()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

func TestInstallCanceled(t *testing.T) {
	d := newDevice(t)
	before := otatest.Snapshot(t, d.dir)
	ctx, cancel := context.WithCancel(context.Background())
	bundle := otatest.NewBundle(t, "2.0.0", v2)
	r := &cancelAfter{r: bytes.NewReader(bundle), n: len(bundle) / 2, cancel: cancel}
	if _, err := d.process("").Install(ctx, r, -1, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if diff := otatest.DiffSnapshots(before, otatest.Snapshot(t, d.dir)); diff != "" {
		t.Errorf("canceled install changed:\n%s", diff)
	}
}

type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	p = p[:min(len(p), 1000)]
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

func TestBootRepairsAndSurvivesBrokenState(t *testing.T) {
	d := newDevice(t)
	link := filepath.Join(d.dir, install.CurrentLink)
	os.Remove(link)
	br, err := d.process("a").Boot()
	if err != nil || br.Slot != "a" || br.Path != filepath.Join(d.dir, "slot-a", install.BinaryName) {
		t.Fatalf("repair: %+v", br)
	}
	otatest.CheckOneValid(t, d.dir, v1)

	// A state file that cannot be read: Boot still says what to start,
	// Install refuses (the floor is unknown).
	os.WriteFile(filepath.Join(d.dir, install.StateFile), []byte("{garbage"), 0o640)
	res, err := d.process("").Boot()
	if !errors.Is(err, install.ErrState) || res.Path == "" {
		t.Fatalf("Boot = %+v, %v", res, err)
	}
	if _, err := d.install(otatest.NewBundle(t, "2.0.0", v2)); !errors.Is(err, install.ErrState) {
		t.Fatalf("Install = %v", err)
	}

	// No binary at all.
	empty := filepath.Join(t.TempDir(), "ota")
	i, _ := install.New(install.Options{Dir: empty})
	if _, err := i.Boot(); !errors.Is(err, install.ErrLayout) {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := os.Stat(empty); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Boot created %s: %v", empty, err)
	}
	os.Mkdir(empty, 0o750)
	if _, err := i.Boot(); !errors.Is(err, install.ErrLayout) {
		t.Errorf("empty dir: %v", err)
	}
}

func TestSeedRefusesExistingLayout(t *testing.T) {
	d := newDevice(t)
	i, _ := install.New(install.Options{Dir: d.dir})
	if err := i.Seed(bytes.NewReader(v2), "2.0.0"); err == nil {
		t.Fatal("Seed over an existing layout")
	}
	if st := d.status(); st.Floor != "1.0.0" || st.Current != "a" || st.Slots["a"] != "1.0.0" {
		t.Errorf("%+v", st)
	}
}
