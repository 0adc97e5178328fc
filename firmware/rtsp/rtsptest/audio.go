package rtsptest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/live"
	"github.com/doorbelld/doorbelld/firmware/rtsp"
)

// Mic is a fake microphone (rtsp.AudioSource): Push hands a chunk to
// every open feed (each buffers up to 1024, dropping the oldest beyond),
// SetPrivate ends the feeds with live.ErrPrivate, Fail makes
// SubscribeAudio fail and ends the feeds with that error.
type Mic struct {
	mu      sync.Mutex
	feeds   map[*micFeed]struct{}
	private bool
	fail    error
	opened  int
	changed chan struct{}
}

var _ rtsp.AudioSource = (*Mic)(nil)

// NewMic returns a microphone with no feed.
func NewMic() *Mic {
	return &Mic{feeds: map[*micFeed]struct{}{}, changed: make(chan struct{})}
}

func (m *Mic) signal() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// SubscribeAudio implements rtsp.AudioSource.
func (m *Mic) SubscribeAudio(kind string) (rtsp.AudioFeed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case kind != "rtsp":
		return nil, fmt.Errorf("rtsptest: subscribe audio: kind %q, want \"rtsp\"", kind)
	case m.private:
		return nil, live.ErrPrivate
	case m.fail != nil:
		return nil, m.fail
	}
	f := &micFeed{m: m}
	m.feeds[f] = struct{}{}
	m.opened++
	m.signal()
	return f, nil
}

// Push sends c to every open feed.
func (m *Mic) Push(c capture.AudioChunk) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for f := range m.feeds {
		if len(f.queue) == 1024 {
			f.queue = f.queue[1:]
		}
		f.queue = append(f.queue, c)
	}
	m.signal()
}

// SetPrivate switches privacy mode: feeds end with live.ErrPrivate,
// SubscribeAudio refuses.
func (m *Mic) SetPrivate(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.private = on
	m.signal()
}

// Fail makes SubscribeAudio return err and ends the open feeds with it;
// nil heals.
func (m *Mic) Fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
	m.signal()
}

// Feeds is the number of open feeds; Opened how many were opened in all.
func (m *Mic) Feeds() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.feeds)
}

// Opened is how many feeds were opened in all.
func (m *Mic) Opened() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.opened
}

// WaitFeeds blocks until Feeds() == n or ctx ends.
func (m *Mic) WaitFeeds(ctx context.Context, n int) error {
	for {
		m.mu.Lock()
		got, ch := len(m.feeds), m.changed
		m.mu.Unlock()
		if got == n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rtsptest: %d microphone feeds, want %d: %w", got, n, ctx.Err())
		case <-ch:
		}
	}
}

// Run pushes a 440 Hz tone (Tone) in 20 ms chunks of rate Hz, channels
// channels, at the pace of the real clock, until ctx ends.
func (m *Mic) Run(ctx context.Context, rate, channels int) error {
	const every = 20 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	start := time.Now()
	for n := 0; ; n++ {
		m.Push(Tone(start.Add(time.Duration(n)*every), rate, channels, rate/50, 440, n*rate/50))
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type micFeed struct {
	m      *Mic
	queue  []capture.AudioChunk
	closed bool
}

// Next implements rtsp.AudioFeed.
func (f *micFeed) Next(ctx context.Context) (capture.AudioChunk, error) {
	m := f.m
	for {
		m.mu.Lock()
		switch {
		case f.closed:
			m.mu.Unlock()
			return capture.AudioChunk{}, live.ErrClosed
		case m.private:
			m.mu.Unlock()
			return capture.AudioChunk{}, live.ErrPrivate
		case m.fail != nil:
			err := m.fail
			m.mu.Unlock()
			return capture.AudioChunk{}, err
		case len(f.queue) > 0:
			c := f.queue[0]
			f.queue = f.queue[1:]
			m.mu.Unlock()
			return c, nil
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return capture.AudioChunk{}, ctx.Err()
		case <-ch:
		}
	}
}

// Close implements rtsp.AudioFeed.
func (f *micFeed) Close() {
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if !f.closed {
		f.closed = true
		delete(m.feeds, f)
		m.signal()
	}
}

// Tone is a chunk of a sine of freq Hz at half scale: frames frames at
// rate, channels channels (the same in each), starting at frame first of
// the tone (so that consecutive chunks join without a click), captured
// at at.
func Tone(at time.Time, rate, channels, frames int, freq float64, first int) capture.AudioChunk {
	s := make([]int16, frames*channels)
	for i := 0; i < frames; i++ {
		v := int16(16000 * math.Sin(2*math.Pi*freq*float64(first+i)/float64(rate)))
		for c := 0; c < channels; c++ {
			s[i*channels+c] = v
		}
	}
	return capture.AudioChunk{At: at, Rate: rate, Channels: channels, Samples: s}
}

// ErrSpeakerBusy is what a failing Speaker's StartTalk returns.
var ErrSpeakerBusy = errors.New("rtsptest: speaker busy")

// Speaker is a fake door speaker (rtsp.Talker): it records every talk
// session and the samples written to it. OnWrite, when set before use,
// is called in each Write (for latency measurements).
type Speaker struct {
	OnWrite func(samples []int16)

	mu       sync.Mutex
	fail     bool
	sessions []*Talk
	changed  chan struct{}
}

var _ rtsp.Talker = (*Speaker)(nil)

// NewSpeaker returns a speaker that accepts every talk.
func NewSpeaker() *Speaker { return &Speaker{changed: make(chan struct{})} }

// Talk is one talk session a Speaker saw.
type Talk struct {
	User, Remote string

	sp      *Speaker
	samples []int16
	writes  int
	closed  bool
}

func (sp *Speaker) signal() {
	close(sp.changed)
	sp.changed = make(chan struct{})
}

// SetFail makes StartTalk fail with ErrSpeakerBusy (or accept again).
func (sp *Speaker) SetFail(on bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.fail = on
}

// StartTalk implements rtsp.Talker.
func (sp *Speaker) StartTalk(user, remote string) (rtsp.TalkSink, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.fail {
		return nil, ErrSpeakerBusy
	}
	t := &Talk{User: user, Remote: remote, sp: sp}
	sp.sessions = append(sp.sessions, t)
	sp.signal()
	return t, nil
}

// Write implements rtsp.TalkSink.
func (t *Talk) Write(samples []int16) {
	if f := t.sp.OnWrite; f != nil {
		f(samples)
	}
	t.sp.mu.Lock()
	defer t.sp.mu.Unlock()
	if t.closed {
		panic("rtsptest: Write on a closed talk")
	}
	t.samples = append(t.samples, samples...)
	t.writes++
	t.sp.signal()
}

// Close implements rtsp.TalkSink.
func (t *Talk) Close() {
	t.sp.mu.Lock()
	defer t.sp.mu.Unlock()
	if t.closed {
		panic("rtsptest: talk closed twice")
	}
	t.closed = true
	t.sp.signal()
}

// Sessions is a copy of the talk sessions so far.
func (sp *Speaker) Sessions() []*Talk {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return append([]*Talk(nil), sp.sessions...)
}

// Samples is a copy of what t received; Closed whether it ended.
func (t *Talk) Samples() []int16 {
	t.sp.mu.Lock()
	defer t.sp.mu.Unlock()
	return append([]int16(nil), t.samples...)
}

// Closed reports whether the talk was closed.
func (t *Talk) Closed() bool {
	t.sp.mu.Lock()
	defer t.sp.mu.Unlock()
	return t.closed
}

// Wait blocks until cond (called with the speaker's state locked, so it
// must only read) holds or ctx ends.
func (sp *Speaker) Wait(ctx context.Context, what string, cond func(sessions []*Talk) bool) error {
	for {
		sp.mu.Lock()
		ok, ch := cond(sp.sessions), sp.changed
		sp.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rtsptest: waiting for %s: %w", what, ctx.Err())
		case <-ch:
		}
	}
}

// Len is the number of samples t received (for Wait's cond: no lock).
func (t *Talk) Len() int { return len(t.samples) }

// IsClosed is Closed for Wait's cond (no lock).
func (t *Talk) IsClosed() bool { return t.closed }
