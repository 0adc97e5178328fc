// Package audiotest has fakes of package audio's edges for tests: a
// Speaker that records what it is asked to play and plays it only when
// the test says, an Opener that can be "unplugged", and a Microphone
// that hears a given Sound.
//
//	Player ──Open()──▶ Opener ──▶ *Speaker ──Started()──▶ test
//	                     │                 ◀──Finish()─── test
//	                     └─ SetErr(ErrNoDevice): unplugged
package audiotest

import (
	"context"
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

// Speaker is a fake audio.Speaker. Each Play converts the sound to the
// Speaker's format, announces it on Started, then waits for Finish (it
// returns nil: played), or for its context (it returns the context's
// error: dropped). With Stuck set it ignores the context and waits only
// for Finish, like a device whose writes hang.
type Speaker struct {
	format  audio.Format
	started chan *audio.Sound
	finish  chan struct{}

	mu     sync.Mutex
	stuck  bool
	played []Played
	closes int
}

var _ audio.Speaker = (*Speaker)(nil)

// NewSpeaker returns a fake speaker that takes f.
func NewSpeaker(f audio.Format) *Speaker {
	if err := f.Validate(); err != nil {
		panic(err)
	}
	return &Speaker{format: f, started: make(chan *audio.Sound, 64), finish: make(chan struct{})}
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
