// Package install puts verified doorbelld binaries in place on the device
// and brings the previous one back when a new one does not prove healthy.
//
// On-disk layout under Options.Dir (default /var/lib/doorbell/ota):
//
//	slot-a/doorbelld     one binary per slot
//	slot-b/doorbelld
//	current -> slot-a    relative symlink, replaced with rename(2): what systemd starts
//	state.json           floor, known-good slot, trial (boot counter), last outcome
//	lock                 flock(2): one installer, launcher or confirmation at a time
//
// An update (Install) writes the binary into the slot current does not
// point at, so the running binary and the previous one are never touched:
//
//	lock → verify header (signature, model, arch, expiry, version floor, size)
//	     → free space → temp file in the slot, hashed while written → fsync
//	     → rename into the slot → state.json: trial {slot, boots 0}
//	     → current -> new slot → Result{RestartRequired}: exit ExitRestart
//
// Each step is atomic (rename) and fsynced with its directory, and each
// earlier state is one Boot knows: before the trial is recorded the new
// binary is just unused; a recorded trial whose slot current does not point
// at was interrupted and is dropped. A SIGKILL or power cut at any point
// leaves current on a complete binary, old or new.
//
// Health:
//
//	start ─▶ Boot (launcher doorbelld-boot, or the daemon) ─ trial? boots++
//	            boots > MaxBoots ─▶ roll back: current -> previous slot
//	daemon healthy ─▶ Confirm: floor = version, trial ends
//	no Confirm within ConfirmWindow ─▶ Run rolls back, returns ErrRestartRequired
//
// A rollback is itself a trial of the previous version: if that one does
// not confirm either, the installer stays on it (no ping-pong) and reports
// OutcomeRollbackFailed. The version floor only grows, so a replayed older
// bundle, even one correctly signed, is refused (ota.ErrDowngrade).
package install
