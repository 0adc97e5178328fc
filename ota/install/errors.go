package install

import "errors"

// Sentinel errors of the installer. Bundle errors are package ota's
// (ota.ErrBadSignature, ota.ErrDowngrade, ...), wrapped.
var (
	// ErrBusy: another install holds the lock.
	ErrBusy = errors.New("another update is in progress")
	// ErrTrialPending: a new version is on trial; nothing installs until it
	// is confirmed or rolled back.
	ErrTrialPending = errors.New("an update is awaiting health confirmation")
	// ErrNoSpace: not enough free space for the binary.
	ErrNoSpace = errors.New("not enough free space")
	// ErrLayout: the OTA directory is not set up, or this process does not
	// run from its current slot.
	ErrLayout = errors.New("OTA layout not usable")
	// ErrState: state.json cannot be read; updates stop until it is fixed
	// (the version floor would be lost otherwise).
	ErrState = errors.New("OTA state unreadable")
	// ErrRecentlyFailed: this version failed its trial a short while ago.
	ErrRecentlyFailed = errors.New("version failed recently")
	// ErrVersionMismatch: the running daemon's version is not the version
	// its bundle's manifest named; it is not confirmed.
	ErrVersionMismatch = errors.New("running version differs from the installed manifest")
	// ErrRestartRequired: the binary to run changed (an update was put in
	// place, or a trial was rolled back); the daemon must exit with
	// ExitRestart so systemd starts the current slot.
	ErrRestartRequired = errors.New("restart required")
)
