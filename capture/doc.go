// Package capture keeps the doorbell camera's recent video in RAM and
// answers "what did the camera see at time t?".
//
// Data flow:
//
//	Source (v4l2src on the Pi, simcam in sim mode, capturetest in tests)
//	  │  Stream(ctx, started, push): started(real Format), then push(frame bytes, capture time)
//	  ▼
//	Camera.Run ── restarts the Source with exponential backoff (1s..30s) after a
//	  │           failure; a missing camera is a degraded mode, never Run's error
//	  ▼
//	Ring ──────── byte-bounded, preallocated ring buffer: each frame is copied once
//	  │           into it, the oldest frames are evicted; no allocation per frame
//	  ▼
//	readers ───── Camera.Snapshot(ctx, t): the frame nearest t as a JPEG (MJPEG as
//	              captured, YUYV encoded), waiting up to two frame intervals for the
//	              next frame if t is newer than the buffer; Ring.Frames(from, to)
//	              for clips; Camera.Status for health.
//
// The capture goroutine (the one running Source.Stream) is the Ring's only
// writer and never waits for a reader: readers take a read lock and copy
// the frames they want out, so a caller always owns what it gets.
//
// Frame times are wall-clock times of capture (for V4L2, the driver's
// CLOCK_MONOTONIC buffer timestamp mapped to the wall clock), so they can be
// compared with the time a button was pressed.
package capture
