package clip

import "github.com/doorbelld/doorbelld/capture"

// SetEncoder replaces the Recorder's JPEG encoder for YUYV frames (a test
// makes it as slow as it wants). Call it before Run.
func SetEncoder(r *Recorder, encode func(capture.Frame, int) ([]byte, error)) { r.encode = encode }
