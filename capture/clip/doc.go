// Package clip cuts video clips around doorbell events out of the
// capture ring and muxes them into MP4 files.
//
// Data flow:
//
//	daemon ── Trigger(at, eventID) ──▶ Recorder.Run (one goroutine)
//	                                      │ every second: copies the clip's new frames out of
//	                                      │ the capture.Ring (YUYV encoded to JPEG on the way),
//	                                      │ from at - PreRoll on
//	                                      │ at + PostRoll (+250 ms): Mux → MP4 bytes
//	                                      ▼
//	                                   Sink.Put(meta, mp4)  (a *storage.Store)
//	                                      │
//	                                      ▼
//	                                   Ready() ── storage.Meta ──▶ daemon ("clip ready")
//
// A trigger that comes while a clip is being recorded extends it (with
// Options.Merge) instead of starting a second clip, up to MaxLength; then
// a new clip continues where it stopped.
//
// Mux is usable on its own: it writes frames as a progressive MP4 with one
// track (MJPEG, or H.264 passed through), every sample timed by its frame's
// capture time. The MP4 boxes are written by
// github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4 (on top of
// github.com/abema/go-mp4); this package only chooses frames and times.
package clip
