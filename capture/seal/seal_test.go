package seal_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/capture/seal/sealtest"
)

// newKey returns a fresh age identity file's path and its public key.
func newKey(t *testing.T) (path, public string) {
	k := sealtest.NewKey(t)
	return k.Path, k.Public
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTripX25519(t *testing.T) {
	keyPath, pub := newKey(t)
	s, err := seal.NewSealer([]string{pub})
	if err != nil {
		t.Fatal(err)
	}
	o, err := seal.LoadIdentities(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 64 << 10, 64<<10 + 1, 1 << 20} {
		plain := randomBytes(t, n)
		sealed, err := s.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if !seal.IsSealed(sealed) {
			t.Fatalf("%d bytes: sealed output has no age header", n)
		}
		if n >= 16 && bytes.Contains(sealed, plain[:16]) {
			t.Fatalf("%d bytes: ciphertext contains plaintext", n)
		}
		r, err := o.Open(bytes.NewReader(sealed))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: round trip differs", n)
		}
	}
}

// TestFreshFileKey: the same plaintext sealed twice gives different
// ciphertexts (a file key per file, so deleting one file shreds it).
func TestFreshFileKey(t *testing.T) {
	_, pub := newKey(t)
	s, _ := seal.NewSealer([]string{pub})
	a, _ := s.Seal([]byte("same clip"))
	b, _ := s.Seal([]byte("same clip"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same bytes are equal")
	}
}

func TestWrongIdentity(t *testing.T) {
	_, pub := newKey(t)
	otherPath, _ := newKey(t)
	s, _ := seal.NewSealer([]string{pub})
	sealed, _ := s.Seal([]byte("clip"))
	o, err := seal.LoadIdentities(otherPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Open(bytes.NewReader(sealed))
	if !errors.Is(err, seal.ErrNoMatch) || !strings.Contains(err.Error(), otherPath) {
		t.Fatalf("open with the wrong key: %v, want ErrNoMatch naming %s", err, otherPath)
	}
	if o.Matches(s) {
		t.Fatal("Matches: true for the wrong key")
	}
	if _, err := o.Open(strings.NewReader("\xff\xd8\xff plain JPEG")); !errors.Is(err, seal.ErrNotSealed) {
		t.Fatalf("open plaintext: %v, want ErrNotSealed", err)
	}
}

func TestTamperedCiphertext(t *testing.T) {
	keyPath, pub := newKey(t)
	s, _ := seal.NewSealer([]string{pub})
	o, _ := seal.LoadIdentities(keyPath)
	if !o.Matches(s) {
		t.Fatal("Matches: false for the right key")
	}
	sealed, _ := s.Seal(randomBytes(t, 100<<10))
	for name, bad := range map[string][]byte{
		"flipped": func() []byte { b := bytes.Clone(sealed); b[len(b)-100] ^= 1; return b }(),
		"cut":     sealed[:len(sealed)-1000],
	} {
		r, err := o.Open(bytes.NewReader(bad))
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if err == nil {
			t.Errorf("%s ciphertext: decrypted without error", name)
		}
	}
}

func TestSSHEd25519(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " owner@laptop"
	s, err := seal.NewSealer([]string{line})
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
	o, err := seal.LoadIdentities(path)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Matches(s) {
		t.Fatal("ssh identity cannot open what was sealed for its public key")
	}

	enc, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, pem.EncodeToMemory(enc), 0o600)
	if _, err := seal.LoadIdentities(path); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("passphrase-protected key: %v, want an error saying so", err)
	}
}

func TestBadKeys(t *testing.T) {
	secret, _ := age.GenerateX25519Identity()
	for _, tc := range []struct{ key, want string }{
		{"age1notakey", "not a valid age public key"},
		{secret.String(), "secret key"},
		{"hello", "want an age public key"},
		{"ssh-ed25519 AAAAnope", "not a valid SSH public key"},
	} {
		_, err := seal.NewSealer([]string{tc.key})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "[0]") {
			t.Errorf("NewSealer(%q): %v, want an error at [0] containing %q", tc.key, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret.String()) {
			t.Errorf("error quotes the secret key: %v", err)
		}
	}
	path := filepath.Join(t.TempDir(), "key")
	os.WriteFile(path, []byte(secret.Recipient().String()+"\n"), 0o600)
	if _, err := seal.LoadIdentities(path); err == nil || !strings.Contains(err.Error(), "public key") {
		t.Fatalf("identity file with a public key: %v", err)
	}
	os.WriteFile(path, []byte("AGE-SECRET-KEY-1BROKEN\n"), 0o600)
	_, err := seal.LoadIdentities(path)
	if err == nil || strings.Contains(err.Error(), "BROKEN") {
		t.Fatalf("broken identity: %v, want an error that does not quote it", err)
	}
}

// TestAgeCLI: what the doorbell seals, the age command decrypts (the
// README tells owners to use it), and the other way round.
func TestAgeCLI(t *testing.T) {
	bin, err := exec.LookPath("age")
	if err != nil {
		t.Skip("age is not installed (apt-get install age; scripts/test.sh does)")
	}
	keyPath, pub := newKey(t)
	s, _ := seal.NewSealer([]string{pub})
	plain := randomBytes(t, 200<<10)
	sealed, _ := s.Seal(plain)
	dir := t.TempDir()
	in := filepath.Join(dir, "clip.mp4.age")
	os.WriteFile(in, sealed, 0o600)
	out, err := exec.Command(bin, "-d", "-i", keyPath, in).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	if !bytes.Equal(out, plain) {
		t.Fatal("age -d gives other bytes")
	}
	cmd := exec.Command(bin, "-r", pub)
	cmd.Stdin = bytes.NewReader(plain)
	byCLI, err := cmd.Output()
	if err != nil {
		t.Fatalf("age -r: %v", err)
	}
	o, _ := seal.LoadIdentities(keyPath)
	r, err := o.Open(bytes.NewReader(byCLI))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if !bytes.Equal(got, plain) {
		t.Fatal("opening age's output gives other bytes")
	}
}

// BenchmarkSeal reports sealing a 2 MiB clip as a ratio to copying it.
func BenchmarkSeal(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	s, _ := seal.NewSealer([]string{id.Recipient().String()})
	clip := make([]byte, 2<<20)
	rand.Read(clip)
	var sink bytes.Buffer
	sink.Grow(len(clip) + 64<<10)
	// The baseline, in the same run: copying the same bytes.
	const copies = 20
	t0 := time.Now()
	for range copies {
		sink.Reset()
		sink.Write(clip)
	}
	copyNs := time.Since(t0).Nanoseconds() / copies
	b.SetBytes(int64(len(clip)))
	for b.Loop() {
		sink.Reset()
		w, _ := s.Encrypt(&sink)
		w.Write(clip)
		w.Close()
	}
	if copyNs > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(copyNs), "x_copy")
	}
}

// TestOpenAt: random access into a sealed file gives the plaintext's
// bytes at any offset.
func TestOpenAt(t *testing.T) {
	keyPath, pub := newKey(t)
	s, _ := seal.NewSealer([]string{pub})
	o, _ := seal.LoadIdentities(keyPath)
	plain := randomBytes(t, 200<<10+17)
	sealed, _ := s.Seal(plain)
	rs, n, err := o.OpenAt(bytes.NewReader(sealed), int64(len(sealed)))
	if err != nil || n != int64(len(plain)) {
		t.Fatalf("OpenAt: %v, size %d of %d", err, n, len(plain))
	}
	for _, off := range []int64{0, 1, 64 << 10, 64<<10 - 3, 200 << 10} {
		rs.Seek(off, io.SeekStart)
		buf := make([]byte, 100)
		k, _ := io.ReadFull(rs, buf)
		if !bytes.Equal(buf[:k], plain[off:min(off+100, int64(len(plain)))]) {
			t.Fatalf("bytes at %d differ", off)
		}
	}
	if _, _, err := o.OpenAt(bytes.NewReader(plain), int64(len(plain))); !errors.Is(err, seal.ErrNotSealed) {
		t.Fatalf("OpenAt of plaintext: %v", err)
	}
}
