// Package timeline keeps the recent doorbell events, with the snapshot
// JPEG taken at each press, for the local web app: a bounded list in RAM
// that the page shows newest first and follows live.
//
//	daemon sink ──Add(event)────────────▶ Timeline ──List(n)──────────▶ GET /api/events
//	snapshot    ──SetSnapshot(id, jpeg)─▶  ≤ MaxEvents entries         Snapshot(id) ─▶ GET …/snapshot.jpg
//	recorder    ──SetClip(ids, clip)────▶  ≤ MaxSnapshotBytes of JPEG
//	privacy on  ──ClearSnapshots()──────▶  │
//	                                       └─Subscribe()──▶ chan Update (bounded) ──▶ SSE stream
//
// The oldest event goes when MaxEvents are held; the oldest snapshots go
// when their total passes MaxSnapshotBytes (the event stays, without its
// picture). A snapshot arrives after its event, or never.
//
// Every subscriber has its own bounded buffer. Add and the other writers
// never wait for a subscriber: one whose buffer is full is dropped — its
// channel is closed — and counted, and it must call List again to catch
// up (the web app tells the page to reload its list, then reconnects).
//
// Everything is in RAM only: a restart empties the timeline. Nothing of
// it is written to disk, so privacy mode's ClearSnapshots really forgets
// the pictures.
package timeline
