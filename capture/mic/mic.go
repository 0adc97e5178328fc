package mic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/live"
	"github.com/doorbelld/doorbelld/hal/audio"
)

// Defaults of Options.
const (
	DefaultChunk = 20 * time.Millisecond
	DefaultRetry = 5 * time.Second
	// DefaultResync is how far the sample-counted clock may drift from
	// the wall clock before it is set again.
	DefaultResync = 60 * time.Millisecond
	// DefaultLatency is how much sound the device may hold before a Read
	// returns it (the ALSA capture buffer: 25 periods of 20 ms).
	DefaultLatency = 500 * time.Millisecond
	// feedQueue is how many chunks a feed holds (1 s of 20 ms chunks); a
	// slower reader loses the oldest.
	feedQueue = 50
)

// ErrNoMicrophone: the microphone is not open now (missing card, failed
// read); a feed subscribed meanwhile gets sound once it opens.
var ErrNoMicrophone = errors.New("mic: microphone not available")

// Options configure a Mic.
type Options struct {
	// Open opens the microphone; Run calls it at start, after a failure
	// (every Retry) and when privacy mode ends. Required.
	Open func() (audio.Microphone, error)
	// Ring, when set, keeps the recent sound for clips.
	Ring *capture.AudioRing
	// Mute, when set, is asked for each chunk before it goes to live
	// feeds (not to Ring): true replaces it with silence. The daemon
	// mutes the owner's own voice coming back while they talk (echo).
	Mute func(c capture.AudioChunk) bool
	// Chunk is the length of one read, default 20 ms.
	Chunk time.Duration
	// Retry is the wait before reopening a failed microphone, default 5 s.
	Retry time.Duration
	// Resync bounds the stamp's drift from the wall clock (default 60 ms);
	// Latency is the device's buffer (default 500 ms).
	Resync, Latency time.Duration
	Clock           clockwork.Clock
	Logger          *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.Chunk <= 0 {
		o.Chunk = DefaultChunk
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.Resync <= 0 {
		o.Resync = DefaultResync
	}
	if o.Latency <= 0 {
		o.Latency = DefaultLatency
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Status is the microphone's state for health and metrics.
type Status struct {
	Open      bool   // the device is open and read
	Paused    bool   // closed on purpose: privacy mode
	LastError string // why it is not open ("" when it is, or paused)
	Format    string // what the device gives, e.g. "16000 Hz 1ch S16_LE"
	Chunks    uint64 // chunks read and delivered (ring and feeds)
	Resyncs   uint64 // times the stamp was set again from the wall clock (a lost buffer, a drifting card)
	Failures  uint64 // failed opens and reads
	Feeds     int    // live feeds now
	Muted     uint64 // chunks muted for live feeds (Options.Mute)
}

// Mic reads the microphone into the ring and the live feeds.
type Mic struct {
	opts Options

	mu      sync.Mutex
	st      Status
	dev     audio.Microphone // open device, nil when none
	paused  bool
	unpause chan struct{}
	feeds   map[*Feed]struct{}
	logged  string // the last failure logged (a repeated one is not)
}

// New returns a Mic; it opens nothing until Run.
func New(opts Options) *Mic {
	opts.ensureDefaults()
	return &Mic{opts: opts, unpause: make(chan struct{}), feeds: map[*Feed]struct{}{}}
}

// Status returns the state now.
func (m *Mic) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st
	st.Feeds = len(m.feeds)
	st.Paused = m.paused
	return st
}

// SetPaused closes the microphone while on (privacy mode: nothing is
// heard, not even into the ring, and the ring is emptied) and ends every
// feed with live.ErrPrivate; off, Run opens it again.
func (m *Mic) SetPaused(on bool) {
	m.mu.Lock()
	if m.paused == on {
		m.mu.Unlock()
		return
	}
	m.paused = on
	dev := m.dev
	var feeds []*Feed
	if on {
		for f := range m.feeds {
			feeds = append(feeds, f)
		}
		clear(m.feeds)
	} else {
		close(m.unpause)
		m.unpause = make(chan struct{})
	}
	m.mu.Unlock()
	for _, f := range feeds {
		f.end(live.ErrPrivate)
	}
	if on {
		// No chunk reaches the ring once paused is set (deliver checks it
		// under mu): empty it, then close the device, so whoever sees
		// the device closed sees the ring empty.
		if m.opts.Ring != nil {
			m.opts.Ring.Reset()
		}
		if dev != nil {
			_ = dev.Close() // unblocks Run's Read
		}
		m.opts.Logger.Info("mic: closed (privacy mode)")
	} else {
		m.opts.Logger.Info("mic: opening again (privacy mode off)")
	}
}

// Run reads the microphone until ctx is done. A missing or failing device
// is retried every Retry; it never returns an error but for a missing
// Open.
func (m *Mic) Run(ctx context.Context) error {
	if m.opts.Open == nil {
		return errors.New("mic: no Open function")
	}
	defer func() {
		m.mu.Lock()
		var feeds []*Feed
		for f := range m.feeds {
			feeds = append(feeds, f)
		}
		clear(m.feeds)
		m.mu.Unlock()
		for _, f := range feeds {
			f.end(live.ErrClosed)
		}
	}()
	for ctx.Err() == nil {
		m.mu.Lock()
		paused, unpause := m.paused, m.unpause
		m.mu.Unlock()
		if paused {
			select {
			case <-unpause:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		err := m.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if m.Status().Paused {
			continue
		}
		m.failed(err)
		select {
		case <-m.opts.Clock.After(m.opts.Retry):
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// failed records and logs (once per distinct error) a failure.
func (m *Mic) failed(err error) {
	m.mu.Lock()
	m.st.Open = false
	m.st.Failures++
	m.st.LastError = err.Error()
	repeat := m.logged == err.Error()
	m.logged = err.Error()
	m.mu.Unlock()
	if !repeat {
		m.opts.Logger.Warn("mic: microphone unavailable; clips and live view have no sound", "err", err, "retry", m.opts.Retry)
	}
}

// session opens the device and reads it until it fails, is paused or ctx
// ends.
func (m *Mic) session(ctx context.Context) error {
	dev, err := m.opts.Open()
	if err != nil {
		return err
	}
	f := dev.Format()
	if f.Rate <= 0 || f.Channels <= 0 {
		dev.Close()
		return fmt.Errorf("mic: device format %s unusable", f)
	}
	m.mu.Lock()
	if m.paused {
		m.mu.Unlock()
		dev.Close()
		return nil
	}
	m.dev = dev
	m.st.Open, m.st.LastError, m.st.Format = true, "", f.String()
	m.logged = ""
	m.mu.Unlock()
	m.opts.Logger.Info("mic: open", "format", f.String())
	stop := context.AfterFunc(ctx, func() { dev.Close() })
	defer func() {
		stop()
		dev.Close()
		m.mu.Lock()
		m.dev = nil
		m.st.Open = false
		m.mu.Unlock()
	}()

	frames := max(int(int64(f.Rate)*int64(m.opts.Chunk)/int64(time.Second)), 1)
	var (
		next    time.Time // the stamp the next chunk gets by counting samples
		counted int64     // frames since next was last set from the clock
		base    time.Time
	)
	for {
		buf := make([]int16, frames*f.Channels)
		n, err := dev.Read(buf)
		now := m.opts.Clock.Now()
		if ctx.Err() != nil || m.Status().Paused {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mic: read: %w", err)
		}
		if n < len(buf) {
			buf = buf[:n/f.Channels*f.Channels]
		}
		c := capture.AudioChunk{Rate: f.Rate, Channels: f.Channels, Samples: buf}
		// The chunk ended about now; its first sample came Duration
		// before. Counting samples is smoother than the clock, but a lost
		// buffer or a card whose crystal drifts moves the count away from
		// the wall clock: then it is set again.
		latest := now.Add(-c.Duration())
		if base.IsZero() {
			base, counted = m.fromClock(dev, f, c, latest), 0
		}
		next = base.Add(time.Duration(counted * int64(time.Second) / int64(f.Rate)))
		if next.After(latest.Add(m.opts.Resync)) || next.Before(latest.Add(-m.opts.Latency-m.opts.Resync)) {
			if counted > 0 {
				m.mu.Lock()
				m.st.Resyncs++
				m.mu.Unlock()
				m.opts.Logger.Debug("mic: stamp set again from the clock", "drift", next.Sub(latest))
			}
			base, counted = m.fromClock(dev, f, c, latest), 0
			next = base
		}
		c.At = next
		counted += int64(c.Frames())
		m.deliver(c)
	}
}

// fromClock is the stamp of chunk c, just read, set from the clock: latest
// (the read's end less c's length), or, when the device says how much it
// has captured since c and still holds (a reader that came late), the
// clock now less that and c's length. Only a stamp set from the clock asks
// (the first, a resync): the drift test uses the clock alone, as a
// loopback or USB card that hands over a burst is not a lost buffer.
func (m *Mic) fromClock(dev audio.Microphone, f audio.Format, c capture.AudioChunk, latest time.Time) time.Time {
	dl, ok := dev.(audio.Delayer)
	if !ok {
		return latest
	}
	d, err := dl.Delay()
	if err != nil || d < 0 {
		return latest
	}
	held := time.Duration(int64(d) * int64(time.Second) / int64(f.Rate))
	return m.opts.Clock.Now().Add(-held - c.Duration())
}

// deliver puts c into the ring and every feed.
func (m *Mic) deliver(c capture.AudioChunk) {
	m.mu.Lock()
	if m.paused {
		// Read before privacy mode came on: it goes nowhere (SetPaused
		// empties the ring once no chunk can reach it any more).
		m.mu.Unlock()
		return
	}
	if m.opts.Ring != nil {
		m.opts.Ring.Push(c)
	}
	feeds := make([]*Feed, 0, len(m.feeds))
	for f := range m.feeds {
		feeds = append(feeds, f)
	}
	m.mu.Unlock()
	muted := false
	if len(feeds) > 0 && m.opts.Mute != nil && m.opts.Mute(c) {
		c.Samples = make([]int16, len(c.Samples))
		muted = true
	}
	for _, f := range feeds {
		f.put(c)
	}
	// Counted once the chunk is everywhere it goes: a reader of Status
	// that sees it counted sees it delivered.
	m.mu.Lock()
	m.st.Chunks++
	if muted {
		m.st.Muted++
	}
	m.mu.Unlock()
}

// Subscribe opens a live feed of the microphone's chunks (kind: "rtsp").
// It fails with live.ErrPrivate in privacy mode; a feed opened while the
// device is missing gets sound once it opens.
func (m *Mic) Subscribe(kind string) (*Feed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paused {
		return nil, live.ErrPrivate
	}
	f := &Feed{m: m, kind: kind, notify: make(chan struct{}, 1)}
	m.feeds[f] = struct{}{}
	return f, nil
}

// Feed is one live listener's stream of chunks. Its queue is bounded: a
// slow listener loses the oldest chunks (Dropped), never delaying the
// microphone.
type Feed struct {
	m      *Mic
	kind   string
	notify chan struct{}

	mu      sync.Mutex
	q       []capture.AudioChunk
	err     error
	dropped uint64
}

// Kind is what the feed was subscribed as.
func (f *Feed) Kind() string { return f.kind }

// Dropped counts chunks lost because the listener was slow.
func (f *Feed) Dropped() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

func (f *Feed) put(c capture.AudioChunk) {
	f.mu.Lock()
	if f.err == nil {
		if len(f.q) >= feedQueue {
			f.q = f.q[1:]
			f.dropped++
		}
		f.q = append(f.q, c)
	}
	f.mu.Unlock()
	f.wake()
}

func (f *Feed) wake() {
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

func (f *Feed) end(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
		f.q = nil
	}
	f.mu.Unlock()
	f.wake()
}

// Next returns the next chunk, waiting until ctx is done. Chunks are
// shared and must not be modified. The feed ends with live.ErrPrivate
// (privacy mode switched on) or live.ErrClosed (Close, or the Mic
// stopped).
func (f *Feed) Next(ctx context.Context) (capture.AudioChunk, error) {
	for {
		f.mu.Lock()
		if f.err != nil {
			err := f.err
			f.mu.Unlock()
			return capture.AudioChunk{}, err
		}
		if len(f.q) > 0 {
			c := f.q[0]
			f.q[0] = capture.AudioChunk{}
			f.q = f.q[1:]
			f.mu.Unlock()
			return c, nil
		}
		f.mu.Unlock()
		select {
		case <-f.notify:
		case <-ctx.Done():
			return capture.AudioChunk{}, ctx.Err()
		}
	}
}

// Close ends the feed.
func (f *Feed) Close() {
	f.m.mu.Lock()
	delete(f.m.feeds, f)
	f.m.mu.Unlock()
	f.end(live.ErrClosed)
}
