package ota_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

func TestBundleRoundTrip(t *testing.T) {
	bin := otatest.Binary("1.2.0", 5000)
	m := otatest.Manifest("1.2.0", bin)
	s, err := ota.Sign(m, otatest.Key(0))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ota.WriteBundle(&buf, s, bytes.NewReader(bin)); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != s.Size() {
		t.Fatalf("bundle %d bytes, Size() %d", buf.Len(), s.Size())
	}
	// One byte at a time, to exercise short reads.
	b, err := ota.Open(iotest.OneByteReader(bytes.NewReader(buf.Bytes())), otatest.Keyring(0))
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest != m || b.KeyID != ota.IDOf(otatest.Public(0)) || b.Size() != s.Size() {
		t.Errorf("got %+v key %v size %d", b.Manifest, b.KeyID, b.Size())
	}
	got, err := io.ReadAll(iotest.OneByteReader(b.Binary()))
	if err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("binary: %d bytes, %v", len(got), err)
	}
	im, id, size, err := ota.Inspect(bytes.NewReader(buf.Bytes()))
	if err != nil || im != m || id != b.KeyID || size != s.Size() {
		t.Errorf("Inspect = %+v %v %d %v", im, id, size, err)
	}
}

// TestBundleFaults: every corruption and policy violation is refused with
// its sentinel error.
func TestBundleFaults(t *testing.T) {
	bin := otatest.Binary("2.0.0", 3000)
	m := otatest.Manifest("2.0.0", bin)
	good := otatest.Bundle(t, 0, m, bin)
	s, _ := ota.Sign(m, otatest.Key(0))
	hdr := len(s.Header())
	mstart := 20
	sigStart := hdr - 64
	flip := func(off int, bit byte) []byte {
		b := bytes.Clone(good)
		b[off] ^= bit
		return b
	}
	with := func(f func(*ota.Manifest)) []byte {
		m2 := m
		f(&m2)
		return otatest.Bundle(t, 0, m2, bin)
	}
	keys := otatest.Keyring(0, 1)
	now := otatest.Created.Add(time.Hour)
	device := ota.RunningArch()
	policy := ota.Policy{Now: now, Arch: device, Model: "doorbelld", Floor: "1.5.0", MaxSize: 1 << 20}

	otherArch := ota.Arch{GOOS: "linux", GOARCH: "arm64"}
	if device.GOARCH == "arm64" {
		otherArch.GOARCH = "amd64"
	}
	cases := []struct {
		name   string
		bundle []byte
		policy ota.Policy
		want   error
	}{
		{"flipped bit in binary, first byte", flip(hdr, 1), policy, ota.ErrHashMismatch},
		{"flipped bit in binary, last byte", flip(len(good)-1, 0x80), policy, ota.ErrHashMismatch},
		{"flipped bit in manifest", flip(mstart+10, 4), policy, ota.ErrBadSignature},
		{"flipped bit in manifest version", flip(mstart+bytes.Index(s.Raw, []byte("2.0.0")), 1), policy, ota.ErrBadSignature},
		{"flipped bit in signature", flip(sigStart+5, 2), policy, ota.ErrBadSignature},
		{"flipped bit in key id", flip(9, 1), policy, ota.ErrUnknownKey},
		{"flipped bit in magic", flip(0, 1), policy, ota.ErrMalformed},
		{"other format version", flip(7, 2), policy, ota.ErrMalformed},
		{"manifest length + 1", flip(19, 1), policy, ota.ErrBadSignature},
		{"manifest length huge", flip(16, 0x80), policy, ota.ErrMalformed},
		{"wrong key", otatest.Bundle(t, 2, m, bin), policy, ota.ErrUnknownKey},
		{"key id of a trusted key, signed by another", func() []byte {
			b := otatest.Bundle(t, 2, m, bin)
			id := ota.IDOf(otatest.Public(1))
			copy(b[8:16], id[:])
			return b
		}(), policy, ota.ErrBadSignature},
		{"expired", with(func(m *ota.Manifest) { m.Expires = now.Add(-time.Second) }), policy, ota.ErrExpired},
		{"older version", with(func(m *ota.Manifest) { m.Version = "1.4.9" }), policy, ota.ErrDowngrade},
		{"same version as floor", with(func(m *ota.Manifest) { m.Version = "1.5.0" }), policy, ota.ErrDowngrade},
		{"same version, build metadata", with(func(m *ota.Manifest) { m.Version = "1.5.0+rebuild" }), policy, ota.ErrDowngrade},
		{"pre-release of the floor", with(func(m *ota.Manifest) { m.Version = "1.5.0-rc.9" }), policy, ota.ErrDowngrade},
		{"wrong architecture", with(func(m *ota.Manifest) { m.GOARCH, m.GOARM = otherArch.GOARCH, "" }), policy, ota.ErrWrongArch},
		{"wrong OS", with(func(m *ota.Manifest) { m.GOOS = "freebsd" }), policy, ota.ErrWrongArch},
		{"wrong model", with(func(m *ota.Manifest) { m.Model = "gatebell" }), policy, ota.ErrWrongModel},
		{"oversized binary", good, ota.Policy{Now: now, MaxSize: 2999}, ota.ErrTooLarge},
		{"size says more than there is", with(func(m *ota.Manifest) { m.Size++ }), policy, ota.ErrTruncated},
		{"size says less than there is", with(func(m *ota.Manifest) { m.Size-- }), policy, ota.ErrMalformed},
		{"trailing data", append(bytes.Clone(good), 0), policy, ota.ErrMalformed},
		{"hash of another binary", with(func(m *ota.Manifest) {
			sum := sha256.Sum256(otatest.Binary("other", 3000))
			m.SHA256 = hex.EncodeToString(sum[:])
		}), policy, ota.ErrHashMismatch},
		{"empty", nil, policy, ota.ErrTruncated},
	}
	// Truncated at every boundary and a few places in between.
	for _, n := range []int{1, 7, 8, 15, 16, 19, 20, 21, sigStart - 1, sigStart, sigStart + 63, hdr, hdr + 1, len(good) / 2, len(good) - 1} {
		cases = append(cases, struct {
			name   string
			bundle []byte
			policy ota.Policy
			want   error
		}{"truncated to " + strconv.Itoa(n), good[:n], policy, ota.ErrTruncated})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := check(c.bundle, keys, c.policy)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("multi-line error %q", err)
			}
			t.Log(err)
		})
	}
	if err := check(good, keys, policy); err != nil {
		t.Fatalf("the good bundle: %v", err)
	}
}

// check is what a device does: Open, Check, read the binary.
func check(bundle []byte, keys *ota.Keyring, p ota.Policy) error {
	b, err := ota.Open(bytes.NewReader(bundle), keys)
	if err != nil {
		return err
	}
	if err := b.Manifest.Check(p); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, b.Binary())
	return err
}

func TestWriteBundleChecksBinary(t *testing.T) {
	bin := otatest.Binary("1.0.0", 200)
	s, _ := ota.Sign(otatest.Manifest("1.0.0", bin), otatest.Key(0))
	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"other binary": {otatest.Binary("1.0.1", 200), ota.ErrHashMismatch},
		"short":        {bin[:199], ota.ErrTruncated},
		"long":         {append(bytes.Clone(bin), 1), ota.ErrMalformed},
	} {
		if err := ota.WriteBundle(io.Discard, s, bytes.NewReader(c.in)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestSignRefusesInvalidManifest(t *testing.T) {
	m := otatest.Manifest("1.0.0", []byte("x"))
	m.Version = "one"
	if _, err := ota.Sign(m, otatest.Key(0)); !errors.Is(err, ota.ErrMalformed) {
		t.Errorf("Sign = %v", err)
	}
}

func TestHeaderLayout(t *testing.T) {
	bin := otatest.Binary("1.0.0", 64)
	s, _ := ota.Sign(otatest.Manifest("1.0.0", bin), otatest.Key(0))
	h := s.Header()
	if string(h[:8]) != ota.Magic || !bytes.Equal(h[8:16], s.KeyID[:]) ||
		binary.BigEndian.Uint32(h[16:20]) != uint32(len(s.Raw)) || !bytes.Equal(h[20:20+len(s.Raw)], s.Raw) ||
		int64(len(h)) != ota.HeaderSize(len(s.Raw)) {
		t.Errorf("header layout differs from the documented one")
	}
}
