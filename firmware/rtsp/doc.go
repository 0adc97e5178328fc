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
// logged (Info) with user and remote address: who watched, and how long.
// Passwords and session ids are never logged.
//
// UDP: RTP over UDP needs two fixed server ports (even RTP port, RTCP
// port +1) that a firewall must let through; Options.UDPRTPPort sets
// them, AutoUDP picks a free pair, 0 (the default) disables UDP: clients
// then use RTP interleaved in the RTSP TCP connection, which ffmpeg, VLC
// and gortsplib fall back to by themselves.
package rtsp
