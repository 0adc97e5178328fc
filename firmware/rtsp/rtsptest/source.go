package rtsptest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture/live"
	"github.com/doorbelld/doorbelld/firmware/rtsp"
)

// Source is a fake live source. Frames go out when Publish is called or,
// with Run, fps times a second; each is the next of a loop of templates.
type Source struct {
	clock clockwork.Clock

	mu         sync.Mutex
	info       live.Info
	templates  []live.Frame
	private    bool
	noCamera   bool
	epoch      int
	seq        uint64
	next       int           // next template
	hist       []*live.Frame // frames since the newest key frame
	changed    chan struct{} // closed and replaced on every change
	viewers    int
	subscribes int
	published  map[uint64]time.Time
}

var _ rtsp.Source = (*Source)(nil)

// New returns a source announcing info and looping over frames (Data,
// Codec, Width, Height and Key are used; At and Seq are set when a frame
// goes out). clk nil means the real clock.
func New(info live.Info, frames []live.Frame, clk clockwork.Clock) *Source {
	if clk == nil {
		clk = clockwork.NewRealClock()
	}
	return &Source{clock: clk, info: info, templates: frames, changed: make(chan struct{}), published: map[uint64]time.Time{}}
}

func (s *Source) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Info implements rtsp.Source.
func (s *Source) Info() (live.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.private:
		return live.Info{}, live.ErrPrivate
	case s.noCamera:
		return live.Info{}, live.ErrNoCamera
	}
	return s.info, nil
}

// Subscribe implements rtsp.Source.
func (s *Source) Subscribe(kind string) (rtsp.Viewer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case kind != "rtsp":
		return nil, fmt.Errorf("rtsptest: subscribe: kind %q, want \"rtsp\"", kind)
	case s.private:
		return nil, live.ErrPrivate
	case s.noCamera:
		return nil, live.ErrNoCamera
	}
	s.viewers++
	s.subscribes++
	s.signal()
	return &viewer{s: s, epoch: s.epoch}, nil
}

// Publish sends the next frame now and returns it.
func (s *Source) Publish() *live.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.templates[s.next%len(s.templates)]
	s.next++
	s.seq++
	f := t
	f.At, f.Seq = s.clock.Now(), s.seq
	if f.Key {
		s.hist = s.hist[:0]
	}
	s.hist = append(s.hist, &f)
	s.published[f.Seq] = f.At
	s.signal()
	return &f
}

// PublishedAt returns when the frame with sequence number seq went out.
func (s *Source) PublishedAt(seq uint64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.published[seq]
	return at, ok
}

// Run publishes fps frames a second until ctx ends.
func (s *Source) Run(ctx context.Context, fps int) error {
	t := s.clock.NewTicker(time.Second / time.Duration(fps))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			s.Publish()
		}
	}
}

// SetPrivate switches privacy mode: viewers end with live.ErrPrivate,
// Info and Subscribe refuse.
func (s *Source) SetPrivate(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.private = on
	s.signal()
}

// SetNoCamera makes Info and Subscribe answer live.ErrNoCamera.
func (s *Source) SetNoCamera(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noCamera = on
	s.signal()
}

// SetFormat switches to another format: viewers end with
// live.ErrFormatChanged.
func (s *Source) SetFormat(info live.Info, frames []live.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info, s.templates, s.next = info, frames, 0
	s.hist = nil
	s.epoch++
	s.signal()
}

// Viewers is the number of open viewers; Subscribes how many were
// opened in all.
func (s *Source) Viewers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewers
}

// Subscribes is how many viewers were opened in all.
func (s *Source) Subscribes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subscribes
}

// WaitViewers blocks until Viewers() == n or ctx ends.
func (s *Source) WaitViewers(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := s.viewers, s.changed
		s.mu.Unlock()
		if got == n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rtsptest: %d viewers, want %d: %w", got, n, ctx.Err())
		case <-ch:
		}
	}
}

type viewer struct {
	s       *Source
	epoch   int
	next    uint64 // sequence number wanted next; 0: not started
	closed  bool
	closeMu sync.Once
}

// Next implements rtsp.Viewer.
func (v *viewer) Next(ctx context.Context) (*live.Frame, error) {
	s := v.s
	for {
		s.mu.Lock()
		switch {
		case v.closed:
			s.mu.Unlock()
			return nil, live.ErrClosed
		case s.private:
			s.mu.Unlock()
			return nil, live.ErrPrivate
		case v.epoch != s.epoch:
			s.mu.Unlock()
			return nil, live.ErrFormatChanged
		}
		if len(s.hist) > 0 {
			first, last := s.hist[0], s.hist[len(s.hist)-1]
			if v.next == 0 || v.next < first.Seq {
				// Start, or fell behind: from the newest key frame.
				v.next = first.Seq
			}
			if v.next <= last.Seq {
				f := s.hist[v.next-first.Seq]
				v.next++
				s.mu.Unlock()
				return f, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// Close implements rtsp.Viewer.
func (v *viewer) Close() {
	v.closeMu.Do(func() {
		v.s.mu.Lock()
		v.closed = true
		v.s.viewers--
		v.s.signal()
		v.s.mu.Unlock()
	})
}
