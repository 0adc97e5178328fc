// Package live shows the door as it is now: it fans the camera's frames
// out to live viewers (RTSP clients, MJPEG-over-HTTP clients, the web
// app's live view) and serves the MJPEG stream.
//
// Data flow:
//
//	capture.Camera ── the capture goroutine stores each frame in the Ring and
//	  │               closes Camera.Next's channel; it never waits for the hub
//	  ▼
//	Hub.Run ───────── one goroutine, asleep while there is no viewer. With
//	  │               viewers, at each new frame it turns the camera frame
//	  │               into one shared *Frame:
//	  │                 MJPEG: as captured (Huffman tables added if missing)
//	  │                 YUYV:  encoded to JPEG once, whatever the viewers
//	  │                 H.264: every access unit in order, Key = has an IDR
//	  │                        slice; SPS/PPS kept for Info
//	  │               JPEG: only the newest frame (a late hub skips);
//	  │               H.264: every frame after the last one handled
//	  ▼
//	Viewer queues ─── bounded, one per viewer, holding pointers to the shared
//	  │               frames (no copy per viewer). JPEG: the 2 newest frames.
//	  │               H.264: on overflow or a gap (frames the ring lost) the
//	  │               viewer drops what it has and resumes at a keyframe.
//	  ▼
//	Viewer.Next ───── the RTSP server, the MJPEG handler (MJPEG), the web app
//
// Subscribe gives a new viewer a fast start: the newest JPEG frame at once
// (if fresh), or the H.264 frames from the newest keyframe in the ring. A
// stream ends with ErrPrivate when privacy mode is switched on (and
// Subscribe refuses until it is off), ErrNoCamera when the camera stopped
// and did not come back within Options.Grace, ErrFormatChanged when it
// restarted in another format, ErrClosed when the viewer is closed or the
// hub stops. A camera that restarts in the same format within the grace
// time does not end the streams (H.264 viewers resume at a keyframe).
//
// Nothing here authenticates: whoever serves a picture wraps it.
package live
