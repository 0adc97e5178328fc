// Package ota is the format of doorbelld's signed over-the-air updates: the
// manifest, the bundle that carries it with the daemon binary, and the
// keyring of trusted ed25519 public keys.
//
// A bundle is one stream, so a device can check everything but the binary's
// hash before it has received the binary:
//
//	offset  bytes  field
//	0       8      magic "DBOTA\x00\x00\x01" (format 1)
//	8       8      key id: the first 8 bytes of SHA-256 of the signing public key
//	16      4      manifest length N, big-endian, 1..MaxManifestSize
//	20      N      manifest, JSON (Manifest)
//	20+N    64     ed25519 signature of "doorbelld-ota-bundle-v1\x00" || key id || manifest
//	84+N    size   the binary: exactly Manifest.Size bytes, nothing after it
//
// The signature covers the manifest's bytes as sent (no re-encoding), and
// the manifest holds the binary's SHA-256, so the signature covers the
// binary. Reading a bundle:
//
//	Open ── magic, key id, length ──▶ signature (ErrUnknownKey, ErrBadSignature)
//	     ── ParseManifest (ErrMalformed) ──▶ *Bundle
//	Manifest.Check(Policy) ── ErrExpired, ErrWrongArch, ErrWrongModel, ErrDowngrade, ErrTooLarge
//	Bundle.Binary() ── exactly Size bytes, hashed ──▶ io.EOF, or ErrTruncated, ErrHashMismatch, ErrMalformed
//
// Nothing read before the signature is verified is trusted beyond its
// length limits. Package ota/install puts a verified binary in place;
// ota/delivery brings bundles to it over MQTT, HTTP or from a file.
package ota
