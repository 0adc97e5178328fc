// Package audiotest has fakes of package audio's edges for tests: a
// Speaker that records what it is asked to play and plays it only when
// the test says, an Opener that can be "unplugged", and a Microphone
// that hears a given Sound.
//
//	Player ──Open()──▶ Opener ──▶ *Speaker ──Started()──▶ test
//	                     │                 ◀──Finish()─── test
//	                     │        Stream:  ──StreamStarted()──▶ test
//	                     │                 ◀──Pull(n)───────── test (the device's clock)
//	                     │                 ──Streams(), StreamEnded()──▶ test
//	                     └─ SetErr(ErrNoDevice): unplugged
package audiotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/doorbelld/doorbelld/hal/audio"
)

// Played is one Play call on a fake Speaker.
type Played struct {
	Sound *audio.Sound
	// Bytes is the sound converted to the Speaker's format, as a device
	// would get it.
	Bytes []byte
	// Err is what Play returned: nil when finished, the context's error
	// when cut short.
	Err error
}

// Streamed is one Stream call on a fake Speaker.
type Streamed struct {
	Rate, Channels int
	// Samples is what src gave, period after period, with the silence it
	// left (zeros) in place.
	Samples []int16
	// Bytes is the same converted to the Speaker's format, as a device
	// would get it.
	Bytes []byte
	// Periods counts the periods pulled; Filled the samples src filled
	// (the rest of Samples is silence).
	Periods, Filled int
	// Done: Stream has returned Err (the context's error).
	Done bool
	Err  error
}

// Speaker is a fake audio.Speaker. Each Play converts the sound to the
// Speaker's format, announces it on Started, then waits for Finish (it
// returns nil: played), or for its context (it returns the context's
// error: dropped). With Stuck set it ignores the context and waits only
// for Finish, like a device whose writes hang.
//
// Stream announces the stream's format on StreamStarted, then pulls one
// period (Period frames of the Speaker's format) each time the test calls
// Pull, as a device's clock would, recording what src gave, until its
// context is done: then it returns the context's error at once (it
// drops, no drain) and sends its record on StreamEnded.
type Speaker struct {
	format  audio.Format
	started chan *audio.Sound
	finish  chan struct{}

	streamStarted chan audio.Format
	streamEnded   chan Streamed
	pull          chan chan bool

	mu      sync.Mutex
	stuck   bool
	played  []Played
	streams []*Streamed
	closes  int
}

var _ audio.Speaker = (*Speaker)(nil)

// NewSpeaker returns a fake speaker that takes f.
func NewSpeaker(f audio.Format) *Speaker {
	if err := f.Validate(); err != nil {
		panic(err)
	}
	return &Speaker{format: f, started: make(chan *audio.Sound, 64), finish: make(chan struct{}),
		streamStarted: make(chan audio.Format, 64), streamEnded: make(chan Streamed, 64), pull: make(chan chan bool)}
}

// SetStuck makes Play ignore its context (true) or not.
func (s *Speaker) SetStuck(on bool) {
	s.mu.Lock()
	s.stuck = on
	s.mu.Unlock()
}

// Started delivers each sound as its Play begins.
func (s *Speaker) Started() <-chan *audio.Sound { return s.started }

// Finish ends the running Play as played (it blocks until one runs).
func (s *Speaker) Finish() { s.finish <- struct{}{} }

// Format is the format given to NewSpeaker.
func (s *Speaker) Format() audio.Format { return s.format }

// Play records s and waits as the type's comment says.
func (s *Speaker) Play(ctx context.Context, snd *audio.Sound) error {
	if err := snd.Validate(); err != nil {
		return err
	}
	b := audio.Convert(snd, s.format)
	s.mu.Lock()
	stuck := s.stuck
	s.mu.Unlock()
	s.started <- snd
	var err error
	if stuck {
		<-s.finish
	} else {
		select {
		case <-s.finish:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.mu.Lock()
	s.played = append(s.played, Played{Sound: snd, Bytes: b, Err: err})
	s.mu.Unlock()
	return err
}

// Period is how many frames of the Speaker's format a Stream writes per
// period: 20 ms.
func (s *Speaker) Period() int { return max(1, s.format.Rate/50) }

// Stream plays a stream as the type's comment says.
func (s *Speaker) Stream(ctx context.Context, rate, channels int, src func(p []int16) int) error {
	conv, err := audio.NewStreamConverter(rate, channels, s.format)
	if err != nil {
		return err
	}
	rec := &Streamed{Rate: rate, Channels: channels}
	s.mu.Lock()
	s.streams = append(s.streams, rec)
	s.mu.Unlock()
	s.streamStarted <- audio.Format{Rate: rate, Channels: channels, Bits: 16}
	buf := make([]byte, s.Period()*s.format.FrameBytes())
	record := func(p []int16) int {
		n := max(0, min(src(p), len(p)))
		clear(p[n:])
		s.mu.Lock()
		rec.Samples = append(rec.Samples, p...)
		rec.Filled += n
		s.mu.Unlock()
		return n
	}
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			rec.Done, rec.Err = true, ctx.Err()
			snap := rec.copy()
			s.mu.Unlock()
			select {
			case s.streamEnded <- snap:
			default:
			}
			return ctx.Err()
		case done := <-s.pull:
			if ctx.Err() != nil {
				done <- false
				continue
			}
			conv.Convert(buf, record)
			s.mu.Lock()
			rec.Bytes = append(rec.Bytes, buf...)
			rec.Periods++
			s.mu.Unlock()
			done <- true
		}
	}
}

func (r *Streamed) copy() Streamed {
	c := *r
	c.Samples = append([]int16(nil), r.Samples...)
	c.Bytes = append([]byte(nil), r.Bytes...)
	return c
}

// ErrNoStream is Pull's error when no running Stream took a period.
var ErrNoStream = errors.New("audiotest: no stream running")

// Pull makes the running Stream write periods periods, one after the
// other, and returns when it has; it fails when ctx is done first or the
// stream ended.
func (s *Speaker) Pull(ctx context.Context, periods int) error {
	for i := range periods {
		done := make(chan bool, 1)
		select {
		case s.pull <- done:
		case <-ctx.Done():
			return fmt.Errorf("audiotest: pull period %d of %d: %w: %w", i+1, periods, ErrNoStream, ctx.Err())
		}
		if !<-done {
			return fmt.Errorf("audiotest: pull period %d of %d: stream ended: %w", i+1, periods, ErrNoStream)
		}
	}
	return nil
}

// StreamStarted delivers each stream's rate and channels (16 bits) as
// its Stream begins.
func (s *Speaker) StreamStarted() <-chan audio.Format { return s.streamStarted }

// StreamEnded delivers each Stream's record as it returns.
func (s *Speaker) StreamEnded() <-chan Streamed { return s.streamEnded }

// Streams returns the Stream calls, oldest first, the running one
// included.
func (s *Speaker) Streams() []Streamed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Streamed, len(s.streams))
	for i, r := range s.streams {
		out[i] = r.copy()
	}
	return out
}

// Forget drops the samples and bytes recorded so far (the counts stay),
// so a long benchmark's memory stays flat.
func (s *Speaker) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.played {
		s.played[i].Bytes = nil
	}
	for _, r := range s.streams {
		r.Samples, r.Bytes = nil, nil
	}
}

// Close counts the closes.
func (s *Speaker) Close() error {
	s.mu.Lock()
	s.closes++
	s.mu.Unlock()
	return nil
}

// Plays returns the Play calls that have returned, oldest first.
func (s *Speaker) Plays() []Played {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Played(nil), s.played...)
}

// Closes counts Close calls.
func (s *Speaker) Closes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closes
}

// Opener hands out one Speaker, or an error while "unplugged". Its Open
// fits audio.PlayerOptions.Open.
type Opener struct {
	Speaker *Speaker
	mu      sync.Mutex
	err     error
	opens   int
}

// NewOpener returns an Opener of spk.
func NewOpener(spk *Speaker) *Opener { return &Opener{Speaker: spk} }

// SetErr makes Open fail with err (nil: plugged in again).
func (o *Opener) SetErr(err error) {
	o.mu.Lock()
	o.err = err
	o.mu.Unlock()
}

// Open returns the Speaker or the error set.
func (o *Opener) Open() (audio.Speaker, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opens++
	if o.err != nil {
		return nil, o.err
	}
	return o.Speaker, nil
}

// Opens counts Open calls, failed ones included.
func (o *Opener) Opens() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.opens
}

// Microphone is a fake audio.Microphone that hears one Sound, then
// io.EOF.
type Microphone struct {
	mu     sync.Mutex
	s      *audio.Sound
	pos    int
	closed bool
}

var _ audio.Microphone = (*Microphone)(nil)

// NewMicrophone returns a microphone that hears s.
func NewMicrophone(s *audio.Sound) *Microphone {
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return &Microphone{s: s}
}

// Format is the sound's rate and channels, 16 bits.
func (m *Microphone) Format() audio.Format {
	return audio.Format{Rate: m.s.Rate, Channels: m.s.Channels, Bits: 16}
}

// Read copies the next whole frames of the sound into p.
func (m *Microphone) Read(p []int16) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, audio.ErrClosed
	}
	ch := m.s.Channels
	if len(p) < ch {
		return 0, fmt.Errorf("audiotest: read into %d samples: less than one %d-channel frame", len(p), ch)
	}
	if m.pos >= len(m.s.Samples) {
		return 0, io.EOF
	}
	n := copy(p[:len(p)/ch*ch], m.s.Samples[m.pos:])
	m.pos += n
	return n, nil
}

// Close makes later Reads fail with audio.ErrClosed.
func (m *Microphone) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}
