package hass

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testOptions is a doorbell with every option that shows in a payload set.
func testOptions() Options {
	return Options{
		DeviceID: "front", DeviceName: "Front door", TopicPrefix: "doorbell", DiscoveryPrefix: "homeassistant",
		Version: "1.4.0", Model: "Raspberry Pi doorbell", SupportURL: "https://github.com/doorbelld/doorbelld",
		ConfigurationURL: ConfigurationURL(":8080", false, func() (string, error) { return "frontdoor", nil }),
		DoorPIN:          true,
		Replies:          []string{"leave_at_door", "coming"},
	}
}

// golden renders messages readably: payloads as indented JSON, "" when
// empty.
func golden(t *testing.T, msgs []Message) []byte {
	t.Helper()
	type gm struct {
		Topic   string          `json:"topic"`
		Retain  bool            `json:"retain"`
		Payload json.RawMessage `json:"payload"`
	}
	out := make([]gm, len(msgs))
	for i, m := range msgs {
		p := m.Payload
		if len(p) == 0 {
			p = []byte(`""`)
		} else if !json.Valid(p) {
			t.Fatalf("%s: payload is not JSON: %s", m.Topic, p)
		}
		out[i] = gm{m.Topic, m.Retain, p}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	minimal := func(mode string) Options {
		o := testOptions()
		o.Mode, o.NoCamera, o.NoMotion, o.NoChime = mode, true, true, true
		o.SupportURL = ""
		return o
	}
	single := testOptions()
	single.Mode = ModeSingle
	tests := []struct {
		file string
		msgs []Message
	}{
		{"device.golden.json", Messages(testOptions())},
		{"device_minimal.golden.json", Messages(minimal(ModeDevice))},
		{"single.golden.json", Messages(single)},
		{"single_minimal.golden.json", Messages(minimal(ModeSingle))},
		{"remove.golden.json", Remove(testOptions())},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := golden(t, tt.msgs)
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", path, got)
			}
		})
	}
}
