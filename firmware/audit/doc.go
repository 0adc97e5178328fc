// Package audit is the privacy audit trail: every access to pictures
// (live-view sessions, snapshots, clip fetches, pulls and deletions) and
// every change that affects privacy (privacy mode, config, OTA installs,
// logins) is recorded as one Entry.
//
//	web, rtsp, clipxfer,          ┌──────────────────────────────────────────────┐
//	privacy, config, ota ─Record─▶│ Log: stamp Seq, At, Prev (sha256 of the line │
//	                              │      before); cut fields to 256 B of UTF-8   │
//	                              └──┬──────────────┬─────────────┬───────────┬──┘
//	                                 ▼              ▼             ▼           ▼
//	         file audit.log (0600): one JSON   Recent ring   Subscribe    Stats: entries
//	         line, one write(2), O_APPEND,     (newest       chans: MQTT  by action/outcome,
//	         fdatasync when Options.Sync;      first; the    "audit"      write errors,
//	         past MaxBytes rotate:             web page)     topic; full  drops, rotations
//	         audit.log → .1 → … → .Keep,                     ones drop    (Prometheus)
//	         the chain runs on across files                  (counted)
//	                 │
//	                 ▼
//	         Verify / VerifyFiles: recompute the chain, name the line that breaks it
//
// The file. Each line is the JSON of an Entry (json.Marshal of it gives the
// same bytes) and its Prev is the hex SHA-256 of the line before, so a
// line edited or removed breaks the chain at the next line, across rotated
// files too. A chain is evidence, not a seal: someone with write access
// can rewrite the whole tail. Compare the head Verify returns with the
// head the daemon reports (Stats.Head) or the last entry received over
// MQTT, which a rewrite cannot change.
//
// On Open an existing log continues (Seq, chain, Recent refilled from the
// files). A torn last line from a power cut is cut off with a warning.
// Entries not yet synced when the power goes (Options.Sync false) are lost
// and their Seq numbers used again.
//
// Nothing sensitive goes in: callers pass names and addresses, never
// passwords, hashes or tokens. Fields come from outside (a user name, a
// remote address), so Record cuts them to MaxField bytes of valid UTF-8,
// and the JSON encoding escapes every control character (C0, DEL, C1):
// a line never carries a raw newline or terminal escape.
//
// The trail must never block or crash the doorbell: Record never fails.
// A write that fails (disk full, EIO) is counted, logged at most once a
// minute, the partial line is cut back, and the entry still reaches
// Recent and the subscribers. The file's chain skips it, so the file stays
// verifiable and the loss shows as a jump in Seq.
//
// Memory only: Open("") keeps no file (RAM-only setups, tests); Recent,
// subscribers and Stats work the same.
package audit
