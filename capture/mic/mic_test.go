package mic_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/live"
	"github.com/doorbelld/doorbelld/capture/mic"
	"github.com/doorbelld/doorbelld/hal/audio"
)

// pacedMic is a microphone whose Read returns what the test sends.
type pacedMic struct {
	in     chan []int16
	closed chan struct{}
	once   sync.Once
}

func newPaced() *pacedMic { return &pacedMic{in: make(chan []int16), closed: make(chan struct{})} }

func (p *pacedMic) Format() audio.Format { return audio.Format{Rate: 16000, Channels: 1, Bits: 16} }

func (p *pacedMic) Read(b []int16) (int, error) {
	select {
	case s := <-p.in:
		return copy(b, s), nil
	case <-p.closed:
		return 0, audio.ErrClosed
	}
}

func (p *pacedMic) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// opener hands out paced mics, or fails while err is set.
type opener struct {
	mu    sync.Mutex
	err   error
	mics  []*pacedMic
	opens atomic.Int32
	ready chan *pacedMic
}

func newOpener() *opener { return &opener{ready: make(chan *pacedMic, 8)} }

func (o *opener) open() (audio.Microphone, error) {
	o.opens.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return nil, o.err
	}
	p := newPaced()
	o.mics = append(o.mics, p)
	o.ready <- p
	return p, nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func chunk(v int16) []int16 {
	s := make([]int16, 320) // 20 ms at 16 kHz
	for i := range s {
		s[i] = v
	}
	return s
}

type rig struct {
	m     *mic.Mic
	o     *opener
	clk   *clockwork.FakeClock
	ring  *capture.AudioRing
	t0    time.Time
	stop  func()
	errc  chan error
	muted atomic.Bool
}

func start(t *testing.T) *rig {
	t.Helper()
	r := &rig{o: newOpener(), clk: clockwork.NewFakeClockAt(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)),
		ring: capture.NewAudioRing(2 * time.Second), errc: make(chan error, 1)}
	r.t0 = r.clk.Now()
	r.m = mic.New(mic.Options{Open: r.o.open, Ring: r.ring, Clock: r.clk, Retry: time.Second,
		Mute: func(capture.AudioChunk) bool { return r.muted.Load() }})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.errc <- r.m.Run(ctx) }()
	r.stop = func() {
		cancel()
		if err := <-r.errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			r.stop()
		}
	})
	return r
}

// feed advances the clock by one chunk and has p deliver it, waiting until
// the Mic has taken it.
func (r *rig) feed(t *testing.T, p *pacedMic, v int16) {
	t.Helper()
	n := r.m.Status().Chunks
	r.clk.Advance(20 * time.Millisecond)
	p.in <- chunk(v)
	waitFor(t, "chunk taken", func() bool { return r.m.Status().Chunks > n })
}

func TestStampsCountSamplesFromTheFirstRead(t *testing.T) {
	r := start(t)
	p := <-r.o.ready
	for i := range 5 {
		r.feed(t, p, int16(i+1))
	}
	got := r.ring.Range(r.t0.Add(-time.Hour), r.t0.Add(time.Hour))
	if len(got) != 5 {
		t.Fatalf("ring holds %d chunks, want 5", len(got))
	}
	for i, c := range got {
		if want := r.t0.Add(time.Duration(i) * 20 * time.Millisecond); !c.At.Equal(want) {
			t.Errorf("chunk %d At %v, want %v", i, c.At.Sub(r.t0), want.Sub(r.t0))
		}
		if c.Samples[0] != int16(i+1) || c.Rate != 16000 || c.Channels != 1 {
			t.Errorf("chunk %d: sample %d rate %d ch %d", i, c.Samples[0], c.Rate, c.Channels)
		}
	}
	// A read that returns late but with its samples in time (the device
	// buffered them) keeps the counted stamp.
	r.clk.Advance(100 * time.Millisecond)
	r.feed(t, p, 6)
	got = r.ring.Range(r.t0.Add(-time.Hour), r.t0.Add(time.Hour))
	if last := got[len(got)-1]; !last.At.Equal(r.t0.Add(100 * time.Millisecond)) {
		t.Errorf("buffered chunk At %v, want 100ms", last.At.Sub(r.t0))
	}
	if s := r.m.Status(); s.Resyncs != 0 || !s.Open || s.Format != "16000 Hz 1ch S16_LE" {
		t.Errorf("status %+v", s)
	}
	// A whole second lost (an overrun): the stamp follows the clock again.
	r.clk.Advance(time.Second)
	r.feed(t, p, 7)
	got = r.ring.Range(r.t0.Add(-time.Hour), r.t0.Add(time.Hour))
	want := r.clk.Now().Add(-20 * time.Millisecond)
	if last := got[len(got)-1]; !last.At.Equal(want) {
		t.Errorf("after a lost second: At %v, want %v", last.At.Sub(r.t0), want.Sub(r.t0))
	}
	if s := r.m.Status(); s.Resyncs != 1 {
		t.Errorf("resyncs %d, want 1", s.Resyncs)
	}
}

// heldMic is a paced microphone that says how much it still holds.
type heldMic struct {
	*pacedMic
	held atomic.Int64 // frames; -1: Delay fails
}

func (h *heldMic) Delay() (int, error) {
	n := h.held.Load()
	if n < 0 {
		return 0, errors.New("delay: no such ioctl")
	}
	return int(n), nil
}

// A reader that comes late finds the device holding what it captured
// since the chunk: the chunk is stamped that much earlier, so the sound
// stays where it was heard. A device that cannot say (Delay fails) keeps
// the counted stamps.
func TestStampsAllowForWhatTheDeviceStillHolds(t *testing.T) {
	r := &rig{clk: clockwork.NewFakeClockAt(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)),
		ring: capture.NewAudioRing(2 * time.Second), errc: make(chan error, 1)}
	r.t0 = r.clk.Now()
	h := &heldMic{pacedMic: newPaced()}
	r.m = mic.New(mic.Options{Open: func() (audio.Microphone, error) { return h, nil }, Ring: r.ring, Clock: r.clk})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.errc <- r.m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-r.errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// The first chunk ends at t0+20ms; the reader comes at t0+70ms, when
	// the device holds 800 frames (50 ms at 16 kHz) more; it reads on at
	// once, the device holding 30 ms, then (Delay failing) 10 ms.
	r.clk.Advance(70 * time.Millisecond)
	for i, held := range []int64{800, 480, -1} {
		h.held.Store(held)
		r.feedOnly(t, h.pacedMic, int16(i+1))
	}
	got := r.ring.Range(r.t0.Add(-time.Hour), r.t0.Add(time.Hour))
	if len(got) != 3 {
		t.Fatalf("ring holds %d chunks, want 3", len(got))
	}
	for i, c := range got {
		if want := r.t0.Add(time.Duration(i) * 20 * time.Millisecond); !c.At.Equal(want) {
			t.Errorf("chunk %d At %v, want %v", i, c.At.Sub(r.t0), want.Sub(r.t0))
		}
	}
	if s := r.m.Status(); s.Resyncs != 0 {
		t.Errorf("resyncs %d, want 0", s.Resyncs)
	}
}

// feedOnly has p deliver a chunk at the clock's time, waiting until the Mic
// has taken it.
func (r *rig) feedOnly(t *testing.T, p *pacedMic, v int16) {
	t.Helper()
	n := r.m.Status().Chunks
	p.in <- chunk(v)
	waitFor(t, "chunk taken", func() bool { return r.m.Status().Chunks > n })
}

func TestFeedsGetChunksMutedOnRequest(t *testing.T) {
	r := start(t)
	p := <-r.o.ready
	f, err := r.m.Subscribe("rtsp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r.feed(t, p, 100)
	r.muted.Store(true)
	r.feed(t, p, 200)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c1, err := f.Next(ctx)
	if err != nil || c1.Samples[0] != 100 {
		t.Fatalf("first chunk %v %v", c1.Samples[:1], err)
	}
	c2, err := f.Next(ctx)
	if err != nil || c2.Samples[0] != 0 || c2.Samples[len(c2.Samples)-1] != 0 {
		t.Fatalf("muted chunk not silent: %v %v", c2.Samples[:1], err)
	}
	// The ring keeps what was heard: clips record both sides.
	got := r.ring.Range(r.t0.Add(-time.Hour), r.t0.Add(time.Hour))
	if got[1].Samples[0] != 200 {
		t.Errorf("ring chunk muted too: %d", got[1].Samples[0])
	}
	if s := r.m.Status(); s.Muted != 1 || s.Feeds != 1 {
		t.Errorf("status %+v", s)
	}
}

func TestSlowFeedLosesTheOldest(t *testing.T) {
	r := start(t)
	p := <-r.o.ready
	f, _ := r.m.Subscribe("rtsp")
	defer f.Close()
	for i := range 60 {
		r.feed(t, p, int16(i))
	}
	if f.Dropped() != 10 {
		t.Errorf("dropped %d, want 10", f.Dropped())
	}
	c, err := f.Next(context.Background())
	if err != nil || c.Samples[0] != 10 {
		t.Errorf("oldest kept chunk %d (%v), want 10", c.Samples[0], err)
	}
}

func TestPrivacyClosesTheMicrophone(t *testing.T) {
	r := start(t)
	p := <-r.o.ready
	f, _ := r.m.Subscribe("rtsp")
	r.feed(t, p, 1)
	r.m.SetPaused(true)
	select {
	case <-p.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("device not closed in privacy mode")
	}
	ctx := context.Background()
	for {
		_, err := f.Next(ctx)
		if errors.Is(err, live.ErrPrivate) {
			break
		}
		if err != nil {
			t.Fatalf("feed ended with %v, want ErrPrivate", err)
		}
	}
	if _, err := r.m.Subscribe("rtsp"); !errors.Is(err, live.ErrPrivate) {
		t.Errorf("subscribe in privacy mode: %v", err)
	}
	if st := r.ring.Stats(); st.Chunks != 0 {
		t.Errorf("ring keeps %d chunks heard before privacy mode", st.Chunks)
	}
	waitFor(t, "device released", func() bool { s := r.m.Status(); return !s.Open && s.Paused })
	if s := r.m.Status(); s.LastError != "" || s.Failures != 0 {
		t.Errorf("privacy counted as a failure: %+v", s)
	}
	if n := r.o.opens.Load(); n != 1 {
		t.Errorf("opened %d times while paused", n)
	}
	r.m.SetPaused(false)
	p2 := <-r.o.ready
	r.feed(t, p2, 9)
	if s := r.m.Status(); !s.Open || s.Paused {
		t.Errorf("after privacy off: %+v", s)
	}
}

func TestMissingMicrophoneIsRetried(t *testing.T) {
	r := &rig{o: newOpener(), clk: clockwork.NewFakeClock(), ring: capture.NewAudioRing(time.Second), errc: make(chan error, 1)}
	r.o.err = audio.ErrNoDevice
	r.m = mic.New(mic.Options{Open: r.o.open, Ring: r.ring, Clock: r.clk, Retry: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.errc <- r.m.Run(ctx) }()
	defer func() { cancel(); <-r.errc }()
	waitFor(t, "failure counted", func() bool { return r.m.Status().Failures == 1 })
	if s := r.m.Status(); s.Open || s.LastError == "" {
		t.Errorf("status %+v", s)
	}
	// A feed subscribed while the card is missing gets sound once it opens.
	f, err := r.m.Subscribe("rtsp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r.o.mu.Lock()
	r.o.err = nil
	r.o.mu.Unlock()
	if err := r.clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(time.Second)
	p := <-r.o.ready
	r.feed(t, p, 5)
	c, err := f.Next(ctx)
	if err != nil || c.Samples[0] != 5 {
		t.Fatalf("feed after reopen: %v %v", c.Samples[:1], err)
	}
	if s := r.m.Status(); !s.Open || s.LastError != "" {
		t.Errorf("status after reopen %+v", s)
	}
	// A read error (card pulled out) is a failure, retried.
	p.Close()
	waitFor(t, "read failure counted", func() bool { return r.m.Status().Failures == 2 })
}
