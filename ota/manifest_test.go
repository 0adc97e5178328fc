package ota_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

func TestManifestValidate(t *testing.T) {
	base := otatest.Manifest("1.0.0", []byte("binary"))
	base.GOOS, base.GOARCH, base.GOARM = "linux", "arm", "6"
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*ota.Manifest){
		"format 0":          func(m *ota.Manifest) { m.Format = 0 },
		"format 2":          func(m *ota.Manifest) { m.Format = 2 },
		"empty model":       func(m *ota.Manifest) { m.Model = "" },
		"model uppercase":   func(m *ota.Manifest) { m.Model = "Doorbell" },
		"model long":        func(m *ota.Manifest) { m.Model = strings.Repeat("a", 65) },
		"goos empty":        func(m *ota.Manifest) { m.GOOS = "" },
		"goarch slash":      func(m *ota.Manifest) { m.GOARCH = "arm/v7" },
		"arm without goarm": func(m *ota.Manifest) { m.GOARM = "" },
		"goarm 8":           func(m *ota.Manifest) { m.GOARM = "8" },
		"goarm 66":          func(m *ota.Manifest) { m.GOARM = "66" },
		"goarm on arm64":    func(m *ota.Manifest) { m.GOARCH = "arm64" },
		"version":           func(m *ota.Manifest) { m.Version = "1.0" },
		"sha256 short":      func(m *ota.Manifest) { m.SHA256 = m.SHA256[:63] },
		"sha256 upper":      func(m *ota.Manifest) { m.SHA256 = strings.ToUpper(m.SHA256) },
		"sha256 not hex":    func(m *ota.Manifest) { m.SHA256 = strings.Repeat("g", 64) },
		"size 0":            func(m *ota.Manifest) { m.Size = 0 },
		"size negative":     func(m *ota.Manifest) { m.Size = -1 },
		"size huge":         func(m *ota.Manifest) { m.Size = ota.MaxBinarySize + 1 },
		"no created":        func(m *ota.Manifest) { m.Created = time.Time{} },
		"no expires":        func(m *ota.Manifest) { m.Expires = time.Time{} },
		"expires first":     func(m *ota.Manifest) { m.Expires = m.Created },
	}
	for name, f := range bad {
		m := base
		f(&m)
		if err := m.Validate(); !errors.Is(err, ota.ErrMalformed) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
}

func TestParseManifestStrict(t *testing.T) {
	s, _ := ota.Sign(otatest.Manifest("1.0.0", []byte("x")), otatest.Key(0))
	if _, err := ota.ParseManifest(s.Raw); err != nil {
		t.Fatal(err)
	}
	raw := string(s.Raw)
	for name, in := range map[string]string{
		"unknown field":  strings.Replace(raw, `"format"`, `"extra": 1, "format"`, 1),
		"trailing":       raw + "{}",
		"not an object":  "[]",
		"size as string": strings.Replace(raw, `"size": 1`, `"size": "1"`, 1),
		"empty":          "",
	} {
		if _, err := ota.ParseManifest([]byte(in)); !errors.Is(err, ota.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestArchRuns(t *testing.T) {
	arm := func(v string) ota.Arch { return ota.Arch{GOOS: "linux", GOARCH: "arm", GOARM: v} }
	arm64 := ota.Arch{GOOS: "linux", GOARCH: "arm64"}
	cases := []struct {
		device, bin ota.Arch
		want        bool
	}{
		{arm("7"), arm("7"), true},
		{arm("7"), arm("6"), true}, // an ARMv7 Pi runs ARMv6 code
		{arm("6"), arm("7"), false},
		{arm("6"), arm("5"), true},
		{arm("6"), arm(""), false},
		{arm64, arm64, true},
		{arm64, arm("7"), false}, // 32-bit binaries need the compat libs: not assumed
		{arm("7"), arm64, false},
		{arm64, ota.Arch{GOOS: "freebsd", GOARCH: "arm64"}, false},
	}
	for _, c := range cases {
		if got := c.device.Runs(c.bin); got != c.want {
			t.Errorf("%v runs %v = %v, want %v", c.device, c.bin, got, c.want)
		}
	}
}
