package ownerkey_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

const keyHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func write(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "owner.key")
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	want, _ := hex.DecodeString(keyHex)
	for _, c := range []struct{ name, content string }{
		{"bare", keyHex},
		{"newline", keyHex + "\n"},
		{"comments", "# my doorbell\n\n  " + keyHex + "  # the key\r\n# end\n"},
		{"upper case", strings.ToUpper(keyHex) + "\n"},
		{"marshalled", string(ownerkey.Key(want).Marshal())},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := ownerkey.Load(write(t, c.content, 0o600))
			if err != nil || !bytes.Equal(k, want) {
				t.Fatalf("Load = %x, %v", []byte(k), err)
			}
		})
	}
	long := strings.Repeat("ab", 100)
	if k, err := ownerkey.Load(write(t, long, 0o600)); err != nil || len(k) != 100 {
		t.Errorf("a 100-byte key: %d bytes, %v", len(k), err)
	}
}

func TestLoadErrors(t *testing.T) {
	secret := strings.Repeat("5e", 20) // 20 bytes: too short, and must not be quoted
	for _, c := range []struct{ name, content, want string }{
		{"empty", "", "no key line"},
		{"comments only", "# nothing\n\n", "no key line"},
		{"short", secret + "\n", "line 1: a key of 20 bytes, want at least 32 (64 hex digits)"},
		{"not hex", "# c\n" + keyHex[:60] + "zz" + keyHex[62:] + "\n", "line 2: not hex"},
		{"odd", keyHex + "a", "line 1: an odd number of hex digits"},
		{"two keys", keyHex + "\n" + keyHex + "\n", "line 2: a second key line (the first is line 1)"},
		{"space inside", keyHex[:32] + " " + keyHex[32:], "line 1: not hex"},
		{"too long a line", strings.Repeat("a", 2*ownerkey.MaxBytes+2), "at most 1024 hex digits"},
		{"too big a file", strings.Repeat("#", ownerkey.MaxFileBytes+1), "more than 65536 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, c.content, 0o600)
			_, err := ownerkey.Load(path)
			if !errors.Is(err, ownerkey.ErrBadKey) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Load = %v, want %q naming %s", err, c.want, path)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), keyHex[:16]) {
				t.Errorf("the error quotes the file: %v", err)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "nope.key")
	if _, err := ownerkey.Load(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load of a missing file = %v", err)
	}
}

func TestLoose(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no mode bits")
	}
	for _, c := range []struct {
		perm os.FileMode
		want bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o604, true}, {0o644, true}} {
		path := write(t, keyHex, 0o600)
		if err := os.Chmod(path, c.perm); err != nil {
			t.Fatal(err)
		}
		if got := ownerkey.Loose(path); got != c.want {
			t.Errorf("Loose(%v) = %v", c.perm, got)
		}
		if _, err := ownerkey.Load(path); err != nil {
			t.Errorf("mode %v: Load = %v: a loose file still loads", c.perm, err)
		}
	}
	if ownerkey.Loose(filepath.Join(t.TempDir(), "nope")) {
		t.Error("Loose of a missing file")
	}
}

func TestSignVerify(t *testing.T) {
	k, _ := hex.DecodeString(keyHex)
	key := ownerkey.Key(k)
	// The construction: HMAC-SHA256 over each part prefixed with its
	// length, 8 bytes big-endian.
	h := hmac.New(sha256.New, k)
	h.Write([]byte{0, 0, 0, 0, 0, 0, 0, 13})
	h.Write([]byte("clipxfer-done"))
	h.Write([]byte{0, 0, 0, 0, 0, 0, 0, 2})
	h.Write([]byte("c1"))
	h.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	want := hex.EncodeToString(h.Sum(nil))
	mac := key.Sign("clipxfer-done", "c1", "")
	if mac != want {
		t.Fatalf("Sign = %s, want %s", mac, want)
	}
	if !key.Verify(mac, "clipxfer-done", "c1", "") {
		t.Error("Verify of its own MAC")
	}
	other := ownerkey.Generate()
	for _, c := range []struct {
		name  string
		key   ownerkey.Key
		mac   string
		parts []string
	}{
		{"other parts", key, mac, []string{"clipxfer-done", "c2", ""}},
		{"parts shifted", key, key.Sign("ab", "c"), []string{"a", "bc"}},
		{"fewer parts", key, mac, []string{"clipxfer-done", "c1"}},
		{"other key", other, mac, []string{"clipxfer-done", "c1", ""}},
		{"upper case", key, strings.ToUpper(mac), []string{"clipxfer-done", "c1", ""}},
		{"truncated", key, mac[:63], []string{"clipxfer-done", "c1", ""}},
		{"empty", key, "", []string{"clipxfer-done", "c1", ""}},
		{"no key", nil, mac, []string{"clipxfer-done", "c1", ""}},
	} {
		if c.key.Verify(c.mac, c.parts...) {
			t.Errorf("%s: verified", c.name)
		}
	}
	if s := ownerkey.Key(nil).Sign("x"); s != "" {
		t.Errorf("Sign without a key = %q", s)
	}
}

func TestGenerate(t *testing.T) {
	a, b := ownerkey.Generate(), ownerkey.Generate()
	if len(a) != ownerkey.MinBytes || bytes.Equal(a, b) {
		t.Fatalf("Generate: %d bytes, equal %v", len(a), bytes.Equal(a, b))
	}
	back, err := ownerkey.Parse(a.Marshal())
	if err != nil || !bytes.Equal(back, a) {
		t.Errorf("Parse(Marshal) = %v", err)
	}
	if a.ID() == b.ID() || len(a.ID()) != 8 || !strings.Contains(string(a.Marshal()), a.ID()) {
		t.Errorf("IDs %s %s", a.ID(), b.ID())
	}
}

// Nothing prints the key: fmt with any verb, slog with any handler.
func TestRedacted(t *testing.T) {
	k, _ := hex.DecodeString(keyHex)
	key := ownerkey.Key(k)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "key", key)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "key", key)
	out := fmt.Sprintf("%v %s %x %X %d %q %#v %+v", key, key, key, key, key, key, key, key) + logged.String()
	for _, leak := range []string{keyHex[:8], strings.ToUpper(keyHex[:8]), "[0 17 34"} {
		if strings.Contains(out, leak) {
			t.Errorf("the key leaks (%s): %s", leak, out)
		}
	}
	if !strings.Contains(out, "owner key "+key.ID()) || ownerkey.Key(nil).String() != "no owner key" {
		t.Errorf("%s", out)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(keyHex))
	f.Add([]byte("# c\n" + keyHex + " # x\n"))
	f.Add([]byte("zz"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ownerkey.Parse(b)
		if err != nil {
			if !errors.Is(err, ownerkey.ErrBadKey) {
				t.Fatalf("error %v does not wrap ErrBadKey", err)
			}
			return
		}
		if len(k) < ownerkey.MinBytes || len(k) > ownerkey.MaxBytes {
			t.Fatalf("a key of %d bytes", len(k))
		}
		back, err := ownerkey.Parse(k.Marshal())
		if err != nil || !bytes.Equal(back, k) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
