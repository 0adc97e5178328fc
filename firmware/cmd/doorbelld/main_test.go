package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckConfig(t *testing.T) {
	valid := "device:\n  id: front_door\n  name: Front door\ngpio:\n  button:\n    line: GPIO17\nstorage:\n  dir: " + t.TempDir() + "\n"
	tests := []struct {
		name     string
		body     string
		wantCode int
		want     []string // each must appear in the output
	}{
		{"valid", valid, 0, []string{"is valid"}},
		{"debounce banana", strings.Replace(valid, "line: GPIO17\n", "line: GPIO17\n    debounce: banana\n", 1), 2,
			[]string{"line 7: gpio.button.debounce", `"banana"`, "Go duration"}},
		{"banana alone", "gpio:\n  button:\n    line: GPIO17\n    debounce: banana\n", 2, []string{"gpio.button.debounce", `"banana"`}},
		{"two problems", "device:\n  id: Front Door\ngpio:\n  button:\n    line: GPIO17\ncamera:\n  fps: 0\n", 2, []string{"device.id", "camera.fps"}},
		{"unknown key", "gpio:\n  buton:\n    line: GPIO17\n", 2, []string{"gpio.buton"}},
		{"button line required on a board", "device:\n  id: x\n", 2, []string{"gpio.button.line"}},
		{"damaged on disk", valid + "\x00\x00\x00", 2, []string{"damaged on disk", "3 NUL bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCmd("--check-config", "--config", writeConfig(t, tt.body))
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("output does not name %q:\n%s%s", w, out, errs)
				}
			}
		})
	}
}

// --sim without --config checks the built-in sim defaults, and says so.
func TestCheckConfigSimDefaults(t *testing.T) {
	code, out, errs := runCmd("--sim", "--check-config")
	if code != 0 || !strings.Contains(out, "built-in sim defaults") || strings.Contains(out, "/etc/doorbell") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 naming the sim defaults", code, out, errs)
	}
}

func TestCheckConfigMissingFile(t *testing.T) {
	code, _, errs := runCmd("--check-config", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if code != 2 || !strings.Contains(errs, "nope.yaml") {
		t.Errorf("exit %d, stderr %q; want 2 naming the file", code, errs)
	}
}

func TestVersionAndBadFlags(t *testing.T) {
	if code, out, _ := runCmd("--version"); code != 0 || !strings.HasPrefix(out, "doorbelld ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	if code, _, _ := runCmd("--bogus"); code != 2 {
		t.Errorf("--bogus: exit %d, want 2", code)
	}
	if code, _, errs := runCmd("extra"); code != 2 || !strings.Contains(errs, "extra") {
		t.Errorf("stray argument: exit %d %q, want 2", code, errs)
	}
}
