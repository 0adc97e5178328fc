package audio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// PlayerOptions configure a Player.
type PlayerOptions struct {
	// Open opens the speaker; the Player calls it for each playback and
	// each probe, and closes what it returns when done. Usually
	//	func() (audio.Speaker, error) { return audio.OpenSpeaker("hw:1,0") }
	Open func() (Speaker, error)
	// Probe is how often an idle Player opens and closes the speaker, so
	// Status shows a card unplugged (or plugged in) between replies.
	// Default 1 minute; negative: only at start and for each playback.
	Probe time.Duration
	// Slack is how much longer than its sound a playback may take before
	// the Player gives up on it (drops it and counts it failed). Default 5 s.
	Slack time.Duration
	// TalkPrefill is how much talk sound the jitter buffer gathers before
	// it plays, and again after it ran dry. Default 60 ms.
	TalkPrefill time.Duration
	// TalkPrefillMax: each time a session's jitter buffer runs dry, the
	// prefill it gathers again grows by TalkPrefillStep, up to this
	// (the sound came later than the prefill covered: the network or
	// the board showed more jitter, so the session trades some delay for
	// no more gaps). Default 200 ms; kept within TalkPrefill..TalkMax.
	TalkPrefillMax time.Duration
	// TalkMax caps the jitter buffer: beyond it the oldest talk sound is
	// dropped, so a burst from the network does not grow the delay.
	// Default 300 ms (at least TalkPrefill).
	TalkMax time.Duration
	// TalkDelay is how long sound handed to the speaker's Stream takes to
	// come out (its device buffer), for Status.TalkVoiceUntil. Default
	// StreamDelay, the ALSA speaker's.
	TalkDelay time.Duration
	Logger    *slog.Logger
	Clock     clockwork.Clock
}

func (o *PlayerOptions) ensureDefaults() {
	if o.Probe == 0 {
		o.Probe = time.Minute
	}
	if o.Slack <= 0 {
		o.Slack = 5 * time.Second
	}
	if o.TalkPrefill <= 0 {
		o.TalkPrefill = 60 * time.Millisecond
	}
	if o.TalkMax <= 0 {
		o.TalkMax = 300 * time.Millisecond
	}
	o.TalkMax = max(o.TalkMax, o.TalkPrefill)
	if o.TalkPrefillMax <= 0 {
		o.TalkPrefillMax = 200 * time.Millisecond
	}
	o.TalkPrefillMax = min(max(o.TalkPrefillMax, o.TalkPrefill), o.TalkMax)
	if o.TalkDelay <= 0 {
		o.TalkDelay = StreamDelay
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// Status is the Player's state for health and stats.
type Status struct {
	// Available: the last open of the speaker worked. False before the
	// first attempt and while the card is missing (degraded mode).
	Available bool
	// LastError is the last open or playback error ("" after a success).
	LastError string
	// Playing names the reply being played, "" when idle.
	Playing string
	// Played counts replies played to the end; Replaced those cut short
	// or dropped unplayed by a newer one; Failed those that could not be
	// played (no device, write error, stuck); Refused those dropped
	// because a talk was open.
	Played, Replaced, Failed, Refused uint64

	// Talking: a talk session is open (waiting for the speaker or
	// playing); quick replies are refused meanwhile.
	Talking bool
	// Talks counts talk sessions opened; TalkFailed those ended by a
	// speaker error (no device, write error).
	Talks, TalkFailed uint64
	// TalkPlayed counts talk frames handed to the speaker; TalkUnderruns
	// the times the jitter buffer ran dry while playing (silence until it
	// had gathered the prefill again); TalkDropped the frames dropped,
	// oldest first, when it overflowed (and partial frames written).
	TalkPlayed, TalkUnderruns, TalkDropped uint64
	// TalkVoiceUntil is when the talk sound written so far with energy
	// (RMS above -50 dBFS per Write) will have come out of the speaker:
	// the time of its Write, plus what is buffered ahead of it (at least
	// the prefill while the buffer gathers it), plus the speaker's buffer
	// (PlayerOptions.TalkDelay). Lowered to the end's time when a session
	// ends (the speaker drops its buffer). Zero if there was never any.
	// For half-duplex echo suppression: mute the microphone until then.
	TalkVoiceUntil time.Time
}

// Player plays quick replies, one at a time, and talk sessions, which
// have priority. A new Play REPLACES the running reply (the visitor hears
// the newest reply) and any waiting one; a Talk cuts both, and Plays are
// refused while it is open. Run's goroutine owns the speaker and opens
// it afresh for each playback and talk; Play, Talk, Talk.Write and Status
// never block, whatever the device does.
type Player struct {
	opts PlayerOptions
	wake chan struct{}

	mu      sync.Mutex
	pending *request
	cancel  context.CancelCauseFunc // of the running reply
	talk    *Talk                   // the open talk session
	st      Status
	tried   bool // an open was attempted

	talkPlayed, talkUnderruns, talkDropped atomic.Uint64
	voice                                  atomic.Int64 // TalkVoiceUntil, Unix ns
}

type request struct {
	name string
	s    *Sound
}

// NewPlayer returns a Player; it starts nothing.
func NewPlayer(opts PlayerOptions) *Player {
	opts.ensureDefaults()
	return &Player{opts: opts, wake: make(chan struct{}, 1)}
}

// Play asks for s to be played under name (for logs and stats,
// "leave_at_door"). It replaces the running and any waiting reply, and
// returns at once. While a talk session is open the reply is refused
// (counted Refused, logged): the owner is speaking.
func (p *Player) Play(name string, s *Sound) {
	p.mu.Lock()
	if t := p.talk; t != nil {
		p.st.Refused++
		p.mu.Unlock()
		p.opts.Logger.Warn("audio: reply refused: talk in progress", "reply", name, "talk", t.name)
		return
	}
	if p.pending != nil {
		p.st.Replaced++
	}
	p.pending = &request{name: name, s: s}
	if p.cancel != nil {
		p.cancel(errNewerReply)
		p.cancel = nil
		p.st.Replaced++
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Status returns the Player's state.
func (p *Player) Status() Status {
	p.mu.Lock()
	st := p.st
	st.Talking = p.talk != nil
	p.mu.Unlock()
	st.TalkPlayed = p.talkPlayed.Load()
	st.TalkUnderruns = p.talkUnderruns.Load()
	st.TalkDropped = p.talkDropped.Load()
	if v := p.voice.Load(); v != 0 {
		st.TalkVoiceUntil = time.Unix(0, v)
	}
	return st
}

var errNewerReply = errors.New("replaced by a newer reply")

// Run plays what Play and Talk ask for until ctx is done (then it ends
// the open talk session with ErrStopped). It probes the speaker at start
// and every Probe while idle; a missing device only marks Status
// unavailable, and the next playback or talk tries again.
func (p *Player) Run(ctx context.Context) error {
	if p.opts.Open == nil {
		return errors.New("audio: player: no Open function")
	}
	p.probe()
	var tick <-chan time.Time
	if p.opts.Probe > 0 {
		t := p.opts.Clock.NewTicker(p.opts.Probe)
		defer t.Stop()
		tick = t.Chan()
	}
	defer func() {
		p.mu.Lock()
		t := p.talk
		p.mu.Unlock()
		if t != nil {
			t.end(ErrStopped)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			p.probe()
			continue
		case <-p.wake:
		}
		p.mu.Lock()
		if t := p.talk; t != nil && !t.running {
			t.running = true
			p.mu.Unlock()
			p.runTalk(ctx, t)
			continue
		}
		req := p.pending
		p.pending = nil
		if req == nil {
			p.mu.Unlock()
			continue
		}
		pctx, cancel := context.WithCancelCause(ctx)
		p.cancel = cancel
		p.st.Playing = req.name
		p.mu.Unlock()
		outcome := p.play(ctx, pctx, req)
		cancel(nil)
		p.mu.Lock()
		p.cancel = nil
		p.st.Playing = ""
		outcome(&p.st)
		p.mu.Unlock()
	}
}

// opened records an open's outcome, logging only changes of state.
func (p *Player) opened(err error) {
	p.mu.Lock()
	was, first := p.st.Available, !p.tried
	lastErr := p.st.LastError
	p.tried = true
	p.st.Available = err == nil
	if err != nil {
		p.st.LastError = err.Error()
	}
	p.mu.Unlock()
	switch {
	case err != nil && (was || first || lastErr != err.Error()):
		p.opts.Logger.Warn("audio: speaker unavailable, quick replies are silent", "err", err)
	case err == nil && !was && !first:
		p.opts.Logger.Info("audio: speaker available again")
	}
}

// failed is a failed playback's outcome.
func failed(err error) func(*Status) {
	return func(st *Status) {
		st.Failed++
		st.LastError = err.Error()
	}
}

func (p *Player) probe() {
	spk, err := p.opts.Open()
	p.opened(err)
	if err == nil {
		if err := spk.Close(); err != nil {
			p.opts.Logger.Warn("audio: probe: close speaker", "err", err)
		}
	}
}

// play plays one request; pctx is cancelled by a newer Play. It returns
// the outcome to count, which Run applies as the playback ends.
func (p *Player) play(ctx, pctx context.Context, req *request) func(*Status) {
	log := p.opts.Logger.With("reply", req.name)
	if err := req.s.Validate(); err != nil {
		log.Error("audio: bad sound", "err", err)
		return failed(fmt.Errorf("reply %q: %w", req.name, err))
	}
	spk, err := p.opts.Open()
	p.opened(err)
	if err != nil {
		return failed(err)
	}
	defer func() {
		if err := spk.Close(); err != nil {
			log.Warn("audio: close speaker", "err", err)
		}
	}()
	// A playback that outlasts its sound by Slack is stuck: drop it.
	limit := req.s.Duration() + p.opts.Slack
	wctx, cancel := context.WithCancelCause(pctx)
	defer cancel(nil)
	errStuck := fmt.Errorf("reply %q: speaker stuck: not done %v after start (sound %v)", req.name, limit, req.s.Duration())
	t := p.opts.Clock.AfterFunc(limit, func() { cancel(errStuck) })
	defer t.Stop()
	start := p.opts.Clock.Now()
	err = spk.Play(wctx, req.s)
	switch {
	case ctx.Err() != nil:
		log.Info("audio: playback stopped: shutting down")
	case errors.Is(context.Cause(wctx), errStuck):
		log.Error("audio: playback stuck, dropped", "limit", limit)
		return failed(errStuck)
	case pctx.Err() != nil: // counted in Replaced by Play or Talk
		log.Info("audio: playback cut short", "why", context.Cause(pctx))
	case err == nil:
		log.Info("audio: played", "duration", req.s.Duration(), "format", spk.Format().String(),
			"took", p.opts.Clock.Since(start).Round(time.Millisecond))
		return func(st *Status) {
			st.Played++
			st.LastError = ""
		}
	default:
		log.Error("audio: playback failed", "err", err)
		return failed(fmt.Errorf("reply %q: %w", req.name, err))
	}
	return func(*Status) {}
}
