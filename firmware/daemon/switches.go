package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/renameio/v2"
)

// switches are the run-time switches Home Assistant flips. They survive
// restarts (a privacy mode that ended with a power cut would be a broken
// promise) in <storage.dir>/switches.json.
type switches struct {
	mu      sync.Mutex
	path    string
	Privacy bool `json:"privacy"`
	Chime   bool `json:"chime"`
}

// loadSwitches reads the saved switches; absent, chime starts as the
// config says and privacy off.
func loadSwitches(dir string, chime bool) (*switches, error) {
	s := &switches{path: filepath.Join(dir, "switches.json"), Chime: chime}
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

// set changes one switch and saves them, atomically.
func (s *switches) set(f func(*switches)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
	b, _ := json.Marshal(s)
	if err := renameio.WriteFile(s.path, b, 0o640); err != nil {
		return fmt.Errorf("daemon: save switches %s: %w", s.path, err)
	}
	return nil
}
