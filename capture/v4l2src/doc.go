// Package v4l2src is the camera driver: a capture.Source that reads a V4L2
// video device with go4vl. It is the only package that uses cgo; in a
// binary built without it (CGO_ENABLED=0, or not Linux) Stream fails with
// ErrNotSupported and the daemon runs without a camera.
//
// Each Stream call opens the device, enumerates its pixel formats and
// requests MJPEG if offered (and allowed by Options.Format), else YUYV, at
// the configured size and frame rate. Drivers silently substitute what
// they cannot do, so it then reads back what the driver really chose
// (VIDIOC_G_FMT, VIDIOC_G_PARM) and reports that to started. Streaming
// uses go4vl's ioctl wrappers with a loop of its own (go4vl's copies each
// frame into a pooled buffer first): push gets each frame straight from
// the driver's mmap buffer, stamped with its capture time (the driver's
// CLOCK_MONOTONIC timestamp mapped to the wall clock), and the buffer goes
// back to the driver as soon as push returns, so push must copy what it
// keeps (capture.Ring does, once).
//
// Stream returns nil when its context is done and an error when the device
// fails or stalls (no frame for Options.StallTimeout), so capture.Camera
// reopens it.
package v4l2src
