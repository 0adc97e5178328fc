package otatest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/ota"
)

// Package paths of the programs System runs.
const (
	LauncherPkg   = "github.com/doorbelld/doorbelld/ota/cmd/doorbelld-boot"
	FakeDaemonPkg = "github.com/doorbelld/doorbelld/ota/otatest/fakedaemon"
)

// Build builds the main package pkg with main.version set to version and
// returns the binary's path in a temp dir of t. It skips t when there is
// no go command.
func Build(t testing.TB, pkg, version string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build", pkg)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(pkg)+"-"+version)
	cmd := exec.Command(goTool, "build", "-o", out, "-ldflags", "-X main.version="+version, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Event is one line a fakedaemon start printed, with its exit code.
type Event struct {
	Version string `json:"version"`
	Slot    string `json:"slot"`
	Event   string `json:"event"`
	Error   string `json:"error,omitempty"`
	Exit    int    `json:"-"`
}

// System is a simulated systemd unit: ExecStart=Launcher --dir Dir --
// (which execs the current slot, a fakedaemon), Restart=on-failure.
type System struct {
	Launcher string // doorbelld-boot binary
	Dir      string // OTA directory
	Keys     string // file with the trusted public keys
	Plan     map[string]string
	Window   string // confirmation window, e.g. "300ms"
	// Install, if set, is a bundle file the next confirmed version installs.
	Install   string
	MaxStarts int // default 20
}

// WriteKeys writes the public keys of the test keys ns to a file in t's
// temp dir and returns its path.
func WriteKeys(t testing.TB, ns ...int) string {
	t.Helper()
	var b []byte
	for _, n := range ns {
		b = append(b, ota.MarshalPublicKey(Public(n))...)
	}
	p := filepath.Join(t.TempDir(), "keys.pem")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Run starts the unit and restarts it after every exit but 0, as
// Restart=on-failure does, until a start exits 0 or MaxStarts starts. It
// returns what every start printed.
func (s *System) Run(t testing.TB) []Event {
	t.Helper()
	if s.MaxStarts == 0 {
		s.MaxStarts = 20
	}
	plan, _ := json.Marshal(s.Plan)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(planFile, plan, 0o644); err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for n := 0; n < s.MaxStarts; n++ {
		cmd := exec.Command(s.Launcher, "--dir", s.Dir, "--")
		cmd.Env = append(os.Environ(), "OTATEST_DIR="+s.Dir, "OTATEST_KEYS="+s.Keys, "OTATEST_PLAN="+planFile,
			"OTATEST_WINDOW="+s.Window, "OTATEST_INSTALL="+s.Install)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("start %d: %v", n+1, err)
		}
		printed := strings.TrimSpace(stdout.String())
		got := false
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				e.Exit = code
				evs = append(evs, e)
				got = true
			}
		}
		if !got {
			evs = append(evs, Event{Event: "no output: " + strings.TrimSpace(stderr.String()), Exit: code})
		}
		t.Logf("start %d: exit %d: %s", n+1, code, printed)
		if code == 0 {
			return evs
		}
	}
	t.Fatalf("still restarting after %d starts", s.MaxStarts)
	return evs
}
