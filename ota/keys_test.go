package ota_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

func TestParsePublicKeyForms(t *testing.T) {
	pub := otatest.Public(1)
	pemText := string(ota.MarshalPublicKey(pub))
	der := strings.Join(strings.Split(pemText, "\n")[1:2], "") // PKIX DER base64, one line for a 44-byte DER
	for name, s := range map[string]string{
		"raw std":    ota.EncodePublicKey(pub),
		"raw url":    base64.RawURLEncoding.EncodeToString(pub),
		"pkix line":  der,
		"pem":        pemText,
		"whitespace": "  " + ota.EncodePublicKey(pub) + "\n",
	} {
		got, err := ota.ParsePublicKey(s)
		if err != nil || !bytes.Equal(got, pub) {
			t.Errorf("%s: ParsePublicKey(%q) = %x, %v", name, s, got, err)
		}
	}
	for _, s := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 31)),
		"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		strings.Replace(pemText, "PUBLIC KEY", "PRIVATE KEY", 2)} {
		if _, err := ota.ParsePublicKey(s); !errors.Is(err, ota.ErrMalformed) {
			t.Errorf("ParsePublicKey(%q) = %v, want ErrMalformed", s, err)
		}
	}
}

func TestParseKeyringRotation(t *testing.T) {
	text := "# old key, retire after 2027\n" + ota.EncodePublicKey(otatest.Public(1)) + "\n\n" +
		string(ota.MarshalPublicKey(otatest.Public(2))) + "# again, a duplicate\n" + ota.EncodePublicKey(otatest.Public(1)) + "\n" +
		string(ota.MarshalPublicKey(otatest.Public(3)))
	k, err := ota.ParseKeyring([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []ota.KeyID{ota.IDOf(otatest.Public(1)), ota.IDOf(otatest.Public(2)), ota.IDOf(otatest.Public(3))}
	if got := k.IDs(); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("IDs = %v, want %v", got, want)
	}
	// Each of them verifies a bundle it signed.
	bin := otatest.Binary("1.0.0", 100)
	for n := 1; n <= 3; n++ {
		b := otatest.Bundle(t, n, otatest.Manifest("1.0.0", bin), bin)
		if _, id, err := ota.Verify(bytes.NewReader(b), k, otatest.Created); err != nil || id != ota.IDOf(otatest.Public(n)) {
			t.Errorf("key %d: %v, id %v", n, err, id)
		}
	}
	for _, bad := range []string{"", "# only a comment\n", "AAAA\n", "-----BEGIN PUBLIC KEY-----\nbroken"} {
		if _, err := ota.ParseKeyring([]byte(bad)); err == nil {
			t.Errorf("ParseKeyring(%q): no error", bad)
		}
	}
}

func TestPrivateKeyRoundTrip(t *testing.T) {
	pub, priv, err := ota.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ota.ParsePrivateKey(ota.MarshalPrivateKey(priv))
	if err != nil || !got.Equal(priv) || !got.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := ota.ParsePrivateKey(ota.MarshalPublicKey(pub)); !errors.Is(err, ota.ErrMalformed) {
		t.Errorf("public key as private: %v", err)
	}
}
