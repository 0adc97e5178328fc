package config

import (
	"encoding/json"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		in    string
		want  time.Duration
		ok    bool
		canon string
	}{
		{"50ms", 50 * time.Millisecond, true, "50ms"},
		{"2s", 2 * time.Second, true, "2s"},
		{" 1m30s ", 90 * time.Second, true, "1m30s"},
		{"0", 0, true, "0s"},
		{"0.5s", 500 * time.Millisecond, true, "500ms"},
		{"-1s", -time.Second, true, "-1s"},
		{"banana", 0, false, "banana"},
		{"50", 0, false, "50"},
		{"", 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d := parseDuration(tt.in)
			if d.D() != tt.want || d.bad == tt.ok || d.String() != tt.canon {
				t.Errorf("parseDuration(%q) = %v ok=%v %q; want %v ok=%v %q", tt.in, d.D(), !d.bad, d.String(), tt.want, tt.ok, tt.canon)
			}
		})
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		in    string
		want  int64
		ok    bool
		canon string
	}{
		{"64MiB", 64 << 20, true, "64MiB"},
		{"512KiB", 512 << 10, true, "512KiB"},
		{"1GiB", 1 << 30, true, "1GiB"},
		{"1000000", 1000000, true, "1MB"},
		{"1000001", 1000001, true, "1000001"},
		{"64MB", 64e6, true, "64MB"},
		{"3KB", 3000, true, "3KB"},
		{"2GB", 2e9, true, "2GB"},
		{"4096B", 4096, true, "4KiB"},
		{"64 MiB", 64 << 20, true, "64MiB"},
		{"0", 0, true, "0"},
		{"1024MiB", 1 << 30, true, "1GiB"},
		{"", 0, false, ""},
		{"MiB", 0, false, "MiB"},
		{"64M", 0, false, "64M"},
		{"64mib", 0, false, "64mib"},
		{"-1", 0, false, "-1"},
		{"1.5GiB", 0, false, "1.5GiB"},
		{"1e6", 0, false, "1e6"},
		{"99999999999999999999", 0, false, "99999999999999999999"},
		{"9000000000GiB", 0, false, "9000000000GiB"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s := parseSize(tt.in)
			if s.Bytes() != tt.want || s.bad == tt.ok || s.String() != tt.canon {
				t.Errorf("parseSize(%q) = %d ok=%v %q; want %d ok=%v %q", tt.in, s.Bytes(), !s.bad, s.String(), tt.want, tt.ok, tt.canon)
			}
		})
	}
}

func TestUnitsMarshal(t *testing.T) {
	type T struct {
		D Duration `yaml:"d" json:"d"`
		S Size     `yaml:"s" json:"s"`
	}
	in := T{Dur(50 * time.Millisecond), Bytes(64 << 20)}
	out, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "d: 50ms\ns: 64MiB\n"; got != want {
		t.Errorf("yaml.Marshal = %q, want %q", got, want)
	}
	var back T
	if err := yaml.Unmarshal(out, &back); err != nil || back != in {
		t.Errorf("yaml.Unmarshal = %+v, %v; want %+v", back, err, in)
	}

	// Bad text decodes without error and is kept for Validate.
	var bad T
	if err := yaml.Unmarshal([]byte("d: banana\ns: lots\n"), &bad); err != nil {
		t.Fatalf("yaml.Unmarshal of bad text: %v", err)
	}
	if !bad.D.bad || bad.D.String() != "banana" || !bad.S.bad || bad.S.String() != "lots" {
		t.Errorf("bad text decoded to %+v", bad)
	}
	// A null keeps the value; a list is an error.
	keep := in
	if err := yaml.Unmarshal([]byte("d:\ns: ~\n"), &keep); err != nil || keep != in {
		t.Errorf("null: %+v, %v", keep, err)
	}
	if err := yaml.Unmarshal([]byte("d: [1]\n"), &keep); err == nil {
		t.Error("list into Duration: no error")
	}
	if err := yaml.Unmarshal([]byte("s: {a: 1}\n"), &keep); err == nil {
		t.Error("mapping into Size: no error")
	}

	j, err := json.Marshal(in)
	if err != nil || string(j) != `{"d":"50ms","s":"64MiB"}` {
		t.Errorf("json.Marshal = %s, %v", j, err)
	}
	var jb T
	if err := json.Unmarshal(j, &jb); err != nil || jb != in {
		t.Errorf("json.Unmarshal = %+v, %v", jb, err)
	}
}
