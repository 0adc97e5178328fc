// Package rtsptest holds stand-ins for testing firmware/rtsp and what
// wires it: Source, a live source that behaves like capture/live's hub as
// far as rtsp.Source promises (newest frame at once for JPEG, the GOP
// from the newest key frame for H.264, slow viewers lose frames, privacy
// and format changes end viewers), fed with real frames:
//
//	JPEGFrames(w, h, n) ──image/jpeg──▶ n real baseline JPEGs ─┐
//	H264Frames(ctx, …) ───ffmpeg/libx264──▶ access units ──────┴─▶ Source ─▶ Publish / Run(ctx) at fps
//	                                                                  │
//	                                    Subscribe ─▶ viewer.Next ◀───┘
//
// For sound: Mic, a fake microphone (Push a chunk, Tone makes one, Run
// paces a tone in real time; SetPrivate, Fail), and Speaker, a fake door
// speaker recording each talk and its samples. Play reads the video,
// PlayAV every media (video frames counted, PCMU audio decoded).
package rtsptest
