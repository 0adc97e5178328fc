// Package audio is the doorbell's sound edge: quick replies played on a
// speaker, and a microphone for two-way talk and sound in clips, on real
// ALSA hardware through github.com/gen2brain/alsa (pure Go, no plugins).
//
// Quick replies flow one way:
//
//	audio.replies (config)        Play(name, s)           Run's goroutine
//	name → file.wav ──LoadWAV──▶ *Sound ──────▶ Player ─────────────────┐
//	  (validated at start:         never blocks;  one slot:             │
//	   PCM, 8-48 kHz, ≤ 30 s)      newest wins    replaced → Replaced++ │
//	                                                                    ▼
//	                        Status ◀── Open() per playback (and a probe each minute)
//	   Available, LastError,            │ fails: degraded, Failed++, bell still rings
//	   Playing, counters                ▼
//	                          Speaker ──Convert (resample, remix, widen)──▶
//	                          ALSA hw:CARD,DEV  write periods ▶ drain
//	                          (ctx done: DROP at once, no drain)
//
// One playback at a time. A new Play REPLACES the running one (it is
// dropped at once) and any waiting one: the visitor hears the newest
// reply, never a queue of stale ones. Play and Status never block, so a
// ring, an event or the chime is never delayed by sound, and a stuck
// device is dropped after its sound's length plus PlayerOptions.Slack.
//
// Two-way talk streams the owner's voice (the RTSP back-channel: G.711,
// 8 kHz mono, 20 ms packets with network jitter) to the same speaker:
//
//	back-channel ──Write([]int16)──▶ Talk: jitter buffer ──fill──▶ Run's goroutine
//	  never blocks;                  prefill 60 ms, then play;     Speaker.Stream:
//	  voice (> -50 dBFS) sets        dry: silence, Underruns++,    StreamConverter per
//	  Status.TalkVoiceUntil          gather a prefill 40 ms        20 ms period ▶ ALSA
//	                                 longer (≤ 200 ms) again;      (80 ms buffer; ctx
//	                                 over 300 ms: drop the         done: DROP, no drain)
//	                                 oldest, Dropped++
//
// Talk has PRIORITY over quick replies:
//   - Player.Talk cuts the running reply and drops a waiting one (both
//     counted Replaced);
//   - a Play while a talk is open is dropped, counted Refused and logged
//     "reply refused: talk in progress";
//   - a second Talk replaces the first: the first ends (Done, Err is
//     ErrTalkReplaced) and its Writes do nothing;
//   - Talk.Close stops the speaker at once (what is buffered is dropped)
//     and replies play again.
//
// Play, Talk, Talk.Write and Status never block on the device. Without a
// speaker Talk still returns a session: it ends at once with the open's
// error (Err, Done), its writes are dropped, and Status shows the speaker
// unavailable with LastError (degraded, never a crash).
// Status.TalkVoiceUntil is when the voice written so far will have come
// out of the speaker (the write's time, plus what is buffered ahead of
// it, plus the device's buffer): the daemon mutes the microphone's live
// track until then (half-duplex echo suppression).
//
// The speaker is opened afresh for each playback and talk (and probed at start
// and every PlayerOptions.Probe while idle), so a USB card plugged in
// later works and one pulled out shows in Status as degraded, never a
// crash.
//
// Devices are named "hw:1,0", "hw:Loopback,0" or "Loopback" (see
// ParseDevice); "default" and other plugins are refused. A device is
// asked what it takes (rate range, channels, S16_LE/S32_LE) and opened
// at the sound's own rate and channels when it can; otherwise Convert
// resamples by linear interpolation (fine for speech; no anti-alias
// filter when downsampling), remixes mono↔stereo and widens to S32_LE.
//
// The microphone edge gives interleaved S16 at the rate and channels the
// device negotiated:
//
//	ALSA hw:CARD,DEV (capture) ──Read([]int16)──▶ caller (talk, clips)
//
// Package audiotest has fakes of Speaker, Microphone and the Open
// function for tests.
package audio
