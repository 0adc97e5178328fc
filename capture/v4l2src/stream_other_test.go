//go:build !linux || !cgo

package v4l2src

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

func TestStreamNotSupported(t *testing.T) {
	err := New("/dev/video0", Options{}).Stream(context.Background(), func(capture.Format) {
		t.Error("started called")
	}, func([]byte, time.Time) {})
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
}
