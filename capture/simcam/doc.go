// Package simcam is a simulated camera: a capture.Source that produces real
// Motion-JPEG frames without hardware, for sim mode and for tests.
//
// Each frame shows colour bars and a grey ramp that scroll with the frame
// time, the frame time as HH:MM:SS.mmm in large digits, and a frame
// counter, so a snapshot or a clip shows at a glance which moment it is
// from. Frames are rendered into one reused image.YCbCr (the scrolling rows
// are precomputed and copied in) and encoded with image/jpeg into one
// reused buffer; frame times come from the clock given to New.
package simcam
