package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/doorbelld/doorbelld/firmware/fsync"
	"github.com/google/renameio/v2"
)

// switches are the run-time switches Home Assistant flips. They survive
// restarts (a privacy mode that ended with a power cut would be a broken
// promise) in <storage.dir>/switches.json. A change takes effect in memory
// at once; Run saves the newest state behind it, so neither the command
// path nor the event loop (get) ever waits for a write and fsync, and a
// burst of changes costs one write. What set is given as saved runs once
// the state is durable (file and directory fsynced): the acknowledgement
// on the state topic, so an acknowledged switch survives a power cut.
type switches struct {
	mu      sync.Mutex
	path    string
	Privacy bool          `json:"privacy"`
	Chime   bool          `json:"chime"`
	dirty   chan struct{} // capacity 1: a change waits to be saved
	saved   []func()      // to run after the next save
	log     *slog.Logger
}

// loadSwitches reads the saved switches; absent, chime starts as the
// config says and privacy off.
func loadSwitches(dir string, chime bool, log *slog.Logger) (*switches, error) {
	s := &switches{path: filepath.Join(dir, "switches.json"), Chime: chime, dirty: make(chan struct{}, 1), log: log}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err == nil {
		err = json.Unmarshal(b, s)
	}
	if err != nil {
		return s, fmt.Errorf("daemon: read switches %s: %w", s.path, err)
	}
	return s, nil
}

// get returns the switches.
func (s *switches) get() (privacy, chime bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Privacy, s.Chime
}

// set changes switches in memory; Run saves them, then calls saved (if
// not nil).
func (s *switches) set(f func(*switches), saved func()) {
	s.mu.Lock()
	f(s)
	if saved != nil {
		s.saved = append(s.saved, saved)
	}
	s.mu.Unlock()
	select {
	case s.dirty <- struct{}{}:
	default: // a save is pending: it will write this state too
	}
}

// Run saves the switches after each change until ctx is done, and once
// more then if a change is still unsaved.
func (s *switches) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			select {
			case <-s.dirty:
				s.save()
			default:
			}
			return nil
		case <-s.dirty:
			s.save()
		}
	}
}

func (s *switches) save() {
	s.mu.Lock()
	b, _ := json.Marshal(s)
	saved := s.saved
	s.saved = nil
	s.mu.Unlock()
	// renameio fsyncs the file; the directory's fsync makes the rename
	// itself durable.
	err := renameio.WriteFile(s.path, b, 0o640)
	if err == nil {
		err = fsync.Dir(filepath.Dir(s.path))
	}
	if err != nil {
		// The switch is in effect all the same; only a restart would
		// forget it.
		s.log.Error("daemon: save switches", "path", s.path, "err", err)
	}
	for _, f := range saved {
		f()
	}
}
