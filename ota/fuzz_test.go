package ota_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

// sentinels are the errors a bundle may be refused with.
var sentinels = []error{ota.ErrMalformed, ota.ErrUnknownKey, ota.ErrBadSignature, ota.ErrHashMismatch, ota.ErrTruncated}

// FuzzParseBundle feeds the parser two ways: data as a whole bundle (the
// framing, unauthenticated), and manifest+binary framed and correctly
// signed with a trusted key (so the fuzzer reaches the manifest parser and
// the binary reader behind the signature). Neither may panic; every error
// wraps a sentinel and is one printable line; whatever is accepted is
// valid and its binary is the one named.
func FuzzParseBundle(f *testing.F) {
	bin := otatest.Binary("1.0.0", 100)
	good := otatest.NewBundle(f, "1.0.0", bin)
	s, _ := ota.Sign(otatest.Manifest("1.0.0", bin), otatest.Key(0))
	f.Add(good, s.Raw, bin)
	f.Add(good[:50], []byte(`{"format":1}`), []byte{})
	f.Add([]byte(ota.Magic), []byte(strings.Replace(string(s.Raw), `"size": 100`, `"size": 99`, 1)), bin)
	f.Add([]byte{}, []byte(`{"format":1,"model":"doorbelld","goos":"linux","goarch":"arm","goarm":"7","version":"1.0.0-rc.1","sha256":"`+strings.Repeat("0", 64)+`","size":1,"created":"2026-01-01T00:00:00Z","expires":"2027-01-01T00:00:00Z"}`), []byte{0})
	keys := otatest.Keyring(0)
	f.Fuzz(func(t *testing.T, data, manifest, binary []byte) {
		parse(t, data, keys)
		if len(manifest) > ota.MaxManifestSize {
			return
		}
		parse(t, signedFrame(manifest, binary), keys)
	})
}

// signedFrame frames manifest and binary as a bundle signed by test key 0.
func signedFrame(manifest, bin []byte) []byte {
	id := ota.IDOf(otatest.Public(0))
	var b bytes.Buffer
	b.WriteString(ota.Magic)
	b.Write(id[:])
	_ = binary.Write(&b, binary.BigEndian, uint32(len(manifest)))
	b.Write(manifest)
	b.Write(otatest.SignRaw(0, manifest))
	b.Write(bin)
	return b.Bytes()
}

func parse(t *testing.T, data []byte, keys *ota.Keyring) {
	b, err := ota.Open(bytes.NewReader(data), keys)
	if err == nil {
		var got []byte
		got, err = io.ReadAll(b.Binary())
		if err == nil {
			if verr := b.Manifest.Validate(); verr != nil {
				t.Fatalf("accepted an invalid manifest: %v", verr)
			}
			if int64(len(got)) != b.Manifest.Size || b.Size() != int64(len(data)) {
				t.Fatalf("accepted %d binary bytes of %d, bundle %d of %d", len(got), b.Manifest.Size, b.Size(), len(data))
			}
			return
		}
	}
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q wraps %d sentinels", err, n)
	}
	if msg := err.Error(); !utf8.ValidString(msg) || strings.ContainsAny(msg, "\n\r\x00") || len(msg) > 600 {
		t.Fatalf("error not fit to log: %q", msg)
	}
}

// FuzzParseManifest: never panics; accepted manifests are valid and
// survive a round trip through Sign.
func FuzzParseManifest(f *testing.F) {
	s, _ := ota.Sign(otatest.Manifest("1.0.0", []byte("x")), otatest.Key(0))
	f.Add(s.Raw)
	f.Add([]byte(`{"format":1,"goarm":"7"}`))
	f.Add([]byte(`{"format":1e400}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ota.ParseManifest(b)
		if err != nil {
			if !errors.Is(err, ota.ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		s, err := ota.Sign(m, otatest.Key(0))
		if err != nil {
			t.Fatalf("accepted manifest does not sign: %v", err)
		}
		m2, err := ota.ParseManifest(s.Raw)
		if err != nil || !m2.Created.Equal(m.Created) || !m2.Expires.Equal(m.Expires) || m2.SHA256 != m.SHA256 || m2.Version != m.Version {
			t.Fatalf("round trip: %+v vs %+v, %v", m2, m, err)
		}
	})
}
