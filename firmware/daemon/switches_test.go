package daemon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// The acknowledgement of a switch (saved) runs only once the new state is
// in switches.json: what the owner saw acknowledged survives a power cut.
func TestSwitchAcknowledgedOnceSaved(t *testing.T) {
	dir := t.TempDir()
	s, err := loadSwitches(dir, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	type saved struct{ Privacy, Chime bool }
	onDisk := make(chan saved, 2)
	read := func() {
		var got saved
		b, err := os.ReadFile(filepath.Join(dir, "switches.json"))
		if err == nil {
			err = json.Unmarshal(b, &got)
		}
		if err != nil {
			t.Error(err)
		}
		onDisk <- got
	}
	s.set(func(s *switches) { s.Privacy = true }, read)
	s.set(func(s *switches) { s.Chime = false }, read)
	first, second := <-onDisk, <-onDisk
	if !first.Privacy {
		t.Errorf("privacy acknowledged with %+v on disk", first)
	}
	if !second.Privacy || second.Chime {
		t.Errorf("chime off acknowledged with %+v on disk", second)
	}
	// A restart reads what was acknowledged.
	r, err := loadSwitches(dir, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if p, c := r.get(); !p || c {
		t.Errorf("after a restart privacy=%v chime=%v, want true false", p, c)
	}
}
