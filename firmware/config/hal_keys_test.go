package config

import (
	"strings"
	"testing"
)

func TestHalKeys(t *testing.T) {
	tests := []struct{ yaml, key string }{ // key "" means valid
		{"gpio:\n  chime:\n    quiet_hours: 22:00-07:00,12:00-13:30\n", ""},
		{"gpio:\n  chime:\n    quiet_hours: 25:00-07:00\n", "gpio.chime.quiet_hours"},
		{"gpio:\n  chime:\n    quiet_hours: evenings\n", "gpio.chime.quiet_hours"},
		{"gpio:\n  button:\n    double_press: 600ms\n", ""},
		{"gpio:\n  button:\n    double_press: 10ms\n", "gpio.button.double_press"},
		{"gpio:\n  pir:\n    cooldown: 2h\n", "gpio.pir.cooldown"},
		{"gpio:\n  pir:\n    min_active: banana\n", "gpio.pir.min_active"},
		{"gpio:\n  chime:\n    min_gap: -1s\n", "gpio.chime.min_gap"},
		{"gpio:\n  led:\n    line: GPIO23\n", ""},
		{"gpio:\n  led:\n    line: GPIO17\n  button:\n    line: GPIO17\n", "gpio.led.line"},
	}
	checkKeys(t, tests)
}

// checkKeys parses each YAML on the sim defaults and checks that it is
// valid (key "") or that the error names key and says what is allowed.
func checkKeys(t *testing.T, tests []struct{ yaml, key string }) {
	t.Helper()
	for _, tt := range tests {
		c, err := Parse([]byte(tt.yaml), SimDefault())
		if err == nil {
			err = c.Validate(true)
		}
		switch {
		case tt.key == "" && err != nil:
			t.Errorf("%q: %v", tt.yaml, err)
		case tt.key != "" && (err == nil || !strings.Contains(err.Error(), tt.key) || strings.HasSuffix(err.Error(), ": ")):
			t.Errorf("%q: error %v does not name %s with what is allowed", tt.yaml, err, tt.key)
		}
	}
}

func TestStorageClipKeys(t *testing.T) {
	tests := []struct{ yaml, key string }{
		{"storage:\n  mode: ram\n  max_bytes: 32MiB\nmqtt:\n  owner_key_file: /etc/doorbell/owner.key\n", ""},
		{"storage:\n  mode: tape\n", "storage.mode"},
		{"storage:\n  max_bytes: 10KiB\n", "storage.max_bytes"},
		{"storage:\n  max_age: forever\n", "storage.max_age"},
		{"clip:\n  max_length: 5s\n", "clip.max_length"},
		{"mqtt:\n  discovery_mode: both\n", "mqtt.discovery_mode"},
	}
	checkKeys(t, tests)
}
