// Package capturetest provides a fake capture.Source for tests of packages
// that use a capture.Camera, plus helpers that make real frames.
//
// The test drives the fake: Push hands one frame to the running Stream,
// which passes it to the Camera as a driver would; Fail makes the running
// Stream return an error; SetOpenError makes Stream fail at once, like a
// missing device.
package capturetest
