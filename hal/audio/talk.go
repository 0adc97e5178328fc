package audio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// StreamDelay is how long sound handed to an ALSA Speaker's Stream waits
// in the device's buffer before it is heard, at most (4 periods of 20 ms).
const StreamDelay = 80 * time.Millisecond

// Why a talk session ended: Talk.Err is one of these, or wraps the
// speaker's error (ErrNoDevice…) or a bad format.
var (
	ErrTalkClosed   = errors.New("talk closed")
	ErrTalkReplaced = errors.New("talk replaced by a newer one")
	ErrStopped      = errors.New("audio player stopped")
)

// TalkPrefillStep is how much a talk session's prefill grows each time
// its jitter buffer runs dry (up to PlayerOptions.TalkPrefillMax).
const TalkPrefillStep = 40 * time.Millisecond

// voiceFloor is the mean square (in S16 units²) above which written talk
// sound counts as voice for Status.TalkVoiceUntil: -50 dBFS RMS.
const voiceFloor = 32768 * 32768 * 1e-5

// Talk is a live talk session on the Player's speaker (the owner's voice
// from the RTSP back-channel). Write feeds its jitter buffer; the Player's
// Run goroutine plays it. Safe for concurrent use.
type Talk struct {
	p              *Player
	name           string
	rate, channels int
	ctx            context.Context // done when the session ends; its cause says why
	cancel         context.CancelCauseFunc
	running        bool // Run has taken it (guarded by p.mu)

	mu        sync.Mutex
	over      bool
	warned    bool      // a write of partial frames was logged
	buf       []int16   // ring of up to TalkMax
	head, n   int       // samples: index of the oldest buffered, how many
	prefill   int       // samples to gather before playing
	step      int       // samples the prefill grows by after running dry
	maxPre    int       // samples the prefill grows to at most
	waiting   bool      // gathering prefill: silence until then
	lastWrite time.Time // the last Write's time, for the log of an underrun
	// this session's counts, in frames, for the end's log
	played, underruns, dropped uint64
}

// Talk opens a talk session of interleaved signed 16-bit samples at rate
// Hz (MinRate-MaxRate) and 1 or 2 channels, under name (for logs). Talk has
// priority over quick replies: it cuts the running reply and drops a
// waiting one (both counted Replaced), and replies are refused while it is
// open. A session already open is replaced (it ends with
// ErrTalkReplaced). Talk returns at once; Run's goroutine opens the
// speaker and streams the session.
//
// Talk always returns a session. Without a speaker it ends at once with
// the open's error (Err, Done) and its writes are dropped; with a bad
// rate or channel count it is returned already ended with an error
// naming it (counted TalkFailed, logged), and the running reply plays on.
func (p *Player) Talk(name string, rate, channels int) *Talk {
	t := &Talk{p: p, name: name, rate: rate, channels: channels, waiting: true}
	t.ctx, t.cancel = context.WithCancelCause(context.Background())
	if err := validStream(rate, channels); err != nil {
		err = fmt.Errorf("audio: talk %q: %w", name, err)
		t.over = true
		t.cancel(err)
		p.mu.Lock()
		p.st.Talks++
		p.st.TalkFailed++
		p.st.LastError = err.Error()
		p.mu.Unlock()
		p.opts.Logger.Error("audio: talk refused", "err", err)
		return t
	}
	frames := func(d time.Duration) int { return int(int64(rate) * int64(d) / int64(time.Second)) }
	capFrames := max(frames(p.opts.TalkMax), frames(p.opts.TalkPrefill), 1)
	t.buf = make([]int16, capFrames*channels)
	t.prefill = frames(p.opts.TalkPrefill) * channels
	t.step = frames(TalkPrefillStep) * channels
	t.maxPre = max(frames(p.opts.TalkPrefillMax)*channels, t.prefill)

	p.mu.Lock()
	old := p.talk
	p.talk = t
	p.st.Talks++
	cut := p.cancel != nil
	if p.pending != nil {
		p.pending = nil
		p.st.Replaced++
	}
	if cut {
		p.cancel(errCutByTalk)
		p.cancel = nil
		p.st.Replaced++
	}
	p.mu.Unlock()
	if old != nil {
		old.end(ErrTalkReplaced)
	}
	if cut {
		p.opts.Logger.Info("audio: talk cuts the running reply", "talk", name)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return t
}

var errCutByTalk = errors.New("cut short by a talk")

// Write queues interleaved samples for the speaker and returns at once;
// it copies them (the caller keeps samples). The jitter buffer gathers
// PlayerOptions.TalkPrefill before it plays (and again after it ran dry,
// counted TalkUnderruns, TalkPrefillStep more each time up to
// PlayerOptions.TalkPrefillMax); beyond TalkMax the oldest samples are dropped
// (TalkDropped). A trailing partial frame is dropped (counted, logged once
// a session). After the session ended (Done), Write does nothing.
func (t *Talk) Write(samples []int16) {
	if t.buf == nil { // refused at birth: a bad format
		return
	}
	ch := t.channels
	if odd := len(samples) % ch; odd != 0 {
		samples = samples[:len(samples)-odd]
		t.mu.Lock()
		warn := !t.warned && !t.over
		if !t.over {
			t.warned = true
			t.dropped++
			t.p.talkDropped.Add(1)
		}
		t.mu.Unlock()
		if warn {
			t.p.opts.Logger.Warn("audio: talk: write of a partial frame, its tail dropped",
				"talk", t.name, "samples", len(samples)+odd, "channels", ch)
		}
	}
	var sq float64
	for _, v := range samples {
		sq += float64(v) * float64(v)
	}
	voice := len(samples) > 0 && sq > voiceFloor*float64(len(samples))
	now := t.p.opts.Clock.Now()

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.over || len(samples) == 0 {
		return
	}
	c := len(t.buf)
	if over := t.n + len(samples) - c; over > 0 {
		old := min(over, t.n)
		t.head = (t.head + old) % c
		t.n -= old
		samples = samples[over-old:]
		t.dropped += uint64(over / ch)
		t.p.talkDropped.Add(uint64(over / ch))
	}
	t.lastWrite = now
	tail := (t.head + t.n) % c
	k := copy(t.buf[tail:], samples)
	copy(t.buf, samples[k:])
	t.n += len(samples)
	if voice {
		// This write's end comes out after what is buffered ahead of it
		// (at least the prefill, if the buffer is still gathering it) and
		// the speaker's own buffer.
		ahead := t.n
		if t.waiting {
			ahead = max(ahead, t.prefill)
		}
		d := time.Duration(int64(ahead/ch) * int64(time.Second) / int64(t.rate))
		t.p.voiceUntil(now.Add(d + t.p.opts.TalkDelay).UnixNano())
	}
}

// fill is the speaker's src: it copies up to len(p) buffered samples
// into p and returns how many.
func (t *Talk) fill(p []int16) int {
	t.mu.Lock()
	if t.over {
		t.mu.Unlock()
		return 0
	}
	if t.waiting {
		if t.n == 0 || t.n < t.prefill {
			t.mu.Unlock()
			return 0
		}
		t.waiting = false
	}
	c, k := len(t.buf), min(len(p), t.n)
	m := copy(p[:k], t.buf[t.head:min(c, t.head+k)])
	copy(p[m:k], t.buf)
	t.head = (t.head + k) % c
	t.n -= k
	dry := k < len(p)
	if dry {
		// Ran dry: silence until the prefill is gathered again, and a
		// larger one: the sound came later than the prefill covered.
		t.waiting = true
		t.prefill = min(t.prefill+t.step, t.maxPre)
		t.underruns++
		t.p.talkUnderruns.Add(1)
	}
	t.played += uint64(k / t.channels)
	t.p.talkPlayed.Add(uint64(k / t.channels))
	last, prefill := t.lastWrite, t.prefill
	t.mu.Unlock()
	if dry {
		t.p.opts.Logger.Debug("audio: talk ran dry: silence until the prefill is gathered again",
			"talk", t.name, "short_frames", (len(p)-k)/t.channels, "since_last_write", t.p.opts.Clock.Since(last),
			"prefill", time.Duration(int64(prefill/t.channels)*int64(time.Second)/int64(t.rate)))
	}
	return k
}

// Close ends the session: the speaker stops at once (what is buffered is
// dropped) and quick replies may play again. Closing twice does nothing.
func (t *Talk) Close() { t.end(ErrTalkClosed) }

// Done is closed when the session has ended: closed, replaced, the
// speaker failed or the Player stopped.
func (t *Talk) Done() <-chan struct{} { return t.ctx.Done() }

// Err is why the session ended (ErrTalkClosed, ErrTalkReplaced,
// ErrStopped or the speaker's error), nil while it is open.
func (t *Talk) Err() error {
	if t.ctx.Err() == nil {
		return nil
	}
	return context.Cause(t.ctx)
}

// end ends the session with cause, unless it has already ended, and says
// whether it did.
func (t *Talk) end(cause error) bool {
	t.mu.Lock()
	if t.over {
		t.mu.Unlock()
		return false
	}
	t.over = true
	t.n = 0
	// Nothing more of it comes out: the speaker drops its buffer.
	t.p.voiceCut(t.p.opts.Clock.Now().UnixNano())
	t.cancel(cause)
	t.mu.Unlock()
	t.p.mu.Lock()
	if t.p.talk == t {
		t.p.talk = nil
	}
	t.p.mu.Unlock()
	return true
}

// voiceUntil raises TalkVoiceUntil to ns.
func (p *Player) voiceUntil(ns int64) {
	for {
		v := p.voice.Load()
		if v >= ns || p.voice.CompareAndSwap(v, ns) {
			return
		}
	}
}

// voiceCut lowers TalkVoiceUntil to ns.
func (p *Player) voiceCut(ns int64) {
	for {
		v := p.voice.Load()
		if v <= ns || p.voice.CompareAndSwap(v, ns) {
			return
		}
	}
}

// runTalk streams t on a freshly opened speaker until t ends or ctx is
// done.
func (p *Player) runTalk(ctx context.Context, t *Talk) {
	log := p.opts.Logger.With("talk", t.name)
	fail := func(err error) {
		err = fmt.Errorf("talk %q: %w", t.name, err)
		if t.end(err) {
			p.mu.Lock()
			p.st.TalkFailed++
			p.st.LastError = err.Error()
			p.mu.Unlock()
		}
	}
	spk, err := p.opts.Open()
	p.opened(err)
	if err != nil {
		log.Error("audio: talk: no speaker, the visitor hears nothing", "err", err)
		fail(err)
		return
	}
	defer func() {
		if err := spk.Close(); err != nil {
			log.Warn("audio: close speaker", "err", err)
		}
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(t.ctx, cancel)()
	log.Info("audio: talk started", "rate", t.rate, "channels", t.channels)
	err = spk.Stream(sctx, t.rate, t.channels, t.fill)
	switch {
	case t.ctx.Err() != nil: // closed or replaced
	case ctx.Err() != nil:
		t.end(ErrStopped)
	case err == nil:
		fail(errors.New("speaker stream ended by itself"))
	default:
		fail(err)
	}
	t.mu.Lock()
	played, underruns, dropped := t.played, t.underruns, t.dropped
	prefill := time.Duration(int64(t.prefill/t.channels) * int64(time.Second) / int64(t.rate))
	t.mu.Unlock()
	why := context.Cause(t.ctx)
	if errors.Is(why, ErrTalkClosed) || errors.Is(why, ErrTalkReplaced) {
		p.mu.Lock()
		p.st.LastError = ""
		p.mu.Unlock()
		log.Info("audio: talk ended", "why", why, "format", spk.Format().String(),
			"played", time.Duration(int64(played)*int64(time.Second)/int64(t.rate)), "underruns", underruns, "dropped_frames", dropped, "prefill", prefill)
		return
	}
	log.Error("audio: talk ended", "err", why, "underruns", underruns, "dropped_frames", dropped, "prefill", prefill)
}
