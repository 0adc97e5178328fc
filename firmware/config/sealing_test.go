package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestIdentityFile: privacy.identity_file must open what the recipients
// seal; every sealing key is checked and named.
func TestIdentityFile(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	good := filepath.Join(dir, "key.txt")
	os.WriteFile(good, []byte("# owner\n"+id.String()+"\n"), 0o600)
	wrong := filepath.Join(dir, "other.txt")
	os.WriteFile(wrong, []byte(other.String()+"\n"), 0o600)
	pub := id.Recipient().String()

	tests := []struct {
		name string
		p    Privacy
		key  string // "" valid
		want string // in the error
	}{
		{"recipients", Privacy{Recipients: []string{pub}}, "", ""},
		{"with identity", Privacy{Recipients: []string{pub}, IdentityFile: good, EncryptSnapshots: true}, "", ""},
		{"bad key", Privacy{Recipients: []string{pub, "age1oops"}}, "privacy.recipients[1]", "not a valid age public key"},
		{"secret key", Privacy{Recipients: []string{id.String()}}, "privacy.recipients[0]", "(a secret key, hidden)"},
		{"snapshots alone", Privacy{EncryptSnapshots: true}, "privacy.encrypt_snapshots", "together with privacy.recipients"},
		{"identity alone", Privacy{IdentityFile: good}, "privacy.identity_file", "with privacy.recipients"},
		{"identity relative", Privacy{Recipients: []string{pub}, IdentityFile: "key.txt"}, "privacy.identity_file", "absolute path"},
		{"identity missing", Privacy{Recipients: []string{pub}, IdentityFile: filepath.Join(dir, "none")}, "privacy.identity_file", "no such file"},
		{"identity of another key", Privacy{Recipients: []string{pub}, IdentityFile: wrong}, "privacy.identity_file", "none of privacy.recipients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			c.Privacy = tt.p
			err := c.Validate(false)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var probs Errors
			if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Key != tt.key || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want one problem at %s saying %q", err, tt.key, tt.want)
			}
			if strings.Contains(err.Error(), id.String()) || strings.Contains(err.Error(), other.String()) {
				t.Fatalf("the error shows a secret key: %v", err)
			}
		})
	}
}
