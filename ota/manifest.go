package ota

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/doorbelld/doorbelld/firmware/wire"
)

// Limits of the format.
const (
	// ManifestFormat is the manifest's "format" value this package writes
	// and reads.
	ManifestFormat = 1
	// MaxManifestSize bounds the manifest JSON.
	MaxManifestSize = 8 << 10
	// MaxBinarySize bounds Manifest.Size; an installer sets a lower limit.
	MaxBinarySize = 1 << 30
)

// Manifest describes the binary in a bundle. Every field is signed.
type Manifest struct {
	Format  int    `json:"format"`  // ManifestFormat
	Model   string `json:"model"`   // kind of device, e.g. "doorbelld": 1-64 of a-z 0-9 . _ -
	GOOS    string `json:"goos"`    // "linux"
	GOARCH  string `json:"goarch"`  // "arm64", "arm", "amd64"
	GOARM   string `json:"goarm"`   // "5", "6", "7" for arm; "" otherwise
	Version string `json:"version"` // semantic version of the binary
	SHA256  string `json:"sha256"`  // of the binary, 64 lowercase hex digits
	Size    int64  `json:"size"`    // of the binary in bytes
	// Created is when the bundle was signed; informational (a board
	// without a real-time clock may not know the time).
	Created time.Time `json:"created"`
	// Expires: after it, devices refuse the bundle, so an old signed
	// bundle cannot be replayed forever.
	Expires time.Time `json:"expires"`
}

// Arch returns the manifest's GOOS, GOARCH and GOARM.
func (m Manifest) Arch() Arch { return Arch{GOOS: m.GOOS, GOARCH: m.GOARCH, GOARM: m.GOARM} }

// ParseManifest decodes and validates a manifest. Unknown fields, trailing
// data and invalid fields are ErrMalformed.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if len(b) > MaxManifestSize {
		return m, fmt.Errorf("ota: manifest of %d bytes, at most %d: %w", len(b), MaxManifestSize, ErrMalformed)
	}
	if err := wire.DecodeStrict(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("ota: manifest: %v: %w", err, ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Validate checks every field's form (not the policy: see Check).
func (m Manifest) Validate() error {
	bad := func(field, val, want string) error {
		return fmt.Errorf("ota: manifest: %s %s: want %s: %w", field, wire.Quote(val), want, ErrMalformed)
	}
	if m.Format != ManifestFormat {
		return bad("format", fmt.Sprint(m.Format), fmt.Sprint(ManifestFormat))
	}
	if !token(m.Model, 64, "._-") {
		return bad("model", m.Model, "1-64 of a-z 0-9 . _ -")
	}
	if !token(m.GOOS, 16, "") {
		return bad("goos", m.GOOS, "a GOOS such as linux")
	}
	if !token(m.GOARCH, 16, "") {
		return bad("goarch", m.GOARCH, "a GOARCH such as arm64")
	}
	switch {
	case m.GOARCH == "arm" && (m.GOARM < "5" || m.GOARM > "7" || len(m.GOARM) != 1):
		return bad("goarm", m.GOARM, "5, 6 or 7 with goarch arm")
	case m.GOARCH != "arm" && m.GOARM != "":
		return bad("goarm", m.GOARM, "empty unless goarch is arm")
	}
	if _, err := ParseVersion(m.Version); err != nil {
		return fmt.Errorf("ota: manifest: %v: %w", err, ErrMalformed)
	}
	if len(m.SHA256) != 64 || strings.ToLower(m.SHA256) != m.SHA256 {
		return bad("sha256", m.SHA256, "64 lowercase hex digits")
	}
	if _, err := hex.DecodeString(m.SHA256); err != nil {
		return bad("sha256", m.SHA256, "64 lowercase hex digits")
	}
	if m.Size <= 0 || m.Size > MaxBinarySize {
		return bad("size", fmt.Sprint(m.Size), fmt.Sprintf("1 to %d bytes", MaxBinarySize))
	}
	if m.Created.IsZero() || m.Expires.IsZero() {
		return fmt.Errorf("ota: manifest: created and expires are required: %w", ErrMalformed)
	}
	if !m.Expires.After(m.Created) {
		return bad("expires", m.Expires.Format(time.RFC3339), "after created "+m.Created.Format(time.RFC3339))
	}
	return nil
}

// token reports whether s is 1..max of a-z 0-9 and the extra characters.
func token(s string, max int, extra string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

// Policy is what a device demands of a bundle beyond a valid signature.
// Zero fields are not checked.
type Policy struct {
	Now     time.Time // refuse if after Expires
	Arch    Arch      // the device's: refuse binaries it cannot run (Arch.Runs)
	Model   string    // refuse other models
	Floor   string    // refuse versions not newer than this one
	MaxSize int64     // refuse larger binaries
}

// Check applies p to m. The error wraps ErrExpired, ErrWrongArch,
// ErrWrongModel, ErrDowngrade or ErrTooLarge.
func (m Manifest) Check(p Policy) error {
	if p.Model != "" && m.Model != p.Model {
		return fmt.Errorf("ota: bundle is for model %s, this device is %s: %w", wire.Quote(m.Model), wire.Quote(p.Model), ErrWrongModel)
	}
	if !p.Arch.IsZero() && !p.Arch.Runs(m.Arch()) {
		return fmt.Errorf("ota: bundle is for %s, this device runs %s: %w", m.Arch(), p.Arch, ErrWrongArch)
	}
	if p.MaxSize > 0 && m.Size > p.MaxSize {
		return fmt.Errorf("ota: binary of %d bytes, at most %d allowed: %w", m.Size, p.MaxSize, ErrTooLarge)
	}
	if !p.Now.IsZero() && p.Now.After(m.Expires) {
		return fmt.Errorf("ota: bundle %s expired at %s (now %s): %w", m.Version,
			m.Expires.UTC().Format(time.RFC3339), p.Now.UTC().Format(time.RFC3339), ErrExpired)
	}
	if p.Floor != "" {
		c, err := CompareVersions(m.Version, p.Floor)
		if err != nil {
			return fmt.Errorf("ota: version floor: %w", err)
		}
		if c <= 0 {
			return fmt.Errorf("ota: version %s is not newer than %s: %w", m.Version, p.Floor, ErrDowngrade)
		}
	}
	return nil
}
