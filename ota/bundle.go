package ota

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Magic starts every bundle: "DBOTA", two zero bytes, format version 1.
const Magic = "DBOTA\x00\x00\x01"

// signContext is prepended to what is signed, so a bundle signature can
// never be mistaken for a signature over anything else.
const signContext = "doorbelld-ota-bundle-v1\x00"

const (
	prefixSize = len(Magic) + len(KeyID{}) + 4 // magic, key id, manifest length
	sigSize    = ed25519.SignatureSize
)

// HeaderSize returns the bytes before the binary in a bundle whose
// manifest JSON is n bytes long.
func HeaderSize(n int) int64 { return int64(prefixSize + n + sigSize) }

// MaxHeaderSize is the largest HeaderSize.
const MaxHeaderSize = int64(prefixSize + MaxManifestSize + sigSize)

// Signed is a manifest with its signature, ready to be written in front of
// its binary.
type Signed struct {
	Manifest Manifest
	KeyID    KeyID
	Raw      []byte // the manifest JSON that was signed
	Sig      []byte
}

// Size returns the size of the whole bundle.
func (s Signed) Size() int64 { return HeaderSize(len(s.Raw)) + s.Manifest.Size }

// Sign validates m and signs it with key.
func Sign(m Manifest, key ed25519.PrivateKey) (Signed, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Signed{}, fmt.Errorf("ota: sign: private key of %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if err := m.Validate(); err != nil {
		return Signed{}, fmt.Errorf("ota: sign: %w", err)
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Signed{}, fmt.Errorf("ota: sign: %w", err)
	}
	id := IDOf(key.Public().(ed25519.PublicKey))
	return Signed{Manifest: m, KeyID: id, Raw: raw, Sig: ed25519.Sign(key, signed(id, raw))}, nil
}

// SignedMessage returns what a bundle's signature signs: a context
// string, the key id and the manifest bytes.
func SignedMessage(id KeyID, manifest []byte) []byte { return signed(id, manifest) }

func signed(id KeyID, manifest []byte) []byte {
	b := make([]byte, 0, len(signContext)+len(id)+len(manifest))
	b = append(b, signContext...)
	b = append(b, id[:]...)
	return append(b, manifest...)
}

// Header returns the bytes that precede the binary.
func (s Signed) Header() []byte {
	b := make([]byte, 0, HeaderSize(len(s.Raw)))
	b = append(b, Magic...)
	b = append(b, s.KeyID[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Raw)))
	b = append(b, s.Raw...)
	return append(b, s.Sig...)
}

// WriteBundle writes the bundle: s's header, then the binary read from bin,
// which must be exactly Manifest.Size bytes with Manifest.SHA256, or the
// write fails (ErrHashMismatch, ErrTruncated, ErrMalformed) and w holds a
// partial bundle.
func WriteBundle(w io.Writer, s Signed, bin io.Reader) error {
	if _, err := w.Write(s.Header()); err != nil {
		return fmt.Errorf("ota: write bundle: %w", err)
	}
	b := &Bundle{Manifest: s.Manifest, r: bin, h: sha256.New()}
	if _, err := io.Copy(w, b.Binary()); err != nil {
		return fmt.Errorf("ota: write bundle: %w", err)
	}
	return nil
}

// HashFile returns the SHA-256 (hex) and size of what r holds.
func HashFile(r io.Reader) (sum string, size int64, err error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, fmt.Errorf("ota: hash: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Bundle is a bundle whose header Open has read and verified; its binary
// is still to be read from Binary.
type Bundle struct {
	Manifest Manifest
	KeyID    KeyID
	// HeaderSize is the bytes Open consumed.
	HeaderSize int64

	r    io.Reader
	h    hash.Hash
	n    int64 // binary bytes read
	err  error // sticky result once the end is reached
	done bool
}

// Size returns the size of the whole bundle: header and binary.
func (b *Bundle) Size() int64 { return b.HeaderSize + b.Manifest.Size }

// Open reads a bundle's header from r and verifies it: the magic, that the
// key id names a key of keys (else ErrUnknownKey), the signature (else
// ErrBadSignature) and then the manifest's form (else ErrMalformed). A
// stream that ends early is ErrTruncated. It reads nothing past the header;
// the binary is read with Binary. The policy (expiry, architecture, version
// floor) is Manifest.Check's.
func Open(r io.Reader, keys *Keyring) (*Bundle, error) {
	id, n, err := readPrefix(r)
	if err != nil {
		return nil, err
	}
	pub := keys.find(id)
	if pub == nil {
		return nil, fmt.Errorf("ota: bundle signed by key %s, not one of the %d trusted keys %v: %w", id, keys.Len(), keys.IDs(), ErrUnknownKey)
	}
	rest := make([]byte, int(n)+sigSize)
	if err := readFull(r, rest, "manifest and signature"); err != nil {
		return nil, err
	}
	raw, sig := rest[:n], rest[n:]
	if !ed25519.Verify(pub, signed(id, raw), sig) {
		return nil, fmt.Errorf("ota: signature by key %s does not verify: %w", id, ErrBadSignature)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	return &Bundle{Manifest: m, KeyID: id, HeaderSize: HeaderSize(int(n)), r: r, h: sha256.New()}, nil
}

// readPrefix reads and checks a bundle's fixed prefix: the magic, the
// signing key's id and the manifest's length.
func readPrefix(r io.Reader) (KeyID, uint32, error) {
	var pre [prefixSize]byte
	var id KeyID
	if err := readFull(r, pre[:], "header"); err != nil {
		return id, 0, err
	}
	if string(pre[:len(Magic)]) != Magic {
		if bytes.Equal(pre[:5], []byte(Magic[:5])) {
			return id, 0, fmt.Errorf("ota: bundle format %x, this device reads %x: %w", pre[5:8], Magic[5:8], ErrMalformed)
		}
		return id, 0, fmt.Errorf("ota: not a doorbelld bundle (starts %q): %w", pre[:len(Magic)], ErrMalformed)
	}
	copy(id[:], pre[len(Magic):])
	n := binary.BigEndian.Uint32(pre[len(Magic)+len(id):])
	if n == 0 || n > MaxManifestSize {
		return id, 0, fmt.Errorf("ota: manifest length %d, want 1 to %d: %w", n, MaxManifestSize, ErrMalformed)
	}
	return id, n, nil
}

func readFull(r io.Reader, b []byte, what string) error {
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("ota: bundle ends in the %s: %w", what, ErrTruncated)
		}
		return fmt.Errorf("ota: read bundle %s: %w", what, err)
	}
	return nil
}

// Binary returns a reader of the binary: exactly Manifest.Size bytes. Its
// final Read checks what it read: an early end is ErrTruncated, a wrong
// hash ErrHashMismatch, more data after the binary ErrMalformed; only then
// does it return io.EOF. So a copy of the binary that ends without error is
// the binary the manifest names.
func (b *Bundle) Binary() io.Reader { return binaryReader{b} }

type binaryReader struct{ b *Bundle }

func (br binaryReader) Read(p []byte) (int, error) {
	b := br.b
	if b.done {
		return 0, b.err
	}
	left := b.Manifest.Size - b.n
	if left == 0 {
		b.done, b.err = true, b.finish()
		return 0, b.err
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	b.n += int64(n)
	switch {
	case err == io.EOF && b.n < b.Manifest.Size:
		b.done = true
		b.err = fmt.Errorf("ota: bundle ends after %d of %d binary bytes: %w", b.n, b.Manifest.Size, ErrTruncated)
		return n, b.err
	case err != nil && err != io.EOF:
		b.done, b.err = true, fmt.Errorf("ota: read binary: %w", err)
		return n, b.err
	}
	return n, nil
}

// finish checks the hash and that nothing follows the binary.
func (b *Bundle) finish() error {
	var one [1]byte
	for {
		n, err := b.r.Read(one[:])
		if n > 0 {
			return fmt.Errorf("ota: data after the %d byte binary: %w", b.Manifest.Size, ErrMalformed)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("ota: read bundle end: %w", err)
		}
	}
	if got := hex.EncodeToString(b.h.Sum(nil)); got != b.Manifest.SHA256 {
		return fmt.Errorf("ota: binary sha256 %s, manifest says %s: %w", got, b.Manifest.SHA256, ErrHashMismatch)
	}
	return io.EOF
}

// Verify reads a whole bundle from r and checks it against keys and, when
// now is not zero, the expiry. It returns the manifest of a valid bundle.
func Verify(r io.Reader, keys *Keyring, now time.Time) (Manifest, KeyID, error) {
	b, err := Open(r, keys)
	if err != nil {
		return Manifest{}, KeyID{}, err
	}
	if err := b.Manifest.Check(Policy{Now: now}); err != nil {
		return b.Manifest, b.KeyID, err
	}
	if _, err := io.Copy(io.Discard, b.Binary()); err != nil {
		return b.Manifest, b.KeyID, err
	}
	return b.Manifest, b.KeyID, nil
}

// Inspect reads a bundle's header WITHOUT verifying the signature, to show
// what a file claims to be (doorbellctl ota push prints it). Never act on
// it: use Open.
func Inspect(r io.Reader) (Manifest, KeyID, int64, error) {
	id, n, err := readPrefix(r)
	if err != nil {
		return Manifest{}, id, 0, err
	}
	raw := make([]byte, n)
	if err := readFull(r, raw, "manifest"); err != nil {
		return Manifest{}, id, 0, err
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return Manifest{}, id, 0, err
	}
	return m, id, HeaderSize(int(n)) + m.Size, nil
}
