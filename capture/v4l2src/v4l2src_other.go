//go:build !linux || !cgo

package v4l2src

import (
	"context"
	"fmt"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

// Stream implements capture.Source. This binary has no V4L2 support: it
// fails at once with ErrNotSupported.
func (s *Source) Stream(ctx context.Context, started func(capture.Format), push func([]byte, time.Time)) error {
	return fmt.Errorf("v4l2src: open %s: %w", s.device, ErrNotSupported)
}
