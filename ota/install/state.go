package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/doorbelld/doorbelld/firmware/fsync"
)

// Outcome is how the last update attempt ended.
type Outcome string

// Outcomes.
const (
	OutcomeNone      Outcome = ""
	OutcomeConfirmed Outcome = "confirmed" // the new version confirmed its health
	// OutcomeRolledBack: the new version did not confirm; the previous one
	// runs again (Status.Error says why).
	OutcomeRolledBack Outcome = "rolled_back"
	// OutcomeRollbackFailed: the new version failed, and the previous one
	// did not confirm after the rollback either; it stays.
	OutcomeRollbackFailed Outcome = "rollback_failed"
	// OutcomeInterrupted: an install stopped (crash, power cut) before it
	// switched to the new binary; the old one runs.
	OutcomeInterrupted Outcome = "interrupted"
)

const (
	kindUpdate   = "update"   // a new version on trial
	kindRollback = "rollback" // the previous version, back after a failed trial
	stateFormat  = 1
)

// diskState is state.json.
type diskState struct {
	Format int `json:"format"`
	// Floor is the highest version ever confirmed; nothing at or below it
	// installs.
	Floor string `json:"floor,omitempty"`
	// Good is the slot of the last confirmed version.
	Good  string               `json:"good,omitempty"`
	Slots map[string]slotState `json:"slots,omitempty"`
	Trial *trial               `json:"trial,omitempty"`
	// Outcome and Error report the last attempt.
	Outcome Outcome `json:"outcome,omitempty"`
	Error   string  `json:"error,omitempty"`
	// Failed is the last version that failed its trial.
	Failed *failed `json:"failed,omitempty"`
}

type slotState struct {
	Version   string    `json:"version,omitempty"`
	SHA256    string    `json:"sha256,omitempty"`
	Installed time.Time `json:"installed,omitzero"`
}

type trial struct {
	Kind    string    `json:"kind"` // kindUpdate | kindRollback
	Slot    string    `json:"slot"`
	From    string    `json:"from,omitempty"` // update: the slot to roll back to
	Version string    `json:"version"`
	Boots   int       `json:"boots"`
	Starter string    `json:"starter,omitempty"` // StartID of the start counted last
	Armed   time.Time `json:"armed"`
}

type failed struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
}

func (i *Installer) statePath() string { return filepath.Join(i.o.Dir, StateFile) }

// load reads state.json; a missing file is a fresh state.
func (i *Installer) load() (*diskState, error) {
	b, err := os.ReadFile(i.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return &diskState{Format: stateFormat}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("install: read %s: %v: %w", i.statePath(), err, ErrState)
	}
	var st diskState
	if err := json.Unmarshal(b, &st); err != nil || st.Format != stateFormat {
		if err == nil {
			err = fmt.Errorf("format %d, want %d", st.Format, stateFormat)
		}
		return nil, fmt.Errorf("install: %s: %v (move it away to start over, losing the version floor): %w", i.statePath(), err, ErrState)
	}
	if st.Trial != nil && !validSlot(st.Trial.Slot) {
		return nil, fmt.Errorf("install: %s: trial slot %q: %w", i.statePath(), st.Trial.Slot, ErrState)
	}
	return &st, nil
}

// save replaces state.json atomically and durably.
func (i *Installer) save(st *diskState) error {
	st.Format = stateFormat
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("install: encode state: %w", err)
	}
	if err := writeFileAtomic(i.statePath(), append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("install: write state: %w", err)
	}
	if err := fsync.Dir(i.o.Dir); err != nil {
		return fmt.Errorf("install: write state: %w", err)
	}
	return nil
}

func validSlot(s string) bool { return s == SlotA || s == SlotB }

func other(s string) string {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}
