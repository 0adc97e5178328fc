package ota_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/doorbelld/doorbelld/ota"
)

func Example() {
	// The release machine: a key (doorbellctl ota keygen) and a bundle.
	seed := sha256.Sum256([]byte("example only"))
	key := ed25519.NewKeyFromSeed(seed[:])
	bin := []byte("\x7fELF... the doorbelld binary")
	sum := sha256.Sum256(bin)
	created := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s, err := ota.Sign(ota.Manifest{
		Format: ota.ManifestFormat, Model: "doorbelld", GOOS: "linux", GOARCH: "arm", GOARM: "6",
		Version: "1.3.0", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(bin)),
		Created: created, Expires: created.AddDate(0, 3, 0),
	}, key)
	if err != nil {
		panic(err)
	}
	var bundle bytes.Buffer
	if err := ota.WriteBundle(&bundle, s, bytes.NewReader(bin)); err != nil {
		panic(err)
	}

	// The device: trusted keys from its config, its own policy.
	keys, _ := ota.NewKeyring(key.Public().(ed25519.PublicKey))
	b, err := ota.Open(&bundle, keys)
	if err != nil {
		panic(err)
	}
	pi7 := ota.Arch{GOOS: "linux", GOARCH: "arm", GOARM: "7"}
	fmt.Println(b.Manifest.Version, b.Manifest.Arch(), b.KeyID)
	fmt.Println(b.Manifest.Check(ota.Policy{Now: created.AddDate(0, 1, 0), Arch: pi7, Model: "doorbelld", Floor: "1.2.0"}))
	got, err := io.ReadAll(b.Binary()) // checks size and hash at the end
	fmt.Println(len(got), err)

	err = b.Manifest.Check(ota.Policy{Floor: "1.3.0"})
	fmt.Println(errors.Is(err, ota.ErrDowngrade), err)
	// Output:
	// 1.3.0 linux/arm/v6 f448fdedf2b34163
	// <nil>
	// 28 <nil>
	// true ota: version 1.3.0 is not newer than 1.3.0: downgrade refused
}
