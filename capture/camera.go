package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/doorbelld/doorbelld/firmware/ratelog"

	"github.com/jonboulle/clockwork"
)

// ErrUnavailable is returned (wrapped) by Camera.Snapshot when there is no
// frame to answer with: no camera, a camera that has not delivered a frame
// yet, or none near the time asked for.
var ErrUnavailable = errors.New("camera unavailable")

// errStreamEnded is what Camera records when a Source returns nil before
// its context is done.
var errStreamEnded = errors.New("stream ended")

// Source is a camera device. Stream opens it, calls started with the
// format the driver really chose, then calls push for every frame, and
// returns nil when ctx is done or an error when the device fails. Stream
// calls started and push from one goroutine, one call at a time; push must
// not retain data after it returns.
type Source interface {
	Stream(ctx context.Context, started func(Format), push func(data []byte, at time.Time)) error
}

// Filter transforms every frame before it is stored, e.g. to burn privacy
// masks into it (capture/mask). Filter is called on the capture goroutine,
// one frame at a time, with the stream's format; it may change data in
// place and return it, or return another slice, which the Camera copies
// into the Ring before the next call. An error means the frame must not be
// stored: the Camera drops it. Filter must not block on anything but its
// own work.
type Filter interface {
	Filter(data []byte, f Format) ([]byte, error)
}

// Options configures a Camera. The zero value is usable: see the defaults
// on each field.
type Options struct {
	Clock      clockwork.Clock // default: the real clock
	Logger     *slog.Logger    // default: slog.Default()
	MinBackoff time.Duration   // first retry delay after a failure; default 1s
	MaxBackoff time.Duration   // retry delay cap; default 30s
	// JPEGQuality is used when a raw (YUYV) frame is encoded for a
	// snapshot: 1..100, default DefaultJPEGQuality.
	JPEGQuality int
	// MaxSkew is how far from the requested time a snapshot frame may be;
	// a farther frame is not an answer (ErrUnavailable). Default 2s.
	MaxSkew time.Duration
	// MaxWait bounds how long Snapshot waits for the next frame when no
	// frame as recent as the requested time is buffered yet; default two
	// frame intervals (or 250ms if the frame rate is unknown). Snapshot
	// also returns when its context is done.
	MaxWait time.Duration
	// Filter, if not nil, is applied to every frame before it enters the
	// Ring; a frame it fails on is dropped (Status.FilterDropped) and the
	// failure logged at most once per FilterLogEvery.
	Filter Filter
	// FilterLogEvery is the least time between two logs of filter
	// failures; default 10s.
	FilterLogEvery time.Duration
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.JPEGQuality <= 0 || o.JPEGQuality > 100 {
		o.JPEGQuality = DefaultJPEGQuality
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = 2 * time.Second
	}
	if o.FilterLogEvery <= 0 {
		o.FilterLogEvery = 10 * time.Second
	}
	return o
}

// Status is a Camera's state, for health reports and the web UI.
type Status struct {
	Available bool   // a stream is running (started was called, no error since)
	Format    Format // the format of the running or last stream
	// LastError is the error that ended the last stream; it is kept after
	// the camera recovers, for diagnostics. Empty if no stream failed.
	LastError string
	Frames    uint64 // frames received from the source since New
	Dropped   uint64 // frames the ring refused (empty or too large)
	// FilterDropped counts frames dropped because Options.Filter failed
	// on them (for privacy masks: a frame that could not be masked).
	FilterDropped uint64
	Since         time.Time // when Available last changed (or New, if never)
	// Paused: closed on purpose (SetPaused, privacy mode), not failed.
	Paused bool
}

// Camera runs a Source, keeps its frames in a Ring and answers snapshot
// requests. A missing or failing camera is a degraded mode, not an error:
// Run keeps retrying with exponential backoff, and Snapshot returns
// ErrUnavailable meanwhile.
type Camera struct {
	src  Source
	ring *Ring
	opts Options
	log  *slog.Logger
	clk  clockwork.Clock

	frames        atomic.Uint64
	filterDropped atomic.Uint64
	filterLog     *ratelog.Keys // one filter-failure line per FilterLogEvery
	// streamFormat is the current stream's format, for push. Only the
	// capture goroutine (Stream's callbacks, between Run's calls) uses it.
	streamFormat Format

	mu        sync.Mutex
	available bool
	format    Format
	lastErr   string
	since     time.Time
	waiters   []chan struct{} // closed at the next frame; see nextFrame
	nWaiters  atomic.Int32    // len(waiters), read without mu by push
	announced int             // state last logged: 0 none, 1 up, -1 down

	// stateWaiters are closed when a stream starts or stops; see Changed.
	stateWaiters []chan struct{}

	// paused is SetPaused's state; unpause is closed (and replaced) when
	// it changes; cancelStream ends the running stream.
	paused       bool
	opening      bool // unpaused, the stream not started yet: snapshots wait for it
	unpause      chan struct{}
	cancelStream context.CancelFunc
}

// New returns a Camera that captures from src into ring. It starts nothing:
// call Run.
func New(src Source, ring *Ring, opts Options) *Camera {
	opts = opts.withDefaults()
	return &Camera{
		src:       src,
		ring:      ring,
		opts:      opts,
		log:       opts.Logger,
		clk:       opts.Clock,
		since:     opts.Clock.Now(),
		unpause:   make(chan struct{}),
		filterLog: ratelog.New(opts.FilterLogEvery, 1),
	}
}

// Ring returns the ring the camera fills.
func (c *Camera) Ring() *Ring { return c.ring }

// Run streams from the source until ctx is done, restarting it after each
// failure with exponential backoff (MinBackoff doubling up to MaxBackoff;
// back to MinBackoff after a stream that delivered frames). It logs each
// change between available and unavailable once. Run returns nil when ctx
// is done: a camera failure is never Run's error.
func (c *Camera) Run(ctx context.Context) error {
	backoff := c.opts.MinBackoff
	for {
		if !c.waitUnpaused(ctx) {
			return nil
		}
		sctx, cancel := context.WithCancel(ctx)
		c.mu.Lock()
		c.cancelStream = cancel
		paused := c.paused
		c.mu.Unlock()
		if paused { // paused between the wait and here
			cancel()
		}
		before := c.frames.Load()
		err := c.src.Stream(sctx, c.started, c.push)
		cancel()
		hadFrames := c.frames.Load() > before
		if ctx.Err() != nil {
			c.stopped(nil)
			return nil
		}
		if c.Paused() {
			c.stopped(nil) // closed on purpose: no error, no backoff
			backoff = c.opts.MinBackoff
			continue
		}
		if err == nil {
			err = errStreamEnded
		}
		c.stopped(err)
		if hadFrames {
			backoff = c.opts.MinBackoff
		}
		c.log.Debug("camera: retrying", "in", backoff, "err", err)
		if !c.sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
}

// sleep waits for d on the camera's clock; false if ctx is done first.
func (c *Camera) sleep(ctx context.Context, d time.Duration) bool {
	t := c.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.Chan():
		return true
	}
}

// started is the Source's started callback.
func (c *Camera) started(f Format) {
	c.streamFormat = f
	c.mu.Lock()
	c.opening = false
	c.available = true
	c.format = f
	c.since = c.clk.Now()
	announce := c.announced != 1
	c.announced = 1
	c.wakeStateWaiters()
	c.mu.Unlock()
	if announce {
		c.log.Info("camera: available", "format", f.String())
	}
}

// SetPaused closes the camera while on: the source's stream ends (the
// device is closed, so a USB camera's LED goes off) and Run opens it
// again only when it is switched off. Privacy mode uses it. Status says
// Paused; a paused camera is no failure.
func (c *Camera) SetPaused(on bool) {
	c.mu.Lock()
	changed := c.paused != on
	c.paused = on
	c.opening = changed && !on
	cancel := c.cancelStream
	if changed {
		c.wakeStateWaiters()
		close(c.unpause)
		c.unpause = make(chan struct{})
	}
	c.mu.Unlock()
	if on && cancel != nil {
		cancel()
	}
	if changed {
		if on {
			c.log.Info("camera: closed (paused)")
		} else {
			c.log.Info("camera: opening again (unpaused)")
		}
	}
}

// Paused reports whether SetPaused(true) is in force.
func (c *Camera) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// waitUnpaused waits while the camera is paused; false when ctx is done.
func (c *Camera) waitUnpaused(ctx context.Context) bool {
	for {
		c.mu.Lock()
		paused, ch := c.paused, c.unpause
		c.mu.Unlock()
		if !paused {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// stopped records the end of a stream (err nil: shut down).
func (c *Camera) stopped(err error) {
	c.mu.Lock()
	if err != nil {
		c.opening = false // the reopening failed: snapshots stop waiting
	}
	if c.available {
		c.available = false
		c.since = c.clk.Now()
	}
	announce := false
	if err != nil {
		c.lastErr = err.Error()
		announce = c.announced != -1
		c.announced = -1
	}
	c.wakeStateWaiters()
	c.mu.Unlock()
	if announce {
		c.log.Warn("camera: unavailable, will retry", "err", err)
	}
}

// push is the Source's push callback: filter the frame (if a Filter is
// set; a frame it refuses is dropped, not stored), store it and wake
// snapshot waiters. It does not allocate (beyond what the Filter does), and
// takes the camera's lock only when
// someone waits for a frame.
func (c *Camera) push(data []byte, at time.Time) {
	c.frames.Add(1)
	if c.opts.Filter != nil {
		out, err := c.opts.Filter.Filter(data, c.streamFormat)
		if err != nil {
			c.filterFailed(err)
			return
		}
		data = out
	}
	c.ring.Push(data, at, c.streamFormat)
	if c.nWaiters.Load() > 0 {
		c.mu.Lock()
		for i, w := range c.waiters {
			close(w)
			c.waiters[i] = nil
		}
		c.waiters = c.waiters[:0]
		c.nWaiters.Store(0)
		c.mu.Unlock()
	}
}

// filterFailed counts a frame the filter refused and logs it, at most
// once per FilterLogEvery, with the number of failures not logged.
func (c *Camera) filterFailed(err error) {
	c.filterDropped.Add(1)
	if v := c.filterLog.Allow(c.clk.Now(), "filter"); v.OK {
		c.log.Warn("camera: frame dropped by filter", "err", err, "format", c.streamFormat.String(), "unlogged", v.Suppressed)
	}
}

// nextFrame returns a channel closed when the next frame has been stored.
func (c *Camera) nextFrame() <-chan struct{} {
	ch := make(chan struct{})
	c.mu.Lock()
	c.waiters = append(c.waiters, ch)
	c.nWaiters.Store(int32(len(c.waiters)))
	c.mu.Unlock()
	return ch
}

// Next returns a channel that is closed when the next frame has been
// stored in the ring. Each call registers one waiter; it is released when
// that frame comes, so a caller that stops waiting should keep the channel
// and reuse it rather than call Next again. Waiting costs the capture
// goroutine one short lock per frame, never a wait for the reader.
func (c *Camera) Next() <-chan struct{} { return c.nextFrame() }

// Changed returns a channel that is closed the next time a stream starts
// or stops (Status().Available or Format may then differ). As with Next,
// each call registers one waiter, released at that change.
func (c *Camera) Changed() <-chan struct{} {
	ch := make(chan struct{})
	c.mu.Lock()
	c.stateWaiters = append(c.stateWaiters, ch)
	c.mu.Unlock()
	return ch
}

// wakeStateWaiters closes the channels Changed returned; the caller holds
// c.mu.
func (c *Camera) wakeStateWaiters() {
	for i, w := range c.stateWaiters {
		close(w)
		c.stateWaiters[i] = nil
	}
	c.stateWaiters = c.stateWaiters[:0]
}

// Status returns the camera's current state.
func (c *Camera) Status() Status {
	st := c.ring.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{
		Available:     c.available,
		Format:        c.format,
		LastError:     c.lastErr,
		Frames:        c.frames.Load(),
		Dropped:       st.Dropped,
		FilterDropped: c.filterDropped.Load(),
		Since:         c.since,
		Paused:        c.paused,
	}
}

// Snapshot is one still image.
type Snapshot struct {
	JPEG   []byte    // a complete JPEG file; owned by the caller
	At     time.Time // when the frame was captured
	Format Format    // the format the frame was captured in
}

// Snapshot returns the buffered frame nearest to at, as a JPEG. If no
// frame as recent as at is buffered yet and the camera is streaming, it
// first waits for the next one (at most MaxWait, and not after ctx is
// done), so the answer is within about one frame of at. MJPEG frames are
// returned as captured (with the standard Huffman tables inserted if the
// camera left them out); YUYV frames are encoded to JPEG.
//
// It returns an error wrapping ErrUnavailable if there is no frame within
// MaxSkew of at, and ctx.Err() (wrapped) if ctx is done first.
func (c *Camera) Snapshot(ctx context.Context, at time.Time) (Snapshot, error) {
	if err := c.waitFor(ctx, at); err != nil {
		return Snapshot{}, fmt.Errorf("capture: snapshot at %s: %w", at.Format(time.RFC3339Nano), err)
	}
	fr, ok := c.ring.Nearest(at)
	if !ok {
		return Snapshot{}, fmt.Errorf("capture: snapshot at %s: no frame: %w", at.Format(time.RFC3339Nano), ErrUnavailable)
	}
	if skew := absDur(fr.At.Sub(at)); skew > c.opts.MaxSkew {
		return Snapshot{}, fmt.Errorf("capture: snapshot at %s: nearest frame is %s away (max %s): %w",
			at.Format(time.RFC3339Nano), skew.Round(time.Millisecond), c.opts.MaxSkew, ErrUnavailable)
	}
	img, err := EncodeJPEG(fr, c.opts.JPEGQuality)
	if err != nil {
		return Snapshot{}, fmt.Errorf("capture: snapshot at %s: %w", at.Format(time.RFC3339Nano), err)
	}
	return Snapshot{JPEG: img, At: fr.At, Format: fr.Format}, nil
}

// waitFor waits until the ring holds a frame taken at or after at, the
// camera stops streaming, MaxWait has passed, or ctx is done (the only
// error). A camera reopening after a pause is waited for until ctx is
// done.
func (c *Camera) waitFor(ctx context.Context, at time.Time) error {
	var deadline clockwork.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for {
		// Register before looking, so a frame pushed in between is not
		// missed.
		next := c.nextFrame()
		_, newest, n := c.ring.Span()
		c.mu.Lock()
		streaming, opening, f := c.available, c.opening, c.format
		c.mu.Unlock()
		if (n > 0 && !newest.Before(at)) || (!streaming && !opening) {
			c.dropWaiter(next)
			return nil
		}
		var changed <-chan struct{}
		var expired <-chan time.Time
		if !streaming {
			// Reopening after a pause (privacy mode just switched off): a
			// ring now should still get its picture, so wait for the
			// stream as long as ctx allows, not MaxWait.
			changed = c.Changed()
		} else if deadline == nil {
			wait := c.opts.MaxWait
			if wait <= 0 {
				wait = 2 * f.Interval()
				if wait <= 0 {
					wait = 250 * time.Millisecond
				}
			}
			deadline = c.clk.NewTimer(wait)
		}
		if deadline != nil {
			expired = deadline.Chan()
		}
		select {
		case <-next:
		case <-changed:
		case <-expired:
			c.dropWaiter(next)
			return nil
		case <-ctx.Done():
			c.dropWaiter(next)
			return ctx.Err()
		}
	}
}

// dropWaiter removes a waiter channel that is no longer wanted.
func (c *Camera) dropWaiter(ch <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range c.waiters {
		if w == ch {
			last := len(c.waiters) - 1
			c.waiters[i] = c.waiters[last]
			c.waiters[last] = nil
			c.waiters = c.waiters[:last]
			c.nWaiters.Store(int32(len(c.waiters)))
			return
		}
	}
}
