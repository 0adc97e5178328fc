//go:build linux && cgo

package v4l2src

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vladimirvivien/go4vl/device"
	"github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"

	"github.com/doorbelld/doorbelld/capture"
)

// drainTimeout bounds the wait for go4vl's capture goroutine to exit after
// its context is cancelled (it polls every 100ms).
const drainTimeout = 2 * time.Second

// Stream implements capture.Source: open, negotiate, report the real
// format to started, then push every frame until ctx is done (nil) or the
// device fails or stalls (an error).
func (s *Source) Stream(ctx context.Context, started func(capture.Format), push func([]byte, time.Time)) error {
	o := s.opts
	log := o.Logger.With("device", s.device)

	if err := probe(s.device); err != nil {
		return fmt.Errorf("v4l2src: open %s: %w", s.device, err)
	}
	var (
		dev *device.Device
		f   capture.Format
	)
	// A device just released (our own previous stream, or another
	// program's) can answer EBUSY to set-format for a moment: retry briefly.
	for attempt := 0; ; attempt++ {
		d, err := device.Open(s.device, device.WithBufferSize(uint32(o.Buffers)))
		if err != nil {
			return fmt.Errorf("v4l2src: open %s: %w", s.device, err)
		}
		f, err = s.negotiate(d, log)
		if err == nil {
			dev = d
			break
		}
		release(d, log)
		if !errors.Is(err, unix.EBUSY) || attempt >= 4 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}

	// go4vl v0.3.0: GetFrames before Start selects the frame API; the
	// channel itself exists only after Start, so ask again.
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	_ = dev.GetFrames()
	if err := dev.Start(streamCtx); err != nil {
		release(dev, log)
		return fmt.Errorf("v4l2src: %s: start streaming %s: %w", s.device, f, err)
	}
	frames, errs := dev.GetFrames(), dev.GetError()

	started(f)
	err := s.loop(ctx, frames, errs, push, log)

	cancel()
	if drain(frames) {
		release(dev, log)
	} else {
		// The capture goroutine may still touch the mapped buffers:
		// leaking them beats a segfault.
		log.Error("v4l2src: capture goroutine did not stop; leaking device", "timeout", drainTimeout)
	}
	return err
}

// probe checks that path is a streaming video capture device. go4vl's
// Open leaks the file descriptor when it is not (and Camera retries
// forever), so this opens and closes the device once on its own first.
func probe(path string) error {
	fd, err := v4l2.OpenDevice(path, unix.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer v4l2.CloseDevice(fd)
	c, err := v4l2.GetCapability(fd)
	if err != nil {
		return fmt.Errorf("query capabilities: %w", err)
	}
	if !c.IsVideoCaptureSupported() || !c.IsStreamingSupported() {
		return fmt.Errorf("%q (driver %s) is not a streaming video capture device", c.Card, c.Driver)
	}
	return nil
}

// negotiate picks and sets the pixel format, size and frame rate, then
// reads back what the driver really chose.
func (s *Source) negotiate(dev *device.Device, log *slog.Logger) (capture.Format, error) {
	o := s.opts
	descs, err := dev.GetFormatDescriptions()
	if err != nil {
		return capture.Format{}, fmt.Errorf("v4l2src: %s: enumerate formats: %w", s.device, err)
	}
	offered := make([]string, 0, len(descs))
	for _, d := range descs {
		offered = append(offered, fourccString(d.PixelFormat))
	}
	want, fellBack, err := choosePixelFormat(offered, o.Format)
	if err != nil {
		return capture.Format{}, fmt.Errorf("v4l2src: %s: %w", s.device, err)
	}
	if fellBack {
		log.Warn("v4l2src: MJPEG not offered, using YUYV", "offered", offered)
	}

	req := v4l2.PixFormat{PixelFormat: fourccCode(want), Width: uint32(o.Width), Height: uint32(o.Height), Field: v4l2.FieldNone}
	if err := dev.SetPixFormat(req); err != nil {
		return capture.Format{}, fmt.Errorf("v4l2src: %s: set format %s %dx%d: %w", s.device, want, o.Width, o.Height, err)
	}
	if err := dev.SetFrameRate(uint32(o.FPS)); err != nil {
		// Some drivers have no frame rate control; go on with theirs.
		log.Warn("v4l2src: cannot set frame rate", "fps", o.FPS, "err", err)
	}

	// go4vl caches what was asked for; ask the driver what it chose.
	got, err := v4l2.GetPixFormat(dev.Fd())
	if err != nil {
		return capture.Format{}, fmt.Errorf("v4l2src: %s: read back format: %w", s.device, err)
	}
	gotFourcc := fourccString(got.PixelFormat)
	pix, ok := pixelFormat(gotFourcc)
	if !ok {
		return capture.Format{}, fmt.Errorf("v4l2src: %s: asked for %s, driver chose unsupported %s", s.device, want, gotFourcc)
	}
	if pix == capture.PixYUYV && got.BytesPerLine != 0 && got.BytesPerLine != 2*got.Width {
		return capture.Format{}, fmt.Errorf("v4l2src: %s: YUYV rows of %d bytes for width %d: padded rows not supported",
			s.device, got.BytesPerLine, got.Width)
	}
	var fps float64
	if sp, err := dev.GetStreamParam(); err == nil {
		fps = fpsOf(sp.Capture.TimePerFrame.Numerator, sp.Capture.TimePerFrame.Denominator)
	} else {
		log.Warn("v4l2src: cannot read frame rate", "err", err)
	}
	f := capture.Format{PixelFormat: pix, Width: int(got.Width), Height: int(got.Height), FPS: fps}
	if gotFourcc != want || f.Width != o.Width || f.Height != o.Height || (fps > 0 && fps != float64(o.FPS)) {
		log.Warn("v4l2src: driver chose another format",
			"asked", fmt.Sprintf("%s %dx%d@%dfps", want, o.Width, o.Height, o.FPS), "got", f.String())
	}
	log.Debug("v4l2src: negotiated", "offered", offered, "format", f.String(), "fourcc", gotFourcc)
	return f, nil
}

// loop passes frames on until ctx is done or the stream ends or stalls.
func (s *Source) loop(ctx context.Context, frames <-chan *device.Frame, errs <-chan error, push func([]byte, time.Time), log *slog.Logger) error {
	stall := time.NewTimer(s.opts.StallTimeout)
	defer stall.Stop()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// Dropped frames and buffers flagged bad are not fatal; the
			// fatal error, if any, comes right before frames closes.
			lastErr = err
			log.Debug("v4l2src: stream", "err", err)
		case fr, ok := <-frames:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				if errs != nil {
					for err := range errs { // closed before frames
						lastErr = err
					}
				}
				if lastErr == nil {
					lastErr = errors.New("capture stopped")
				}
				return fmt.Errorf("v4l2src: %s: stream: %w", s.device, lastErr)
			}
			push(fr.Data, frameTime(fr))
			fr.Release()
			stall.Reset(s.opts.StallTimeout)
		case <-stall.C:
			return fmt.Errorf("v4l2src: %s: stream: no frame for %s", s.device, s.opts.StallTimeout)
		}
	}
}

// frameTime is a frame's capture time on the wall clock. V4L2 stamps
// buffers with CLOCK_MONOTONIC (flag TIMESTAMP_MONOTONIC; UNKNOWN is
// checked for plausibility); a copied or missing timestamp gives now.
func frameTime(fr *device.Frame) time.Time {
	if fr.Flags&v4l2.BufFlagTimestampMask == v4l2.BufFlagTimestampCopy || fr.Timestamp.IsZero() {
		return time.Now()
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Now()
	}
	now := time.Now()
	// go4vl builds Timestamp with time.Unix(sec, usec*1000) from the
	// buffer's struct timeval, so UnixNano is the raw monotonic reading.
	return wallClock(time.Duration(fr.Timestamp.UnixNano()), time.Duration(ts.Nano()), now)
}

// drain releases the frames left in the channel and reports whether
// go4vl's capture goroutine has exited (it closes frames last).
func drain(frames <-chan *device.Frame) bool {
	timeout := time.NewTimer(drainTimeout)
	defer timeout.Stop()
	for {
		select {
		case fr, ok := <-frames:
			if !ok {
				return true
			}
			fr.Release()
		case <-timeout.C:
			return false
		}
	}
}

// release stops streaming, unmaps the buffers and closes the device. It
// bypasses Device.Stop and Device.Close, which skip the unmapping (and, on
// some error paths, the close) once go4vl's goroutine has marked the
// stream stopped. Call it only when that goroutine is not running.
func release(dev *device.Device, log *slog.Logger) {
	if dev.Buffers() != nil {
		if err := v4l2.StreamOff(dev); err != nil {
			log.Debug("v4l2src: stream off", "err", err)
		}
		if err := v4l2.UnmapMemoryBuffers(dev); err != nil {
			log.Debug("v4l2src: unmap buffers", "err", err)
		}
	}
	if err := v4l2.CloseDevice(dev.Fd()); err != nil {
		log.Debug("v4l2src: close", "err", err)
	}
}
