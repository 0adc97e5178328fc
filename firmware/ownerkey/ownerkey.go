package ownerkey

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
)

// Limits of a key and its file.
const (
	// MinBytes is the shortest key Load accepts, and the length Generate
	// makes.
	MinBytes = 32
	// MaxBytes is the longest key Load accepts.
	MaxBytes = 512
	// MaxFileBytes bounds a key file; a bigger one is refused unread.
	MaxFileBytes = 64 << 10
)

// ErrBadKey: a key file whose content is not a key. Load's errors wrap it
// (and name the file and what is wrong, never the key).
var ErrBadKey = errors.New("bad owner key")

// Key is an owner key. The zero value (nil) is no key: Sign returns "" and
// Verify false.
type Key []byte

// Generate returns a new key of MinBytes random bytes.
func Generate() Key {
	k := make(Key, MinBytes)
	if _, err := io.ReadFull(rand.Reader, k); err != nil {
		panic("ownerkey: no randomness: " + err.Error()) // crypto/rand never fails on supported systems
	}
	return k
}

// Load reads the key in the file at path: lines, of which blank ones and
// everything from a # on are ignored, and exactly one holds the key, in
// hex. Errors name path and what is wrong; they wrap ErrBadKey for bad
// content, or the os error for a file that cannot be read.
func Load(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ownerkey: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ownerkey: read %s: %w", path, err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("ownerkey: %s: more than %d bytes, not a key file: %w", path, MaxFileBytes, ErrBadKey)
	}
	k, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("ownerkey: %s: %w", path, err)
	}
	return k, nil
}

// Parse reads a key file's content (see Load). Errors wrap ErrBadKey and
// never quote the content.
func Parse(b []byte) (Key, error) {
	var key Key
	keyLine := 0
	for i, line := range bytes.Split(b, []byte("\n")) {
		if c := bytes.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if keyLine > 0 {
			return nil, fmt.Errorf("line %d: a second key line (the first is line %d); want one: %w", i+1, keyLine, ErrBadKey)
		}
		keyLine = i + 1
		if len(line) > 2*MaxBytes {
			return nil, fmt.Errorf("line %d: %d characters, at most %d hex digits: %w", i+1, len(line), 2*MaxBytes, ErrBadKey)
		}
		key = make(Key, hex.DecodedLen(len(line)))
		if _, err := hex.Decode(key, line); err != nil {
			var inv hex.InvalidByteError
			if errors.As(err, &inv) {
				return nil, fmt.Errorf("line %d: not hex (a character other than 0-9 a-f A-F): %w", i+1, ErrBadKey)
			}
			return nil, fmt.Errorf("line %d: an odd number of hex digits: %w", i+1, ErrBadKey)
		}
	}
	switch {
	case keyLine == 0:
		return nil, fmt.Errorf("no key line (only blank lines and comments): %w", ErrBadKey)
	case len(key) < MinBytes:
		return nil, fmt.Errorf("line %d: a key of %d bytes, want at least %d (%d hex digits): %w", keyLine, len(key), MinBytes, 2*MinBytes, ErrBadKey)
	}
	return key, nil
}

// Marshal returns k's file form, as Load reads it: a comment, then k in
// hex on one line. It is the secret: write it only to a file of mode 0600.
func (k Key) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("# doorbelld owner key (" + k.ID() + "): signs clip done messages. Keep it secret:\n")
	b.WriteString("# the doorbell and your receivers (doorbellctl clips pull --owner-key) hold the same file.\n")
	b.WriteString(hex.EncodeToString(k))
	b.WriteByte('\n')
	return b.Bytes()
}

// Loose reports whether the file at path may be read by its group or by
// others (a key file should be 0600 or 0400). It reports false when path
// cannot be stat'ed (Load then says why) and on Windows, where the mode
// bits say nothing about it.
func Loose(path string) bool {
	if runtime.GOOS == "windows" {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Perm()&0o077 != 0
}

// Sign returns the HMAC-SHA256, in lowercase hex, of parts, each prefixed
// with its length as 8 bytes big-endian; the first part should name the
// purpose ("clipxfer-done"). With no key it returns "".
func (k Key) Sign(parts ...string) string {
	if len(k) == 0 {
		return ""
	}
	return hex.EncodeToString(k.mac(parts))
}

// Verify reports whether mac is Sign(parts...), comparing in constant time.
// With no key it reports false.
func (k Key) Verify(mac string, parts ...string) bool {
	if len(k) == 0 || len(mac) != 2*sha256.Size {
		return false
	}
	want := make([]byte, 2*sha256.Size)
	hex.Encode(want, k.mac(parts))
	return hmac.Equal([]byte(mac), want)
}

func (k Key) mac(parts []string) []byte {
	h := hmac.New(sha256.New, k)
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}

// ID is a short fingerprint of k (8 hex digits of a hash, not the key), to
// tell keys apart in logs and messages; "" for no key.
func (k Key) ID() string {
	if len(k) == 0 {
		return ""
	}
	return k.Sign("ownerkey-id")[:8]
}

// String describes k without the key: "owner key 1a2b3c4d", or "no owner
// key".
func (k Key) String() string {
	if len(k) == 0 {
		return "no owner key"
	}
	return "owner key " + k.ID()
}

// GoString is String, so %#v does not print the key either.
func (k Key) GoString() string { return k.String() }

// Format writes String for every verb (%x and %d included), so fmt never
// prints the key.
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue is String, so slog never logs the key.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

var (
	_ slog.LogValuer = Key(nil)
	_ fmt.Formatter  = Key(nil)
)
