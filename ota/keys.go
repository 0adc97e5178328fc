package ota

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/wire"
)

// KeyID names a public key: the first 8 bytes of its SHA-256. It is not
// secret and not a proof of anything; it lets an error say which key signed
// a bundle.
type KeyID [8]byte

// String returns the id in hex.
func (k KeyID) String() string { return hex.EncodeToString(k[:]) }

// IDOf returns the id of a public key.
func IDOf(pub ed25519.PublicKey) KeyID {
	s := sha256.Sum256(pub)
	var id KeyID
	copy(id[:], s[:8])
	return id
}

// Keyring is a set of trusted public keys. Several keys let a new key sign
// releases while devices still trust the old one (key rotation). The zero
// Keyring trusts nothing.
type Keyring struct {
	keys []ed25519.PublicKey
}

// NewKeyring returns a keyring of keys; duplicates are dropped.
func NewKeyring(keys ...ed25519.PublicKey) (*Keyring, error) {
	k := &Keyring{}
	for i, pub := range keys {
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("ota: keyring: key %d: %d bytes, want %d", i+1, len(pub), ed25519.PublicKeySize)
		}
		if k.find(IDOf(pub)) == nil {
			k.keys = append(k.keys, bytes.Clone(pub))
		}
	}
	return k, nil
}

// ParseKeyring reads public keys from text: PEM "PUBLIC KEY" blocks (as
// doorbellctl ota keygen and openssl write them) and/or lines each holding
// one key in base64 (the 32 raw bytes, or the PKIX DER inside a PEM block).
// Blank lines and lines starting with # are ignored.
func ParseKeyring(text []byte) (*Keyring, error) {
	var keys []ed25519.PublicKey
	rest := text
	for {
		i := bytes.Index(rest, []byte("-----BEGIN"))
		head := rest
		if i >= 0 {
			head = rest[:i]
		}
		for n, line := range strings.Split(string(head), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			pub, err := ParsePublicKey(line)
			if err != nil {
				return nil, fmt.Errorf("ota: keyring: line %d: %w", n+1, err)
			}
			keys = append(keys, pub)
		}
		if i < 0 {
			break
		}
		b, after := pem.Decode(rest[i:])
		if b == nil {
			return nil, fmt.Errorf("ota: keyring: broken PEM block: %w", ErrMalformed)
		}
		pub, err := publicFromPEM(b)
		if err != nil {
			return nil, fmt.Errorf("ota: keyring: %w", err)
		}
		keys = append(keys, pub)
		rest = after
	}
	if len(keys) == 0 {
		return nil, errors.New("ota: keyring: no public key found")
	}
	return NewKeyring(keys...)
}

// LoadKeyring reads ParseKeyring text from files.
func LoadKeyring(paths ...string) (*Keyring, error) {
	var all []ed25519.PublicKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("ota: load keyring: %w", err)
		}
		k, err := ParseKeyring(b)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, p)
		}
		all = append(all, k.keys...)
	}
	return NewKeyring(all...)
}

// ParsePublicKey parses one public key: a PEM block, or base64 (standard
// or URL alphabet, padded or not) of the 32 raw key bytes or of the PKIX
// DER encoding.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		b, _ := pem.Decode([]byte(s))
		if b == nil {
			return nil, fmt.Errorf("ota: public key: broken PEM block: %w", ErrMalformed)
		}
		return publicFromPEM(b)
	}
	var raw []byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			raw = b
			break
		}
	}
	switch {
	case raw == nil:
		return nil, fmt.Errorf("ota: public key %s: not base64 or PEM: %w", wire.Quote(s), ErrMalformed)
	case len(raw) == ed25519.PublicKeySize:
		return ed25519.PublicKey(raw), nil
	}
	return publicFromDER(raw)
}

func publicFromPEM(b *pem.Block) (ed25519.PublicKey, error) {
	if b.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("ota: public key: PEM block %q, want \"PUBLIC KEY\": %w", b.Type, ErrMalformed)
	}
	return publicFromDER(b.Bytes)
}

func publicFromDER(der []byte) (ed25519.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("ota: public key: neither 32 raw bytes nor PKIX (%v): %w", err, ErrMalformed)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("ota: public key: a %T, want ed25519: %w", k, ErrMalformed)
	}
	return pub, nil
}

// Len returns the number of keys.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// IDs returns the ids of the keys, in the order they were given.
func (k *Keyring) IDs() []KeyID {
	if k == nil {
		return nil
	}
	ids := make([]KeyID, len(k.keys))
	for i, pub := range k.keys {
		ids[i] = IDOf(pub)
	}
	return ids
}

func (k *Keyring) find(id KeyID) ed25519.PublicKey {
	if k == nil {
		return nil
	}
	for _, pub := range k.keys {
		if IDOf(pub) == id {
			return pub
		}
	}
	return nil
}

// GenerateKey makes a new signing key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("ota: generate key: %w", err)
	}
	return pub, priv, nil
}

// MarshalPublicKey encodes pub as a PEM "PUBLIC KEY" block (PKIX).
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil { // only for key types other than ed25519
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// EncodePublicKey returns pub as one line of base64 (the 32 raw bytes), the
// form a config file holds.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// MarshalPrivateKey encodes priv as a PEM "PRIVATE KEY" block (PKCS #8),
// which openssl also reads.
func MarshalPrivateKey(priv ed25519.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil { // only for key types other than ed25519
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// ParsePrivateKey parses a PEM "PRIVATE KEY" block (PKCS #8) holding an
// ed25519 key.
func ParsePrivateKey(text []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(text)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("ota: private key: want a PEM \"PRIVATE KEY\" block: %w", ErrMalformed)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ota: private key: %v: %w", err, ErrMalformed)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("ota: private key: a %T, want ed25519: %w", k, ErrMalformed)
	}
	return priv, nil
}
