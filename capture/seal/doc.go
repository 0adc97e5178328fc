// Package seal encrypts clips and snapshots on the device for their owner,
// with age (filippo.io/age), so that the SD card, the broker and the Home
// Assistant host only ever hold ciphertext.
//
//	privacy.recipients ──ParseRecipients──▶ Sealer ──Encrypt(dst)──▶ io.WriteCloser ──▶ file / MQTT
//	 (age1…, age1pq1…,                       │        streaming: 64 KiB chunks, a fresh
//	  ssh-ed25519 AAAA…)                      │        file key per clip (deleting the file
//	                                          │        shreds it)
//	                                          └─Seal(b)──▶ one snapshot
//
//	identity file (AGE-SECRET-KEY-1…, or an unencrypted OpenSSH ed25519 key)
//	  ──LoadIdentities──▶ Opener ──Open(src)──▶ plaintext reader   (doorbellctl clips pull --identity,
//	                                                               the web app with privacy.identity_file)
//
// The format is age's (age-encryption.org/v1): `age -d -i key.txt clip.mp4.age`
// decrypts a clip without doorbelld. Errors never quote key material.
package seal
