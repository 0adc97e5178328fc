// Package sealtest makes owner keys for tests of sealed clips and
// snapshots: a fresh age identity file in the test's temporary directory,
// its public key, and the Sealer and Opener of the pair.
//
//	NewKey(t) ──▶ Key{Path: .../key.txt (0600, AGE-SECRET-KEY-1…), Public: "age1…"}
//	Key.Sealer(t) / Key.Opener(t) ──▶ capture/seal's, for that key
package sealtest

import (
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/doorbelld/doorbelld/capture/seal"
)

// Key is an owner's age key pair on disk.
type Key struct {
	Path   string // the identity file (secret key), mode 0600
	Public string // its public key, for privacy.recipients
}

// NewKey writes a fresh age identity file into t's temporary directory.
func NewKey(t testing.TB) Key {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(path, []byte("# created by sealtest\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Key{Path: path, Public: id.Recipient().String()}
}

// Sealer returns a Sealer for k's public key.
func (k Key) Sealer(t testing.TB) *seal.Sealer {
	t.Helper()
	s, err := seal.NewSealer([]string{k.Public})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Opener returns the Opener of k's identity file.
func (k Key) Opener(t testing.TB) *seal.Opener {
	t.Helper()
	o, err := seal.LoadIdentities(k.Path)
	if err != nil {
		t.Fatal(err)
	}
	return o
}
