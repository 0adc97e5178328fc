package otatest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/install"
)

// Created is the fixed signing time of test bundles; Expires follows it by
// ten years, so tests with a real clock pass until 2036.
var (
	Created = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	Expires = Created.AddDate(10, 0, 0)
)

// Key returns test signing key n: the same for every run, never trusted
// anywhere real.
func Key(n int) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(fmt.Sprintf("doorbelld otatest key %d", n)))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Public returns the public key of Key(n).
func Public(n int) ed25519.PublicKey { return Key(n).Public().(ed25519.PublicKey) }

// Keyring returns a keyring trusting the test keys ns.
func Keyring(ns ...int) *ota.Keyring {
	keys := make([]ed25519.PublicKey, len(ns))
	for i, n := range ns {
		keys[i] = Public(n)
	}
	k, err := ota.NewKeyring(keys...)
	if err != nil {
		panic(err)
	}
	return k
}

// Binary returns fake binary contents for a version: size bytes (at least
// 64), different for every version.
func Binary(version string, size int) []byte {
	b := []byte("#!fake doorbelld " + version + "\n")
	for len(b) < size || len(b) < 64 {
		b = append(b, byte(len(b)*7+len(version)))
	}
	return b[:max(size, 64)]
}

// Manifest returns a valid manifest for bin: model install.DefaultModel,
// the running architecture, Created and Expires.
func Manifest(version string, bin []byte) ota.Manifest {
	sum := sha256.Sum256(bin)
	a := ota.RunningArch()
	return ota.Manifest{
		Format: ota.ManifestFormat, Model: install.DefaultModel,
		GOOS: a.GOOS, GOARCH: a.GOARCH, GOARM: a.GOARM,
		Version: version, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(bin)),
		Created: Created, Expires: Expires,
	}
}

// Bundle signs m with Key(key) and returns the bundle of bin.
func Bundle(t testing.TB, key int, m ota.Manifest, bin []byte) []byte {
	t.Helper()
	s, err := ota.Sign(m, Key(key))
	if err != nil {
		t.Fatal(err)
	}
	return append(s.Header(), bin...)
}

// NewBundle is Bundle(t, 0, Manifest(version, bin), bin).
func NewBundle(t testing.TB, version string, bin []byte) []byte {
	t.Helper()
	return Bundle(t, 0, Manifest(version, bin), bin)
}

// Seed sets up dir with bin as version in slot a (install.Seed).
func Seed(t testing.TB, dir string, bin []byte, version string) {
	t.Helper()
	inst, err := install.New(install.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Seed(bytes.NewReader(bin), version); err != nil {
		t.Fatal(err)
	}
}

// Snapshot describes every file, directory and symlink under dir except
// the lock file: path → "dir", "link -> target" or content hash and mode.
// Two equal snapshots mean nothing changed.
func Snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == "lock" || rel == ".":
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			snap[rel] = "link -> " + target
		case d.IsDir():
			snap[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, _ := d.Info()
			sum := sha256.Sum256(b)
			snap[rel] = fmt.Sprintf("%v %x", fi.Mode(), sum[:8])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// DiffSnapshots describes how two snapshots differ; "" when equal.
func DiffSnapshots(a, b map[string]string) string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			d = append(d, "- "+k+" "+v)
		} else if w != v {
			d = append(d, "~ "+k+" "+v+" => "+w)
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, "+ "+k+" "+v)
		}
	}
	return strings.Join(d, "\n")
}

// CurrentBinary returns the contents of the binary dir/current names, and
// an error if there is none.
func CurrentBinary(dir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, install.CurrentLink, install.BinaryName))
}

// CheckOneValid fails t unless dir/current names a complete binary equal
// to one of want.
func CheckOneValid(t testing.TB, dir string, want ...[]byte) []byte {
	t.Helper()
	got, err := CurrentBinary(dir)
	if err != nil {
		t.Fatalf("no binary at current: %v", err)
	}
	for _, w := range want {
		if bytes.Equal(got, w) {
			return got
		}
	}
	t.Fatalf("current binary (%d bytes, starts %q) is none of the %d expected", len(got), got[:min(len(got), 32)], len(want))
	return nil
}

// SignRaw signs raw manifest bytes (valid or not) as a bundle's manifest,
// with Key(key): for fuzzing what lies behind the signature check.
func SignRaw(key int, manifest []byte) []byte {
	return ed25519.Sign(Key(key), ota.SignedMessage(ota.IDOf(Public(key)), manifest))
}
