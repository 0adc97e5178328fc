// Package ownerkey is the doorbell owner's shared secret: a key of at least
// 32 random bytes that the device and the owner's receivers (doorbellctl
// clips pull) both hold, so that a message only the owner's tools can make
// is told apart from one any client of a shared broker can publish. MQTT
// 3.1.1 tells a subscriber nothing about who published a message; an HMAC
// with this key does.
//
// Its first use is the clip transfer's done message (package clipxfer): in
// storage.mode ram a done frees the clip, and the sha256 it quotes is in
// the public manifest, so anyone could forge one. Signed, it is the owner's:
//
//	doorbellctl clips owner-key FILE ──▶ FILE (0600): "# comment" lines, one hex line
//	          │ copied to the device; given to clips pull (--owner-key FILE or DOORBELL_OWNER_KEY_FILE)
//	          ▼
//	receiver: Load(FILE) ─▶ Key ─▶ done {"sha256":S, "mac":Key.Sign("clipxfer-done", id, S)} ──▶ broker
//	device:   Load(FILE) ─▶ Key ─▶ Key.Verify(mac, "clipxfer-done", id, S)? free the clip : refuse, clip stays
//
// The MAC is HMAC-SHA256 over the parts, each prefixed with its length (8
// bytes, big-endian), so no two lists of parts sign the same bytes; the
// first part names the message ("clipxfer-done"), so a MAC made for one
// purpose is never valid for another. Verify compares in constant time. A
// MAC seen on the broker can be replayed, but it only says again what the
// owner said: that the owner holds that clip with that sha256.
//
// The key never appears in an error, a log line or fmt output (Key's
// String, GoString and LogValue redact it); ID is a short, non-secret
// fingerprint to tell keys apart. Load refuses bad content only: a key file
// readable by group or others still loads, and Loose lets the caller warn
// about it.
package ownerkey
