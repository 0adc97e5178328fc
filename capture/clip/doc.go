// Package clip cuts video clips around doorbell events out of the
// capture ring, with the microphone's sound beside them, and muxes them
// into MP4 files.
//
// Data flow:
//
//	camera ──▶ capture.Ring (frames, At)     microphone ──▶ capture.AudioRing (20 ms PCM chunks, At)
//	                 │                                             │ (Options.Audio, optional)
//	                 └──────────────┬──────────────────────────────┘
//	daemon ── Trigger(at, eventID) ──▶ Recorder.Run (one goroutine)
//	                                      │ every second: copies the clip's new frames out of
//	                                      │ the ring (YUYV encoded to JPEG on the way) and its
//	                                      │ new sound chunks out of the audio ring (samples
//	                                      │ copied), from at - PreRoll on
//	                                      │ at + PostRoll (+250 ms, until both have caught up):
//	                                      │ MuxAV → MP4 bytes
//	                                      ▼
//	                                   Sink.Put(meta, mp4)  (a *storage.Store; Meta.Audio
//	                                      │                  "pcm_s16le 16000 Hz 1ch" or "")
//	                                      ▼
//	                                   Ready() ── storage.Meta ──▶ daemon ("clip ready")
//
// A trigger that comes while a clip is being recorded extends it (with
// Options.Merge) instead of starting a second clip, up to MaxLength; then
// a new clip continues where it stopped.
//
// Mux and MuxAV are usable on their own. Mux writes frames as a
// progressive MP4 with one track (MJPEG, or H.264 passed through), every
// sample timed by its frame's capture time. MuxAV adds the sound as a
// second track of 16-bit PCM ("ipcm", pcm_s16le to ffprobe), laid on the
// video's timeline by the chunks' capture times:
//
//	video   Start ├─f──f──f──f──f──f──f──f──f──f──f──f──┤ End
//	chunks     ▒▒▒▒▒▒▒▒▒▒▒▒▒      ▒▒▒▒▒▒▒▒▒▒
//	                                     ▓▓▓▓▓▓▓▓▓▓       (clock stepped back)
//	audio         ├██████████░░░░░░██████████▓▓▓▓▓▓░░░░░┤
//	              │          │               │     └ silence after the last chunk
//	              │          │               └ overlap dropped; the rest at its own time
//	              │          └ gap (microphone stalled, chunks lost): silence
//	              └ sound from before Start cut; the sample at t is the sound
//	                captured at Start + t
//
// so the track lasts exactly as long as the video and never drifts from
// it. The MP4 boxes are written by
// github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4 (on top of
// github.com/abema/go-mp4); this package only chooses frames, sound and
// times.
package clip
