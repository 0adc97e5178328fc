// Package mic reads the doorbell's microphone: every chunk of sound is
// stamped on the video's clock and goes to the clips' audio ring and to
// the live listeners (the RTSP audio track).
//
//	ALSA capture (hal/audio.Microphone)
//	   │ Read 20 ms of S16 (blocks)            Run: one goroutine; a missing or failing
//	   ▼                                        card is retried every Retry (degraded,
//	stamp: At = first sample's capture time     never a crash; Status says why)
//	   │ counted in samples from the first read, set again from the
//	   │ wall clock when the count drifts more than Resync (lost buffer)
//	   ├──────────────▶ capture.AudioRing (clips: sound beside the pre-roll)
//	   │
//	   └─ Mute? ─▶ Feed, Feed, …   one bounded queue each: a slow listener
//	     (owner's    (Subscribe)    loses its oldest chunks, never delays
//	      voice                     the microphone
//	      echoing)
//
// Privacy mode (SetPaused(true)) closes the device: nothing is heard, the
// ring is emptied and every feed ends with live.ErrPrivate; Subscribe is
// refused until it is switched off, and then the device opens again.
//
// Stamps: ALSA hands a period over when it is full, so a Read returns
// about when its last sample was captured, unless the reader came late and
// the device captured more since: a device that says how much it holds
// (audio.Delayer, ALSA's delay) has that taken off the first stamp and off
// every stamp set again from the clock. The first sample's time is that
// minus the chunk's length. Later chunks are stamped by counting
// samples (smooth, no scheduling jitter); when the count is ahead of the
// clock by more than Resync, or behind by more than the device's buffer
// (Latency) plus Resync, the stamp is taken from the clock again and
// counted in Status.Resyncs.
package mic
