package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/capture/seal/sealtest"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
)

func ageKey(t *testing.T) (path, public string) {
	k := sealtest.NewKey(t)
	return k.Path, k.Public
}

// TestClipsPullSealed: clips sealed on the device travel and land as
// ciphertext; --identity decrypts them to what the recorder stored; a
// wrong key fails clearly and leaves no .mp4.
func TestClipsPullSealed(t *testing.T) {
	keyPath, pub := ageKey(t)
	wrongPath, _ := ageKey(t)
	sealer, err := seal.NewSealer([]string{pub})
	if err != nil {
		t.Fatal(err)
	}
	url := embeddedBroker(t)
	clips, _ := runClipDeviceStore(t, url, nil, "p/front", clipxfer.PublisherOptions{}, storage.Options{Encrypter: sealer}, 300<<10)
	conn := []string{"--broker", url, "--prefix", "p", "--device", "front"}

	code, out, errs := runCLI(t, nil, append([]string{"clips", "list"}, conn...)...)
	if code != 0 || !strings.Contains(out, "encrypted (age)") {
		t.Fatalf("list: %d %s %s", code, out, errs)
	}

	dir := t.TempDir()
	code, out, errs = runCLI(t, nil, append([]string{"clips", "pull", "--out", dir}, conn...)...)
	sealed, _ := filepath.Glob(filepath.Join(dir, "*_clipa.mp4.age"))
	plain, _ := filepath.Glob(filepath.Join(dir, "*_clipa.mp4"))
	if code != 0 || len(sealed) != 1 || len(plain) != 0 || !strings.Contains(errs, "--identity key.txt") {
		t.Fatalf("pull without identity: %d sealed %v plain %v\n%s\n%s", code, sealed, plain, out, errs)
	}
	cipher, _ := os.ReadFile(sealed[0])
	if !seal.IsSealed(cipher) || bytes.Contains(cipher, clips["clipa"][:64]) {
		t.Fatal("the pulled file is not the sealed clip")
	}

	code, out, errs = runCLI(t, nil, append([]string{"clips", "pull", "--out", dir, "--identity", wrongPath}, conn...)...)
	plain, _ = filepath.Glob(filepath.Join(dir, "*_clipa.mp4"))
	if code != 1 || !strings.Contains(errs, "FAILED to decrypt") || !strings.Contains(errs, "no identity matches") || len(plain) != 0 {
		t.Fatalf("pull with the wrong identity: %d plain %v\n%s\n%s", code, plain, out, errs)
	}

	code, out, errs = runCLI(t, nil, append([]string{"clips", "pull", "--out", dir, "--identity", keyPath}, conn...)...)
	plain, _ = filepath.Glob(filepath.Join(dir, "*_clipa.mp4"))
	if code != 0 || len(plain) != 1 || !strings.Contains(out, "decrypted") {
		t.Fatalf("pull with the identity: %d plain %v\n%s\n%s", code, plain, out, errs)
	}
	if got, _ := os.ReadFile(plain[0]); !bytes.Equal(got, clips["clipa"]) {
		t.Fatal("the decrypted clip differs from what the recorder stored")
	}

	// The owner needs no doorbellctl: age itself opens the file.
	if bin, err := exec.LookPath("age"); err == nil {
		got, err := exec.Command(bin, "-d", "-i", keyPath, sealed[0]).Output()
		if err != nil || !bytes.Equal(got, clips["clipa"]) {
			t.Fatalf("age -d: %v", err)
		}
	}

	code, _, errs = runCLI(t, nil, append([]string{"clips", "pull", "--out", dir, "--identity", filepath.Join(dir, "none")}, conn...)...)
	if code != 2 || !strings.Contains(errs, "--identity") {
		t.Fatalf("missing identity file: %d %s", code, errs)
	}
}
