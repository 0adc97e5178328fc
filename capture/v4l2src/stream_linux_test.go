//go:build linux && cgo

package v4l2src

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

// TestStreamNoDevice checks that a missing or non-video device is an
// error from Stream, not a panic or a hang, and that started is not called.
func TestStreamNoDevice(t *testing.T) {
	for _, dev := range []string{"/dev/video-does-not-exist", os.DevNull} {
		t.Run(dev, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := New(dev, Options{}).Stream(ctx, func(capture.Format) {
				t.Error("started called")
			}, func([]byte, time.Time) {})
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
		})
	}
}
