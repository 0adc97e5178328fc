// Package storage keeps finished clips (MP4 files) until they are
// delivered or retention removes them.
//
// Data flow:
//
//	clip.Recorder ── Put(meta, mp4 bytes) ──▶ Store ──▶ List / Lookup / Open(id) for the
//	                                           │        daemon (MQTT "clip ready", web API)
//	                                           │
//	              ModeDisk: one <start>_<id>.mp4 plus a <start>_<id>.json sidecar per clip
//	              in one directory; ModeRAM: a map in memory, nothing on disk
//
// Digests: Put computes each clip's sha256 and the CRC-32C of each chunk
// of Options.ChunkBytes from the bytes it is given and keeps them in
// Meta.Digest (ModeDisk: in the sidecar too), so the clip transfer
// (firmware/clipxfer) announces a clip without reading it back from the SD
// card. A clip stored by an older doorbelld has none: Store.Digest reads it
// once, computes its digest and keeps it.
//
// Retention, in both modes: the total size stays within MaxBytes and no
// clip is older than MaxAge (counted from its Start); the oldest clips go
// first. Put enforces it before storing, Run enforces MaxAge while no clip
// comes in. In ModeRAM a clip also goes as soon as MarkDelivered is called.
//
// Crash safety (ModeDisk): each file is written to a temporary file in the
// same directory, fsynced, and renamed into place (github.com/google/renameio),
// then the directory is fsynced. The sidecar is written first and the MP4
// last, so a clip exists exactly when its MP4 file does: a power cut or kill
// at any point leaves either the whole clip or none of it. Open rebuilds the
// index from the directory and removes leftover temporary files and
// sidecars without an MP4. A full disk (ENOSPC) evicts the oldest clip and
// retries; when nothing is left to evict, Put returns ErrNoSpace and the
// daemon goes on.
package storage
