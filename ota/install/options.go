package install

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/ota"
)

// Defaults and fixed names.
const (
	DefaultDir           = "/var/lib/doorbell/ota"
	DefaultModel         = "doorbelld"
	DefaultMaxSize       = 64 << 20
	DefaultMaxBoots      = 3
	DefaultConfirmWindow = 3 * time.Minute
	DefaultRetryAfter    = time.Hour
	DefaultReserve       = 8 << 20

	// BinaryName is the binary's name in each slot.
	BinaryName = "doorbelld"
	// CurrentLink is the symlink to the slot to start.
	CurrentLink = "current"
	// StateFile holds the floor, the trial and the last outcome.
	StateFile = "state.json"

	// ExitRestart is the exit code of a daemon whose binary changed
	// (EX_TEMPFAIL). The unit restarts on it: Restart=on-failure does, and
	// RestartForceExitStatus=75 with SuccessExitStatus=75 makes it a clean
	// restart rather than a logged failure.
	ExitRestart = 75
)

// The two slots.
const (
	SlotA = "a"
	SlotB = "b"
)

// Step names a point in Install, Boot, Confirm or a rollback, for
// Options.Hook.
type Step string

// The steps, in order.
const (
	StepLocked   Step = "locked"   // Install: lock taken
	StepVerified Step = "verified" // header verified against signature and policy
	StepWriting  Step = "writing"  // first bytes in the temp file
	StepWritten  Step = "written"  // whole binary in the temp file, hash checked
	StepSynced   Step = "synced"   // temp file fsynced
	StepPlaced   Step = "placed"   // renamed into the slot
	StepArmed    Step = "armed"    // trial recorded in state.json
	StepSwapped  Step = "swapped"  // current points at the new slot

	StepCounted       Step = "counted"        // Boot: boot counter saved
	StepRollbackArmed Step = "rollback-armed" // rollback recorded in state.json
	StepRolledBack    Step = "rolled-back"    // current points at the previous slot
	StepConfirmed     Step = "confirmed"      // Confirm: state saved
)

// InstallSteps are Install's steps in order.
var InstallSteps = []Step{StepLocked, StepVerified, StepWriting, StepWritten, StepSynced, StepPlaced, StepArmed, StepSwapped}

// Options configure an Installer.
type Options struct {
	// Dir holds the slots, the current link and the state; default
	// DefaultDir. It must be on a file system that keeps rename atomic
	// (ext4, f2fs, btrfs; not FAT).
	Dir string
	// Keys are the trusted signing keys; Install refuses everything without.
	Keys *ota.Keyring
	// Model is the device kind bundles must name; default DefaultModel.
	Model string
	// Arch is what this device runs; default ota.RunningArch().
	Arch ota.Arch
	// Version is the running daemon's version (main.version). It raises
	// the floor, and Confirm refuses when it is not the version on trial.
	// Empty or not a semantic version ("dev") skips both; the launcher
	// leaves it empty.
	Version string
	// MaxSize bounds the binary; default DefaultMaxSize.
	MaxSize int64
	// MaxBoots is how many starts a version on trial gets to confirm its
	// health before Boot rolls back; default DefaultMaxBoots.
	MaxBoots int
	// ConfirmWindow is how long a version on trial has, from Run, to
	// confirm; default DefaultConfirmWindow.
	ConfirmWindow time.Duration
	// RetryAfter: a version that failed its trial is refused this long;
	// default DefaultRetryAfter.
	RetryAfter time.Duration
	// Reserve is free space kept beyond the binary; default DefaultReserve.
	Reserve int64
	Clock   clockwork.Clock
	Logger  *slog.Logger
	// Executable is the running binary; default os.Executable(). It tells
	// which slot this process runs from.
	Executable string
	// StartID identifies one start of the daemon, so a start is counted
	// once although the launcher and then the daemon (the same process,
	// after exec) both call Boot. Default: kernel boot id and process id.
	StartID func() string
	// FreeSpace returns the bytes available in dir; default statfs(2).
	FreeSpace func(dir string) (uint64, error)
	// Hook, if set, is called at each Step (tests inject crashes there).
	Hook func(Step)
}

func (o *Options) ensureDefaults() error {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if !filepath.IsAbs(o.Dir) {
		return fmt.Errorf("install: dir %q is not absolute", o.Dir)
	}
	o.Dir = filepath.Clean(o.Dir)
	if o.Model == "" {
		o.Model = DefaultModel
	}
	if o.Arch.IsZero() {
		o.Arch = ota.RunningArch()
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxBoots <= 0 {
		o.MaxBoots = DefaultMaxBoots
	}
	if o.ConfirmWindow <= 0 {
		o.ConfirmWindow = DefaultConfirmWindow
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Reserve <= 0 {
		o.Reserve = DefaultReserve
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.StartID == nil {
		o.StartID = defaultStartID
	}
	if o.FreeSpace == nil {
		o.FreeSpace = freeSpace
	}
	// Every step is logged: the journal says how far an interrupted
	// install got (the power-cut campaign of scripts/board.sh reads it).
	hook, log := o.Hook, o.Logger
	o.Hook = func(s Step) {
		if log != nil {
			log.Info("ota: step", "step", string(s))
		}
		if hook != nil {
			hook(s)
		}
	}
	return nil
}

func defaultStartID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b)) + "/" + strconv.Itoa(os.Getpid())
}
