// Package rtsp is doorbelld's RTSP live-stream server: it shows the door
// to VLC, ffmpeg, Home Assistant or an NVR as rtsp://host:port/<device id>
// (rtsps:// when a TLS config is given), built on gortsplib v5.
//
//	client ─TCP/TLS─▶ listener      at most MaxConns open (one more is closed at once,
//	                      │           counted); a first request must come within
//	                      │           ReadTimeout; HTTP/WebSocket tunnels refused
//	                      ▼
//	               gortsplib.Server   request size bounds, Read/Write/IdleTimeout
//	                      │
//	   DESCRIBE ─▶ handler: auth (Basic) ─▶ path ─▶ Source.Info ─┬─ ErrPrivate  ─▶ 403
//	   SETUP              401 / 404                              ├─ ErrNoCamera ─▶ 503
//	   PLAY                                                      ├─ bad size    ─▶ 415
//	                                                             └─ ok: SDP of the current stream
//
//	                  one stream per camera format, shared by every reader:
//
//	Source.Subscribe("rtsp") ─▶ Viewer ─▶ feeder ─▶ packetize once ─▶ gortsplib.ServerStream
//	  (only while ≥1 reader        │      (RFC 2435 MJPEG,                   │  one write queue
//	   plays; closed when the      │       RFC 6184 H.264 mode 1,            │  per reader: full
//	   last one leaves)            │       never re-encoded)                 ▼  queue drops, counted
//	                               │                                   reader, reader, …
//	                               └─ ErrPrivate / ErrFormatChanged / ErrClosed:
//	                                  every reader session of the stream is closed
//
// Sound (Options.Audio, optional): the SDP gets a second media, G.711
// µ-law (PCMU, payload type 0, 8000 Hz mono), which go2rtc, Home
// Assistant, ffmpeg and ONVIF clients all take:
//
//	Audio.SubscribeAudio("rtsp") ─▶ AudioFeed ─▶ audio feeder ─▶ downmix ─▶ 8 kHz ─▶ µ-law ─▶ 20 ms RTP ─▶ ServerStream
//	  (only while ≥1 reader plays     │          (box filter of rate/8000 taps, then     (timestamps from the chunks' At on
//	   the audio media; closed        │           linear interpolation)                  the 8 kHz clock; NTP = At, as the
//	   when the last one leaves)      │                                                  video's, so clients can lip-sync)
//	                                  ├─ ErrPrivate: the stream ends, as for video
//	                                  └─ any other error: counted, logged (rate-limited), retried
//	                                     after 1 s … 30 s; the video plays on without sound
//
// Talk (Options.Talk, optional): an ONVIF back-channel media (a=sendonly,
// G.711 µ-law PT 0 or A-law PT 8, 8000 Hz mono), last in the SDP and
// shown only to clients whose DESCRIBE carries "Require:
// www.onvif.org/ver20/backchannel"; for all others the SDP is unchanged.
//
//	client RTP (PT 0 / 8) ─▶ gortsplib session ─▶ talk: sequence check ─▶ µ-/A-law decode ─▶ TalkSink.Write
//	  SETUP back-channel,       (OnPacketRTP,      late or repeated: dropped,   (8000 Hz mono S16;     (never blocks)
//	  PLAY; the first packet     per format)       gaps: counted)               the sink owns it)
//	  calls Talk.StartTalk(user, remote)                                                 │
//	session closes ─▶ TalkSink.Close, "rtsp: talk stopped", audit.ActionTalk ◀───────────┘
//
// The talk begins with the first packet, not with PLAY: go2rtc (and so
// Home Assistant through it) asks for the back-channel on every
// connection and sends on it only while someone speaks; a talk at PLAY
// would hold the speaker for as long as an NVR watches.
//
// A talk needs the same credentials as watching (the SETUP and PLAY are
// authenticated like the stream's); with Auth open, anyone who may
// watch may also talk, so an open RTSP server is also an open
// door speaker. StartTalk failing (speaker busy or absent) leaves the
// session playing: its packets are dropped and counted, the refusal
// logged (rate-limited) and audited (Outcome refused). Each talk is
// logged when it starts and stops (Info, with user and remote address)
// and audited when it ends: Actor "rtsp:<user>", From, Duration.
//
// Fast start: the feeder keeps the RTP packets sent since the last key
// frame (for JPEG: the last frame; for H.264: the GOP, bounded). A reader
// joining a running stream gets them, on its own session and with their
// original sequence numbers, before it is added to the shared stream; the
// feeder is held off meanwhile, so the reader sees exactly the packets the
// others saw from that key frame on, and its decoder starts at once
// instead of waiting for the next key frame.
//
// Authentication: when Auth is not Open, every DESCRIBE, SETUP and PLAY
// needs Basic credentials (only password hashes are stored, so Digest,
// which needs the clear password on the server, is impossible). Basic
// over plain RTSP sends the password readable to anyone on the path:
// use rtsps (Options.TLSConfig) off a trusted LAN. OPTIONS, answered by
// gortsplib itself, needs none; it shows no picture. A wrong password
// gets 401 and the connection is closed. Refusals are counted and logged
// at most once a minute per kind; every reader session start and stop is
// logged (Info) with user and remote address: who watched, and how long
// (and audited, audit.ActionLive, when Options.Audit is set).
// Passwords and session ids are never logged.
//
// UDP: RTP over UDP needs two fixed server ports (even RTP port, RTCP
// port +1) that a firewall must let through; Options.UDPRTPPort sets
// them, AutoUDP picks a free pair, 0 (the default) disables UDP: clients
// then use RTP interleaved in the RTSP TCP connection, which ffmpeg, VLC
// and gortsplib fall back to by themselves.
package rtsp
