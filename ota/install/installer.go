package install

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/doorbelld/doorbelld/firmware/fsync"
	"github.com/doorbelld/doorbelld/ota"
)

// Installer installs bundles into Options.Dir and runs the health trial.
// Its methods are safe for concurrent use, and for use by several
// processes on one Dir (the launcher, the daemon, doorbellctl).
type Installer struct {
	o         Options
	confirmed chan struct{} // closed when this process confirmed its trial
	once      sync.Once
}

// New checks o and fills in defaults. It touches nothing on disk.
func New(o Options) (*Installer, error) {
	if err := o.ensureDefaults(); err != nil {
		return nil, err
	}
	return &Installer{o: o, confirmed: make(chan struct{})}, nil
}

// Dir returns the OTA directory.
func (i *Installer) Dir() string { return i.o.Dir }

// SlotBinary returns the path of a slot's binary.
func (i *Installer) SlotBinary(slot string) string {
	return filepath.Join(i.o.Dir, "slot-"+slot, BinaryName)
}

// Result is a successful Install.
type Result struct {
	Manifest ota.Manifest
	Slot     string // where the new binary is
	Previous string // the slot rolled back to if the new one fails
	// RestartRequired is always true after an install: current points at
	// the new binary, which runs once the daemon exits with ExitRestart.
	RestartRequired bool
}

// Install reads a bundle from r and, when it is valid for this device and
// newer than the version floor, puts it into the inactive slot and points
// current at it. size is the bundle's length if known (a transfer's or
// Content-Length), else -1 (or 0). progress, if set, gets bundle bytes read and
// the total after the header and then after each write.
//
// Every check (signature, model, architecture, expiry, version floor,
// size, free space, hash) passes before anything the daemon starts
// changes; a failed Install leaves the slots, current and state.json as
// they were. After a successful Install the daemon must exit with
// ExitRestart; the new version then has to Confirm.
func (i *Installer) Install(ctx context.Context, r io.Reader, size int64, progress func(done, total int64)) (Result, error) {
	res, err := i.install(ctx, r, size, progress)
	if err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	return res, nil
}

func (i *Installer) install(ctx context.Context, r io.Reader, size int64, progress func(done, total int64)) (Result, error) {
	if i.o.Keys.Len() == 0 {
		return Result{}, fmt.Errorf("no trusted keys configured: %w", ota.ErrUnknownKey)
	}
	if limit := i.o.MaxSize + ota.MaxHeaderSize; size > limit {
		return Result{}, fmt.Errorf("offered bundle of %d bytes, at most %d: %w", size, limit, ota.ErrTooLarge)
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	unlock, err := i.lock(false)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	i.o.Hook(StepLocked)

	st, err := i.load()
	if err != nil {
		return Result{}, err
	}
	if t := st.Trial; t != nil {
		return Result{}, fmt.Errorf("%s %s in slot %s has not confirmed its health yet: %w", t.Kind, t.Version, t.Slot, ErrTrialPending)
	}
	cur, err := i.currentSlot()
	if err != nil {
		return Result{}, err
	}
	if run := i.runningSlot(); run != cur {
		return Result{}, fmt.Errorf("this process runs %s, not %s: the unit must start the current slot (via doorbelld-boot): %w",
			i.executable(), i.SlotBinary(cur), ErrLayout)
	}
	target := other(cur)

	rd := ctxReader{ctx: ctx, r: r}
	b, err := ota.Open(rd, i.o.Keys)
	if err != nil {
		return Result{}, err
	}
	m := b.Manifest
	now := i.o.Clock.Now()
	if err := m.Check(ota.Policy{Now: now, Arch: i.o.Arch, Model: i.o.Model, Floor: i.floor(st, cur), MaxSize: i.o.MaxSize}); err != nil {
		return Result{}, err
	}
	if size > 0 && size != b.Size() {
		return Result{}, fmt.Errorf("offered %d bytes, the bundle of %s is %d: %w", size, m.Version, b.Size(), ota.ErrMalformed)
	}
	if f := st.Failed; f != nil && sameVersion(f.Version, m.Version) && now.Sub(f.At) < i.o.RetryAfter {
		return Result{}, fmt.Errorf("version %s failed its health check at %s; offered again before %s: %w",
			m.Version, f.At.UTC().Format("2006-01-02 15:04:05Z"), f.At.Add(i.o.RetryAfter).UTC().Format("15:04:05Z"), ErrRecentlyFailed)
	}
	i.o.Hook(StepVerified)

	placed := false
	free, err := i.o.FreeSpace(i.o.Dir)
	if err != nil {
		return Result{}, err
	}
	if need := uint64(m.Size + i.o.Reserve); free < need {
		return Result{}, fmt.Errorf("%d bytes free in %s, need %d (binary %d + reserve %d): %w", free, i.o.Dir, need, m.Size, i.o.Reserve, ErrNoSpace)
	}
	dir := filepath.Dir(i.SlotBinary(target))
	if _, err := os.Stat(dir); err != nil {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return Result{}, err
		}
		defer func() {
			if !placed {
				os.Remove(dir) // only if empty: what this install created
			}
		}()
	}
	cleanTemp(dir, "."+BinaryName)

	pf, err := newPendingFile(i.SlotBinary(target))
	if err != nil {
		return Result{}, fmt.Errorf("create temp file: %w", err)
	}
	defer pf.Cleanup()
	total := b.Size()
	done := b.HeaderSize
	progress(done, total)
	buf := make([]byte, 64<<10)
	bin := b.Binary()
	first := true
	for {
		n, rerr := bin.Read(buf)
		if n > 0 {
			if _, err := pf.Write(buf[:n]); err != nil {
				return Result{}, fmt.Errorf("write %s: %w", pf.Name(), err)
			}
			if first {
				i.o.Hook(StepWriting)
				first = false
			}
			done += int64(n)
			progress(done, total)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return Result{}, rerr // the bundle's errors name themselves
		}
	}
	i.o.Hook(StepWritten)
	if err := pf.Sync(); err != nil {
		return Result{}, fmt.Errorf("fsync %s: %w", pf.Name(), err)
	}
	i.o.Hook(StepSynced)
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return Result{}, fmt.Errorf("place %s: %w", i.SlotBinary(target), err)
	}
	placed = true
	if err := fsync.Dir(dir); err != nil {
		return Result{}, fmt.Errorf("place %s: %w", i.SlotBinary(target), err)
	}
	i.o.Hook(StepPlaced)

	if st.Slots == nil {
		st.Slots = map[string]slotState{}
	}
	st.Slots[target] = slotState{Version: m.Version, SHA256: m.SHA256, Installed: now}
	if st.Good == "" {
		st.Good = cur
	}
	st.Trial = &trial{Kind: kindUpdate, Slot: target, From: cur, Version: m.Version, Armed: now}
	st.Outcome, st.Error = OutcomeNone, ""
	if err := i.save(st); err != nil {
		return Result{}, err
	}
	i.o.Hook(StepArmed)
	if err := i.setCurrent(target); err != nil {
		if now, cerr := i.currentSlot(); cerr != nil || now != target {
			// current still names the old slot: take the trial back (and
			// should that fail too, Boot drops it).
			st.Trial = nil
			_ = i.save(st)
			return Result{}, err
		}
		// Switched, but the directory fsync failed: the switch stands.
		i.o.Logger.Warn("ota: switched to the new slot, but could not make it durable", "err", err)
	}
	i.o.Hook(StepSwapped)
	i.o.Logger.Info("ota: update installed; restart to run it", "version", m.Version, "slot", target,
		"previous", cur, "key", b.KeyID.String(), "bytes", m.Size)
	return Result{Manifest: m, Slot: target, Previous: cur, RestartRequired: true}, nil
}

// floor is the version a bundle must exceed: the recorded floor, the
// running version and the current slot's.
func (i *Installer) floor(st *diskState, cur string) string {
	f := ""
	for _, v := range []string{st.Floor, i.o.Version, st.Slots[cur].Version} {
		if _, err := ota.ParseVersion(v); err != nil {
			continue
		}
		if c, _ := ota.CompareVersions(v, f); f == "" || c > 0 {
			f = v
		}
	}
	return f
}

func sameVersion(a, b string) bool {
	c, err := ota.CompareVersions(a, b)
	return err == nil && c == 0
}

// BootResult is what Boot decided.
type BootResult struct {
	Slot    string // the slot to run: where current points
	Path    string // its binary
	Version string // its version as installed; "" if unknown
	// Trial: the slot is on trial (a new version, or the previous one after
	// a rollback) and must Confirm.
	Trial bool
	Boots int // starts of the trial so far, this one included
	// RolledBack: this Boot gave up on a new version and switched back.
	RolledBack bool
	// RestartRequired: this process runs another slot than Path; it must
	// exit with ExitRestart (only when the daemon itself calls Boot).
	RestartRequired bool
}

// Boot is called once per start, before the daemon does anything else: by
// the launcher doorbelld-boot before it execs the current slot, and by the
// daemon at start (a no-op then, since launcher and daemon are one process
// and Options.StartID counts a start once). It finishes or undoes an
// interrupted install or rollback, repairs a missing current link, counts
// the start of a version on trial, and rolls back when a new version has
// used up MaxBoots starts without confirming. When the previous version
// then fails as well, it stays (OutcomeRollbackFailed).
//
// On error, Path is still set when current names a usable binary: a broken
// state must never stop the doorbell from starting.
func (i *Installer) Boot() (BootResult, error) {
	unlock, err := i.lock(true)
	if err != nil {
		return i.fallback(), err
	}
	defer unlock()
	cleanTemp(i.o.Dir, "."+StateFile, "."+CurrentLink)
	for _, s := range []string{SlotA, SlotB} {
		cleanTemp(filepath.Dir(i.SlotBinary(s)), "."+BinaryName)
	}
	st, err := i.load()
	if err != nil {
		return i.fallback(), err
	}
	cur, err := i.currentSlot()
	if err != nil {
		if cur, err = i.repair(st); err != nil {
			return BootResult{}, err
		}
	}
	res := BootResult{}
	if t := st.Trial; t != nil && t.Slot != cur {
		if t.Kind == kindUpdate {
			// Crashed between recording the trial and switching to it.
			i.o.Logger.Warn("ota: install was interrupted before switching; staying", "version", t.Version, "slot", cur)
			st.Trial = nil
			st.Outcome, st.Error = OutcomeInterrupted, fmt.Sprintf("install of %s was interrupted before switching to it", t.Version)
			if err := i.save(st); err != nil {
				return i.fallback(), err
			}
		} else {
			// Crashed between recording a rollback and switching back.
			if err := i.setCurrent(t.Slot); err != nil {
				return i.fallback(), err
			}
			i.o.Hook(StepRolledBack)
			cur = t.Slot
		}
	}
	if t := st.Trial; t != nil {
		if id := i.o.StartID(); t.Starter != id {
			t.Boots++
			t.Starter = id
			if err := i.save(st); err != nil {
				return i.fallback(), err
			}
			i.o.Hook(StepCounted)
		}
		res.Boots = t.Boots
		if t.Boots > i.o.MaxBoots {
			reason := fmt.Sprintf("version %s did not confirm its health in %d starts", t.Version, i.o.MaxBoots)
			if t.Kind == kindUpdate {
				if err := i.rollback(st, reason, true); err != nil {
					return i.fallback(), err
				}
				cur = st.Trial.Slot
				res.RolledBack, res.Boots = true, st.Trial.Boots
			} else {
				if err := i.giveUp(st, reason); err != nil {
					return i.fallback(), err
				}
			}
		}
	}
	res.Slot, res.Path, res.Version = cur, i.SlotBinary(cur), st.Slots[cur].Version
	res.Trial = st.Trial != nil
	if run := i.runningSlot(); run != "" && run != cur {
		res.RestartRequired = true
	}
	return res, nil
}

// fallback is Boot's answer when the state is broken: run what current
// names, if anything.
func (i *Installer) fallback() BootResult {
	cur, err := i.currentSlot()
	if err != nil {
		return BootResult{}
	}
	return BootResult{Slot: cur, Path: i.SlotBinary(cur)}
}

// repair points a missing or broken current link at the known-good slot,
// or at the only slot with a binary.
func (i *Installer) repair(st *diskState) (string, error) {
	cands := []string{SlotA, SlotB}
	if validSlot(st.Good) {
		cands = []string{st.Good, other(st.Good)}
	}
	for _, s := range cands {
		if fi, err := os.Stat(i.SlotBinary(s)); err == nil && fi.Mode().IsRegular() {
			i.o.Logger.Warn("ota: current link missing or broken; repaired", "slot", s)
			return s, i.setCurrent(s)
		}
	}
	return "", fmt.Errorf("install: no binary in %s: install one (doorbelld-boot --seed): %w", i.o.Dir, ErrLayout)
}

// rollback records a rollback from the trial in st to its previous slot,
// then switches current to it. counted: this start already counts as the
// previous slot's first (Boot execs it next).
func (i *Installer) rollback(st *diskState, reason string, counted bool) error {
	t := st.Trial
	prev := t.From
	if !validSlot(prev) {
		prev = other(t.Slot)
	}
	now := i.o.Clock.Now()
	i.o.Logger.Error("ota: rolling back", "reason", reason, "to", st.Slots[prev].Version, "slot", prev)
	st.Failed = &failed{Version: t.Version, At: now}
	st.Outcome = OutcomeRolledBack
	st.Error = fmt.Sprintf("%s; rolled back to %s", reason, versionOr(st.Slots[prev].Version))
	nt := &trial{Kind: kindRollback, Slot: prev, Version: st.Slots[prev].Version, Armed: now}
	if counted {
		nt.Boots, nt.Starter = 1, t.Starter
	}
	st.Trial = nt
	if err := i.save(st); err != nil {
		return err
	}
	i.o.Hook(StepRollbackArmed)
	if err := i.setCurrent(prev); err != nil {
		return err // Boot finishes it
	}
	i.o.Hook(StepRolledBack)
	return nil
}

// giveUp ends a rollback trial that failed too: stay, report.
func (i *Installer) giveUp(st *diskState, reason string) error {
	t := st.Trial
	i.o.Logger.Error("ota: the previous version fails too after a rollback; staying on it", "version", t.Version, "reason", reason)
	msg := fmt.Sprintf("after the rollback, %s (previous) failed too: %s; staying on it", versionOr(t.Version), reason)
	if st.Error != "" {
		msg = st.Error + "; " + msg
	}
	st.Trial = nil
	st.Outcome, st.Error = OutcomeRollbackFailed, msg
	return i.save(st)
}

func versionOr(v string) string {
	if v == "" {
		return "the previous version"
	}
	return v
}

// Confirm tells the installer that the running daemon is healthy (broker
// connected, GPIO lines open). When this process runs a version on trial,
// the trial ends: a new version becomes the known-good one and raises the
// version floor; a rolled-back one is known-good again. Otherwise it does
// nothing, cheaply, so the daemon may call it on every healthy moment. It
// reports whether it ended a trial. With Options.Version a semantic
// version, a new version whose running version differs from its
// manifest's is not confirmed (ErrVersionMismatch), and Run rolls it back.
func (i *Installer) Confirm() (bool, error) {
	st, err := i.load()
	if err != nil {
		return false, err
	}
	run := i.runningSlot()
	if st.Trial == nil || run == "" || st.Trial.Slot != run {
		return false, nil
	}
	unlock, err := i.lock(true)
	if err != nil {
		return false, err
	}
	defer unlock()
	if st, err = i.load(); err != nil {
		return false, err
	}
	t := st.Trial
	if t == nil || t.Slot != run {
		return false, nil
	}
	if _, perr := ota.ParseVersion(i.o.Version); t.Kind == kindUpdate && perr == nil && !sameVersion(i.o.Version, t.Version) {
		return false, fmt.Errorf("install: confirm: running version %q, manifest says %s: %w", i.o.Version, t.Version, ErrVersionMismatch)
	}
	st.Good = t.Slot
	st.Trial = nil
	if t.Kind == kindUpdate {
		if c, err := ota.CompareVersions(t.Version, st.Floor); st.Floor == "" || err == nil && c > 0 {
			st.Floor = t.Version
		}
		st.Outcome, st.Error = OutcomeConfirmed, ""
		if st.Failed != nil && sameVersion(st.Failed.Version, t.Version) {
			st.Failed = nil
		}
	}
	// A rollback keeps OutcomeRolledBack and its error: that is the news.
	if err := i.save(st); err != nil {
		return false, err
	}
	i.o.Hook(StepConfirmed)
	i.once.Do(func() { close(i.confirmed) })
	i.o.Logger.Info("ota: version confirmed healthy", "version", t.Version, "slot", t.Slot, "kind", t.Kind)
	return true, nil
}

// Run watches this process's trial, if it runs one: without Confirm
// within ConfirmWindow, a new version is rolled back and Run returns an
// error wrapping ErrRestartRequired (exit with ExitRestart); a rolled-back
// previous version that does not confirm either stays, reported as
// OutcomeRollbackFailed, and Run returns nil. Without a trial, and when
// ctx ends, Run returns nil at once.
func (i *Installer) Run(ctx context.Context) error {
	st, err := i.load()
	if err != nil {
		i.o.Logger.Error("ota: not watching the health trial", "err", err)
		return nil
	}
	run := i.runningSlot()
	if st.Trial == nil || run == "" || st.Trial.Slot != run {
		return nil
	}
	i.o.Logger.Info("ota: on trial: waiting for health confirmation", "version", st.Trial.Version,
		"kind", st.Trial.Kind, "start", st.Trial.Boots, "window", i.o.ConfirmWindow)
	t := i.o.Clock.NewTimer(i.o.ConfirmWindow)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-i.confirmed:
		return nil
	case <-t.Chan():
	}
	return i.expire(run)
}

func (i *Installer) expire(run string) error {
	unlock, err := i.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := i.load()
	if err != nil {
		return err
	}
	t := st.Trial
	if t == nil || t.Slot != run {
		return nil // confirmed meanwhile
	}
	reason := fmt.Sprintf("version %s did not confirm its health within %v", t.Version, i.o.ConfirmWindow)
	if t.Kind == kindRollback {
		return i.giveUp(st, reason)
	}
	if err := i.rollback(st, reason, false); err != nil {
		return err
	}
	return fmt.Errorf("install: %s: %w", st.Error, ErrRestartRequired)
}

// Phase is where the update cycle stands.
type Phase string

// Phases.
const (
	PhaseIdle     Phase = "idle"     // no trial
	PhaseTrial    Phase = "trial"    // a new version must confirm its health
	PhaseRollback Phase = "rollback" // rolled back; the previous version must confirm
)

// Status is a snapshot of the OTA state, for the state topic and doorbellctl.
type Status struct {
	Phase   Phase   `json:"phase"`
	Outcome Outcome `json:"outcome,omitempty"` // of the last attempt
	Error   string  `json:"error,omitempty"`   // why it failed
	Current string  `json:"current"`           // slot current points at
	Running string  `json:"running,omitempty"` // slot this process runs; "" when not from a slot
	Version string  `json:"version,omitempty"` // in Current, as installed
	Floor   string  `json:"floor,omitempty"`
	// TrialVersion and Boots describe the trial, if any.
	TrialVersion string            `json:"trial_version,omitempty"`
	Boots        int               `json:"boots,omitempty"`
	MaxBoots     int               `json:"max_boots"`
	Slots        map[string]string `json:"slots,omitempty"` // slot → version
}

// Status reads the state. It takes no lock.
func (i *Installer) Status() (Status, error) {
	st, err := i.load()
	if err != nil {
		return Status{}, err
	}
	s := Status{Phase: PhaseIdle, Outcome: st.Outcome, Error: st.Error, Floor: st.Floor,
		Running: i.runningSlot(), MaxBoots: i.o.MaxBoots, Slots: map[string]string{}}
	if cur, err := i.currentSlot(); err == nil {
		s.Current, s.Version = cur, st.Slots[cur].Version
	}
	for k, v := range st.Slots {
		s.Slots[k] = v.Version
	}
	if t := st.Trial; t != nil {
		s.Phase = PhaseTrial
		if t.Kind == kindRollback {
			s.Phase = PhaseRollback
		}
		s.TrialVersion, s.Boots = t.Version, t.Boots
	}
	return s, nil
}

// Candidates returns the binaries to try, in order, for a job every
// version can do and that must be done even when a new version cannot
// start (doorbelld --release-outputs after a stop): current's, then the
// known-good slot's when that is another slot with a binary. It takes no
// lock and changes nothing; a broken state gives current's alone.
func (i *Installer) Candidates() []string {
	var bins []string
	cur, err := i.currentSlot()
	if err == nil {
		bins = append(bins, i.SlotBinary(cur))
	}
	st, err := i.load()
	if err != nil || !validSlot(st.Good) || st.Good == cur {
		return bins
	}
	if fi, err := os.Stat(i.SlotBinary(st.Good)); err == nil && fi.Mode().IsRegular() {
		bins = append(bins, i.SlotBinary(st.Good))
	}
	return bins
}

// Seed sets up a fresh OTA directory: the binary read from r (version
// version) in slot a, current pointing at it, version as the floor. It is
// what an install script does once; it fails when current exists already.
func (i *Installer) Seed(r io.Reader, version string) error {
	if _, err := ota.ParseVersion(version); err != nil {
		return fmt.Errorf("install: seed: %w", err)
	}
	if err := os.MkdirAll(i.o.Dir, 0o750); err != nil {
		return fmt.Errorf("install: seed: %w", err)
	}
	unlock, err := i.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Lstat(filepath.Join(i.o.Dir, CurrentLink)); err == nil {
		return fmt.Errorf("install: seed: %s exists already; later versions come as updates", filepath.Join(i.o.Dir, CurrentLink))
	}
	st, err := i.load()
	if err != nil {
		return err
	}
	path := i.SlotBinary(SlotA)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("install: seed: %w", err)
	}
	pf, err := newPendingFile(path)
	if err != nil {
		return fmt.Errorf("install: seed: %w", err)
	}
	defer pf.Cleanup()
	sum, _, err := ota.HashFile(io.TeeReader(r, pf))
	if err != nil {
		return fmt.Errorf("install: seed: %w", err)
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("install: seed: %w", err)
	}
	if err := fsync.Dir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("install: seed: %w", err)
	}
	now := i.o.Clock.Now()
	st.Slots = map[string]slotState{SlotA: {Version: version, SHA256: sum, Installed: now}}
	st.Good, st.Trial, st.Outcome, st.Error = SlotA, nil, OutcomeNone, ""
	if f := i.floor(st, SlotA); f != "" {
		st.Floor = f
	}
	if err := i.save(st); err != nil {
		return err
	}
	return i.setCurrent(SlotA)
}

// currentSlot reads the current link.
func (i *Installer) currentSlot() (string, error) {
	link := filepath.Join(i.o.Dir, CurrentLink)
	target, err := os.Readlink(link)
	if err != nil {
		return "", fmt.Errorf("install: %v: %w", err, ErrLayout)
	}
	s := strings.TrimPrefix(filepath.Base(target), "slot-")
	if !validSlot(s) || (filepath.IsAbs(target) && filepath.Dir(target) != i.o.Dir) {
		return "", fmt.Errorf("install: %s points at %q, want slot-a or slot-b: %w", link, target, ErrLayout)
	}
	if fi, err := os.Stat(i.SlotBinary(s)); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("install: %s points at slot %s, which has no binary: %w", link, s, ErrLayout)
	}
	return s, nil
}

// setCurrent points current at slot with rename(2), durably.
func (i *Installer) setCurrent(slot string) error {
	if err := symlinkAtomic("slot-"+slot, filepath.Join(i.o.Dir, CurrentLink)); err != nil {
		return fmt.Errorf("install: switch current to slot %s: %w", slot, err)
	}
	if err := fsync.Dir(i.o.Dir); err != nil {
		return fmt.Errorf("install: switch current to slot %s: %w", slot, err)
	}
	return nil
}

func (i *Installer) executable() string {
	if i.o.Executable != "" {
		return i.o.Executable
	}
	exe, _ := os.Executable()
	return exe
}

// runningSlot returns the slot whose binary this process runs, or "".
func (i *Installer) runningSlot() string {
	exe := i.executable()
	if exe == "" {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	dir := i.o.Dir
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	for _, s := range []string{SlotA, SlotB} {
		if exe == filepath.Join(dir, "slot-"+s, BinaryName) {
			return s
		}
	}
	return ""
}

// cleanTemp removes what a crash left of temp files and dirs: entries of
// dir whose names start with one of prefixes (all start with ".").
func cleanTemp(dir string, prefixes ...string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		for _, p := range prefixes {
			if strings.HasPrefix(e.Name(), p) {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
