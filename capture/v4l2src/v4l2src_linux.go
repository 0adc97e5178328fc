//go:build linux && cgo

package v4l2src

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vladimirvivien/go4vl/device"
	"github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"

	"github.com/doorbelld/doorbelld/capture"
)

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
		release(d, nil, log)
		if !errors.Is(err, unix.EBUSY) || attempt >= 4 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}

	// go4vl's own stream loop copies every frame into a pooled buffer and
	// hands it over a channel from a goroutine that wakes every 100ms; at
	// 600 KB per YUYV frame that copy is most of the cost. This loop does
	// the mmap streaming itself with go4vl's ioctl wrappers, so each frame
	// is copied once, straight from the driver's buffer into the ring.
	st, err := startStream(dev)
	if err != nil {
		release(dev, st, log) // unmaps what was mapped before the failure
		return fmt.Errorf("v4l2src: %s: start streaming %s: %w", s.device, f, err)
	}
	defer release(dev, st, log)

	started(f)
	return s.loop(ctx, st, push, log)
}

// stream is a device's mapped capture buffers while streaming.
type stream struct {
	dev  *device.Device
	fd   uintptr
	bufs [][]byte
	on   bool // STREAMON succeeded
}

// startStream requests and maps the driver's buffers, queues them all and
// turns streaming on.
func startStream(dev *device.Device) (*stream, error) {
	req, err := v4l2.InitBuffers(dev)
	if err != nil {
		return nil, err
	}
	if req.Count == 0 {
		return nil, errors.New("driver granted no buffers")
	}
	st := &stream{dev: dev, fd: dev.Fd()}
	for i := uint32(0); i < req.Count; i++ {
		b, err := v4l2.GetBuffer(dev, i)
		if err != nil {
			return st, err
		}
		m, err := unix.Mmap(int(st.fd), int64(b.Info.Offset), int(b.Length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return st, fmt.Errorf("map buffer %d: %w", i, err)
		}
		st.bufs = append(st.bufs, m)
	}
	for i := range st.bufs {
		if _, err := v4l2.QueueBuffer(st.fd, v4l2.IOTypeMMAP, v4l2.BufTypeVideoCapture, uint32(i)); err != nil {
			return st, err
		}
	}
	if err := v4l2.StreamOn(dev); err != nil {
		return st, err
	}
	st.on = true
	return st, nil
}

// loop passes frames on until ctx is done (nil) or the device fails or
// stalls (an error). It waits in a blocking VIDIOC_DQBUF, as motion and
// most V4L2 programs do: two ioctls per frame and nothing else. Cancel and
// stall both end the wait with VIDIOC_STREAMOFF from another goroutine,
// which wakes the dequeue with an error.
//
// poll(2) and Go's network poller were measured instead and dropped (more
// CPU; missed wake-ups on reopened streams): see DESIGN.md.
func (s *Source) loop(ctx context.Context, st *stream, push func([]byte, time.Time), log *slog.Logger) error {
	if err := unix.SetNonblock(int(st.fd), false); err != nil {
		return fmt.Errorf("v4l2src: %s: blocking mode: %w", s.device, err)
	}
	stall := s.opts.StallTimeout
	var (
		last    atomic.Int64 // unix nanoseconds of the last good frame
		stalled atomic.Bool
		wake    sync.Once
		clock   frameClock
		bad     int // buffers flagged bad since the last good frame
		seq     seqGaps
	)
	stop := func() {
		wake.Do(func() {
			if err := v4l2.StreamOff(st.dev); err != nil {
				log.Debug("v4l2src: stream off to end the wait", "err", err)
			}
		})
	}
	last.Store(time.Now().UnixNano())
	// The watcher must be gone before release closes the descriptor.
	watchCtx, endWatch := context.WithCancel(ctx)
	watcherDone := make(chan struct{})
	defer func() { endWatch(); <-watcherDone }()
	go func() {
		defer close(watcherDone)
		t := time.NewTicker(max(stall/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-watchCtx.Done():
				if ctx.Err() != nil {
					stop()
				}
				return
			case now := <-t.C:
				if now.Sub(time.Unix(0, last.Load())) > stall {
					stalled.Store(true)
					stop()
					return
				}
			}
		}
	}()

	for {
		b, err := v4l2.DequeueBuffer(st.fd, v4l2.IOTypeMMAP, v4l2.BufTypeVideoCapture)
		switch {
		case ctx.Err() != nil:
			return nil
		case stalled.Load():
			return fmt.Errorf("v4l2src: %s: stream: no frame for %s (%d bad buffers)", s.device, stall, bad)
		case errors.Is(err, unix.EAGAIN):
			continue // someone made the device non-blocking again
		case err != nil:
			return fmt.Errorf("v4l2src: %s: stream: dequeue: %w", s.device, err)
		case int(b.Index) >= len(st.bufs):
			return fmt.Errorf("v4l2src: %s: stream: driver returned buffer %d of %d", s.device, b.Index, len(st.bufs))
		}
		used := int(b.BytesUsed)
		s.skipped.Add(seq.next(b.Sequence))
		if b.Flags&v4l2.BufFlagError == 0 && used > 0 && used <= len(st.bufs[b.Index]) {
			now := time.Now()
			push(st.bufs[b.Index][:used], clock.wall(b.Flags, b.Timestamp, now))
			last.Store(now.UnixNano())
			s.frames.Add(1)
			bad = 0
		} else {
			// A dropped or corrupt frame is not fatal; a camera that
			// sends nothing else stalls and is reopened.
			bad++
			s.bad.Add(1)
			log.Debug("v4l2src: bad buffer", "index", b.Index, "flags", fmt.Sprintf("%#x", b.Flags), "bytes", used)
		}
		if _, err := v4l2.QueueBuffer(st.fd, v4l2.IOTypeMMAP, v4l2.BufTypeVideoCapture, b.Index); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("v4l2src: %s: stream: queue buffer %d: %w", s.device, b.Index, err)
		}
	}
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
	want, fellBack, err := choosePixelFormat(offered, o.Format, o.NoH264)
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

// frameClock turns V4L2 buffer timestamps into wall-clock times. V4L2
// stamps buffers with CLOCK_MONOTONIC (flag TIMESTAMP_MONOTONIC; UNKNOWN
// is checked for plausibility); a copied or missing timestamp gives now.
// CLOCK_MONOTONIC is read once (a real syscall in x/sys/unix); after that
// it follows from time.Now's monotonic reading, which is the same clock.
type frameClock struct {
	mono time.Duration // a CLOCK_MONOTONIC reading, 0 before the first frame
	at   time.Time     // time.Now() at that reading
	// readMono reads CLOCK_MONOTONIC; nil reads the real one.
	readMono func() (time.Duration, error)
}

// wall maps a buffer's flags and timestamp to wall-clock time; now is
// time.Now() (taken by the caller, who needs it too).
func (c *frameClock) wall(flags uint32, tv unix.Timeval, now time.Time) time.Time {
	if flags&v4l2.BufFlagTimestampMask == v4l2.BufFlagTimestampCopy {
		return now
	}
	if c.mono == 0 {
		read := c.readMono
		if read == nil {
			read = readMonotonic
		}
		mono, err := read()
		if err != nil {
			return now
		}
		c.mono, c.at = mono, now
	}
	return wallClock(time.Duration(tv.Nano()), c.mono+now.Sub(c.at), now)
}

// readMonotonic reads CLOCK_MONOTONIC.
func readMonotonic() (time.Duration, error) {
	var ts unix.Timespec
	err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano()), err
}

// release stops streaming, unmaps and frees the buffers and closes the
// device. st may be nil (nothing mapped yet). go4vl's Device.Stop and
// Close are not used: its stream goroutine never ran.
func release(dev *device.Device, st *stream, log *slog.Logger) {
	if st != nil {
		if st.on {
			if err := v4l2.StreamOff(dev); err != nil {
				log.Debug("v4l2src: stream off", "err", err)
			}
		}
		for _, b := range st.bufs {
			if err := unix.Munmap(b); err != nil {
				log.Debug("v4l2src: unmap buffer", "err", err)
			}
		}
		st.bufs = nil
	}
	if _, err := v4l2.ResetBuffers(dev); err != nil {
		log.Debug("v4l2src: free buffers", "err", err)
	}
	if err := v4l2.CloseDevice(dev.Fd()); err != nil {
		log.Debug("v4l2src: close", "err", err)
	}
}
