package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseEmpty(t *testing.T) {
	want := Default()
	want.fillDerived()
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "~\n", "device:\n", "gpio:\n  button:\n"} {
		got, err := Parse([]byte(in), Default())
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %+v, %v; want defaults", in, got, err)
		}
	}
}

func TestParseOverlay(t *testing.T) {
	in := `
device:
  id: front
mqtt:
  broker: mqtts://broker.lan:8883
  listen:            # null: keeps the default
http:
  listen: ""         # "": turns HTTP off
gpio:
  button:
    line: gpiochip0:17
    active_low: false
    debounce: 20ms
  chime:
    enabled: false
camera:
  width: 1280
  height: 0x2d0
capture:
  ring_bytes: 128MiB
`
	got, err := Parse([]byte(in), Default())
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Device.ID = "front"
	want.MQTT.Broker = "mqtts://broker.lan:8883"
	want.MQTT.ClientID = "doorbelld-front"
	want.HTTP.Listen = ""
	want.GPIO.Button.Line = "gpiochip0:17"
	want.GPIO.Button.ActiveLow = false
	want.GPIO.Button.Debounce = Dur(20 * time.Millisecond)
	want.GPIO.Chime.Enabled = false
	want.Camera.Width = 1280
	want.Camera.Height = 720
	want.Capture.RingBytes = Bytes(128 << 20)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(false); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestParseBanana(t *testing.T) {
	c, err := Parse([]byte("gpio:\n  button:\n    debounce: banana\n"), Default())
	if err != nil {
		t.Fatalf("Parse: %v (bad durations are Validate's to report)", err)
	}
	err = c.Validate(true)
	if err == nil || !strings.Contains(err.Error(), "gpio.button.debounce") || !strings.Contains(err.Error(), "banana") {
		t.Fatalf("Validate = %v, want gpio.button.debounce and banana", err)
	}
}

// TestParseProblems checks unknown keys and type errors: each names the
// dotted key, the bad value, what is allowed and the line.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // substrings of the one problem
	}{
		{"unknown section", "gpoi:\n  button: {}\n", []string{"line 1: gpoi: unknown key (known top-level keys: device, mqtt, http, rtsp, users, gpio, camera, capture, clip, snapshot, storage, ota, privacy, audio, log)"}},
		{"unknown key", "gpio:\n  buton:\n    line: GPIO17\n", []string{"line 2: gpio.buton: unknown key (known keys under gpio: button, pir, chime, led, door)"}},
		{"unknown leaf", "gpio:\n  button:\n    lien: GPIO17\n", []string{"line 3: gpio.button.lien: unknown key (known keys under gpio.button: line, active_low, pull, debounce, min_press, long_press, double_press)"}},
		{"keys are case-sensitive", "Device:\n  id: x\n", []string{"Device: unknown key"}},
		{"duplicate", "log:\n  level: info\n  level: debug\n", []string{"line 3: log.level: duplicate key (first set on line 2"}},
		{"int from text", "camera:\n  width: abc\n", []string{"line 2: camera.width:", `"abc" is not allowed`, "whole number from 16 to 4096"}},
		{"int from float", "camera:\n  fps: 12.5\n", []string{"camera.fps:", `"12.5"`, "whole number from 1 to 120"}},
		{"int from quoted", "camera:\n  fps: \"15\"\n", []string{"camera.fps:", `"15"`}},
		{"int overflow", "camera:\n  fps: 99999999999999999999\n", []string{"camera.fps:", `"99999999999999999999"`}},
		{"bool from text", "gpio:\n  chime:\n    enabled: yes\n", []string{"line 3: gpio.chime.enabled:", `"yes"`, "want true or false"}},
		{"bool from number", "gpio:\n  pir:\n    active_low: 1\n", []string{"gpio.pir.active_low:", `"1"`, "true or false"}},
		{"string from list", "gpio:\n  button:\n    line: [GPIO17, GPIO18]\n", []string{"gpio.button.line:", `"[GPIO17, GPIO18]"`, "gpiochipN:offset"}},
		{"string from mapping", "device:\n  name:\n    first: a\n", []string{"line 3: device.name:", `"{first: a}"`}},
		{"duration from list", "capture:\n  pre_roll: [5s]\n", []string{"capture.pre_roll:", `"[5s]"`, "Go duration"}},
		{"size from mapping", "capture:\n  ring_bytes: {mib: 64}\n", []string{"capture.ring_bytes:", `"{mib: 64}"`, "64MiB"}},
		{"section from scalar", "gpio: 17\n", []string{"line 1: gpio:", `"17"`, "want a mapping with the keys button, pir, chime"}},
		{"section from list", "log: [info]\n", []string{"log:", `"[info]"`, "level, format"}},
		{"top level scalar", "hello\n", []string{"line 1: (top level):", `"hello"`, "want a mapping with the keys device, mqtt, http"}},
		{"top level list", "- a\n", []string{"(top level):", `"[a]"`}},
		{"password hidden", "mqtt:\n  password: [s3cret]\n", []string{"mqtt.password:", `"(hidden)"`}},
		{"merge key", "base: &b {level: info}\nlog:\n  <<: *b\n", []string{"base: unknown key"}},
		{"bad binary", "device:\n  name: !!binary '%%%'\n", []string{"device.name:", `"%%%"`}},
		{"complex key", "? [a]\n: b\n", []string{"line 1: ?: a key must be plain text (known top-level keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), Default())
			var probs Errors
			if !errors.As(err, &probs) {
				t.Fatalf("Parse = %v, want Errors", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error\n%s\nlacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Parse error shows the password: %s", err)
			}
		})
	}
}

func TestParseMergeKey(t *testing.T) {
	_, err := Parse([]byte("log:\n  <<: {level: info}\n"), Default())
	if err == nil || !strings.Contains(err.Error(), "log.<<: merge keys are not supported") {
		t.Errorf("Parse = %v, want merge key problem", err)
	}
}

func TestParseComplexKey(t *testing.T) {
	_, err := Parse([]byte("log:\n  ? [a, b]\n  : c\n"), Default())
	if err == nil || !strings.Contains(err.Error(), "log.?") || !strings.Contains(err.Error(), "a key must be plain text") {
		t.Errorf("Parse = %v, want complex key problem", err)
	}
}

func TestParseAllProblemsAtOnce(t *testing.T) {
	in := "gpio:\n  buton: {}\n  button:\n    debounce: banana\n    active_low: maybe\ncamera:\n  width: abc\nlogs: {}\n"
	c, err := Parse([]byte(in), Default())
	var probs Errors
	if !errors.As(err, &probs) {
		t.Fatalf("Parse = %v, want Errors", err)
	}
	var keys []string
	for _, p := range probs {
		keys = append(keys, p.Key)
	}
	if got, want := strings.Join(keys, " "), "gpio.buton gpio.button.active_low camera.width logs"; got != want {
		t.Errorf("problem keys = %q, want %q", got, want)
	}
	// Well-typed keys are applied even when others are not.
	if c.GPIO.Button.Debounce.String() != "banana" || c.Camera.Width != 640 {
		t.Errorf("partial config = %+v", c.GPIO.Button)
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := Parse([]byte("gpio:\n  button: [\n"), Default())
	var probs Errors
	if err == nil || errors.As(err, &probs) || !strings.Contains(err.Error(), "line") {
		t.Errorf("Parse = %v, want a yaml syntax error with a line", err)
	}
	_, err = Parse([]byte("log: {}\n---\nlog: {}\n"), Default())
	if err == nil || !strings.Contains(err.Error(), "one document") {
		t.Errorf("Parse of two documents = %v", err)
	}
}

func TestParseAlias(t *testing.T) {
	in := "gpio:\n  button:\n    debounce: &d 30ms\n  chime:\n    pulse: *d\n"
	c, err := Parse([]byte(in), Default())
	if err != nil || c.GPIO.Chime.Pulse != Dur(30*time.Millisecond) {
		t.Errorf("Parse = %v, %v; want pulse 30ms", c.GPIO.Chime.Pulse, err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("ok", func(t *testing.T) {
		p := write("ok.yaml", "gpio:\n  button:\n    line: GPIO17\n")
		c, err := Load(p, Default())
		if err != nil || c.GPIO.Button.Line != "GPIO17" || c.MQTT.ClientID != "doorbelld-doorbell" {
			t.Errorf("Load = %+v, %v", c.GPIO.Button, err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		p := filepath.Join(dir, "nope.yaml")
		_, err := Load(p, Default())
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), p) {
			t.Errorf("Load = %v, want ErrNotExist naming %s", err, p)
		}
	})
	t.Run("banana", func(t *testing.T) {
		p := write("banana.yaml", "gpio:\n  button:\n    debounce: banana\n")
		_, err := LoadSim(p, SimDefault())
		if err == nil {
			t.Fatal("LoadSim: no error")
		}
		for _, w := range []string{p, `line 3: gpio.button.debounce: "banana" is not allowed`} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("LoadSim = %v, lacks %q", err, w)
			}
		}
	})
	t.Run("parse and validate problems together", func(t *testing.T) {
		p := write("many.yaml", "device:\n  id: Front\ngpio:\n  buton: {}\n  button:\n    debounce: banana\ncamera:\n  width: wide\n")
		_, err := Load(p, Default())
		var probs Errors
		if !errors.As(err, &probs) {
			t.Fatalf("Load = %v, want Errors inside", err)
		}
		want := []string{
			"line 4: gpio.buton: unknown key",
			"line 8: camera.width:",
			`line 2: device.id: "Front" is not allowed`,
			`gpio.button.line: "" is not allowed`,
			`line 6: gpio.button.debounce: "banana"`,
		}
		if len(probs) != len(want) {
			t.Errorf("Load found %d problems, want %d:\n%v", len(probs), len(want), err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Load error lacks %q:\n%v", w, err)
			}
		}
		if !strings.Contains(err.Error(), p+": 5 problems:\n") {
			t.Errorf("Load error header: %v", err)
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		p := write("syntax.yaml", "gpio: [\n")
		_, err := Load(p, Default())
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Load = %v, want error naming %s", err, p)
		}
	})
}
