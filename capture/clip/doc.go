// Package clip cuts video clips around doorbell events out of the
// capture ring, with the microphone's sound beside them, and muxes them
// into MP4 files.
//
// Data flow:
//
//	camera ──▶ capture.Ring (frames, At)     microphone ──▶ capture.AudioRing (20 ms PCM chunks, At)
//	                 │    ▲                                        │ (Options.Audio, optional)
//	                 │    │ Hold.Want(at-PreRoll, at+PostRoll): the clip's frames are
//	                 │    │ reserved at once (times looked at, nothing copied, ~0.2 µs)
//	daemon ── Trigger(at, eventID) ──▶ queue ──▶ Recorder.Run (one goroutine)
//	                 │                                │
//	                 └── Hold.Next ──────────────────▶│ every second: takes the reserved frames,
//	                     (frames the ring evicted     │ oldest first (YUYV encoded to JPEG on the
//	                      before Run took them were   │ way, each frame once) and gives each to the
//	                      copied aside by Push)       │ clips spanning its time; copies new sound
//	                                                  │ chunks out of the audio ring
//	                                                  │ at + PostRoll (+250 ms, until both have
//	                                                  │ caught up): MuxAV → MP4 bytes
//	                                                  ▼
//	                                   Sink.Put(meta, mp4)  (a *storage.Store; Meta.Audio
//	                                      │                  "pcm_s16le 16000 Hz 1ch" or "")
//	                                      ▼
//	                                   Ready() ── storage.Meta ──▶ daemon ("clip ready")
//
// A slow encoder delays a clip but does not lose its pre-roll. Encoding
// a 640x480 YUYV frame in pure Go takes a few ms on a PC and far longer
// on a small board or an emulator; while Run is busy, the camera keeps
// pushing and the ring evicts its oldest frames. So the frames a clip
// needs are reserved the moment it is triggered: the Recorder's
// capture.Hold wants the span [at - PreRoll, at + PostRoll], and a frame
// it wants that the ring evicts before Run took it is copied aside by
// Push (the ring pins by copying: Push never waits). Copying at Trigger
// time instead would put ~30 MB of copying (2 s of 640x480 YUYV) on the
// daemon's event loop per trigger, and still lose the post-roll to a
// slow encoder.
//
// Memory: the ring, plus the frames copied aside, at most the ring's hold
// limit (capture.Ring.SetHoldLimit; by default the ring's own size, so a
// 64 MiB ring takes at most 128 MiB), plus one frame being encoded, plus
// the clips' JPEGs (MaxLength bounds a clip). Past the hold limit the
// encoder is hopelessly behind: wanted frames are evicted like others,
// counted in Stats.Lost and logged, and the clips are stored with a gap.
// The sound is still copied out of the audio ring every second, between
// frames, so an encoder that spends over ~3 s on one frame loses sound.
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
