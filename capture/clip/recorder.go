package clip

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/rs/xid"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/storage"
)

// Sink stores finished clips; *storage.Store is one. Put gets the clip's
// metadata and its MP4 file, which it may keep (the Recorder does not
// touch it afterwards).
type Sink interface {
	Put(m storage.Meta, mp4 []byte) error
}

var _ Sink = (*storage.Store)(nil)

// Timing of the Recorder's work.
const (
	// collectEvery is how often the frames of the clips being recorded are
	// taken out of the ring (and their sound out of the audio ring). The
	// ring keeps a clip's frames for the Recorder (a capture.Hold) however
	// late it comes, but a ring that holds PreRoll plus this has nothing
	// to copy aside while the encoder keeps up.
	collectEvery = time.Second
	// settle is how long after a clip's end the Recorder waits at least
	// for the camera to deliver the last frames taken before the end (and
	// the microphone the sound up to soundTail after it).
	// Frames are stamped when captured but stored when delivered, which on
	// a busy CPU can be later: until a frame taken at or after the end is
	// in the ring, the Recorder keeps waiting, every settle, up to
	// maxSettle (a camera that stopped delivers none).
	settle    = 250 * time.Millisecond
	maxSettle = 3 * time.Second
	// soundTail is how much sound after the last wanted frame time a clip
	// collects: the last frame lasts an interval, and the sound with it.
	soundTail = 250 * time.Millisecond
	// maxPending bounds the triggers queued while Run is busy or not
	// running; older ones are dropped.
	maxPending = 256
	// readyBuffer is the capacity of the Ready channel.
	readyBuffer = 16
)

// DefaultMaxLength is the longest clip when Options.MaxLength is zero.
const DefaultMaxLength = time.Minute

// Options configures a Recorder.
type Options struct {
	// PreRoll is the video kept from before a trigger; 0 starts the clip
	// at the trigger. The ring must hold at least PreRoll; the frames of a
	// clip are reserved in it (a capture.Hold) when Trigger is called, so
	// a slow encoder delays a clip but does not lose its pre-roll. A ring
	// that holds PreRoll plus a second or two seldom needs to copy
	// reserved frames aside (see capture.Ring.SetHoldLimit).
	PreRoll time.Duration
	// PostRoll is the video kept after a trigger.
	PostRoll time.Duration
	// Merge makes a trigger that comes while a clip is being recorded
	// (its time within the clip) extend that clip to the trigger's time
	// plus PostRoll, instead of starting a second, overlapping clip. The
	// daemon's default is true; the zero value here is false.
	Merge bool
	// MaxLength caps a clip that merged triggers keep extending: the clip
	// ends there and a new clip continues from the next frame. Default
	// DefaultMaxLength; never less than PreRoll + PostRoll. It bounds the
	// RAM a clip takes while it is recorded (about 40 KB a frame for
	// 640x480 JPEG).
	MaxLength time.Duration
	// JPEGQuality (1..100) is used to encode YUYV frames; default
	// capture.DefaultJPEGQuality.
	JPEGQuality int
	// Audio, when set, is the microphone's ring: clips carry its sound
	// (MuxAV), in sync with the frames, and Meta.Audio says so. Like the
	// frame ring it must keep PreRoll plus a couple of seconds
	// (capture.NewAudioRing(PreRoll + 3*time.Second)): the Recorder
	// copies a clip's sound out of it every second (32 KB a second of
	// 16 kHz mono, beside the frames). nil: clips are silent (video
	// only).
	Audio  *capture.AudioRing
	Clock  clockwork.Clock // default: the real clock
	Logger *slog.Logger    // default: slog.Default()
	// NewID returns a new clip id; default: an xid (20 characters,
	// time-sortable), like event ids.
	NewID func() string
}

func (o Options) withDefaults() Options {
	o.PreRoll = max(o.PreRoll, 0)
	o.PostRoll = max(o.PostRoll, 0)
	if o.MaxLength <= 0 {
		o.MaxLength = DefaultMaxLength
	}
	o.MaxLength = max(o.MaxLength, o.PreRoll+o.PostRoll)
	if o.JPEGQuality <= 0 || o.JPEGQuality > 100 {
		o.JPEGQuality = capture.DefaultJPEGQuality
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NewID == nil {
		clk := o.Clock
		o.NewID = func() string { return xid.NewWithTime(clk.Now()).String() }
	}
	return o
}

// Stats are a Recorder's counters.
type Stats struct {
	Triggers  uint64 // Trigger calls
	Admitted  uint64 // triggers Run has taken (started or merged into a clip)
	Merged    uint64 // triggers that extended a clip being recorded
	Dropped   uint64 // triggers dropped because too many were queued
	Clips     uint64 // clips stored
	Empty     uint64 // clips with no frame (no camera), not stored
	Failed    uint64 // clips that could not be muxed or stored
	Recording int    // clips being recorded now
	Encoded   uint64 // YUYV frames encoded to JPEG (once, however many clips hold them)
	WithSound uint64 // clips stored with a sound track
	// Lost counts frames clips wanted that the ring evicted before the
	// Recorder took them: the encoder fell behind the camera by more than
	// the ring's hold limit (capture.Ring.SetHoldLimit). Each frame counts
	// once, however many clips wanted it.
	Lost uint64
}

// Recorder turns triggers into clips: the frames from PreRoll before a
// trigger to PostRoll after it, muxed into an MP4 file and handed to a
// Sink. One goroutine, Run, does all the work; Trigger only reserves the
// clip's frames in the ring and queues.
type Recorder struct {
	ring  *capture.Ring
	hold  *capture.Hold // the frames of the clips triggered and not yet taken
	sink  Sink
	opts  Options
	log   *slog.Logger
	clk   clockwork.Clock
	mux   Muxer
	wake  chan struct{} // capacity 1: a trigger is queued
	ready chan storage.Meta

	mu      sync.Mutex
	pending []trigger
	stats   Stats

	open []*recording // owned by Run: clips being recorded, oldest first
	// jpeg holds the JPEGs of YUYV frames already encoded for an open
	// clip, by frame Seq, so overlapping clips (a ring, then another
	// inside the next clip's pre-roll) encode each frame once. Owned by
	// Run; frames older than the pre-roll (and a margin) are dropped.
	jpeg   map[uint64]encoded
	newest time.Time // newest frame time collected
	// encode turns a YUYV frame into a JPEG: capture.EncodeJPEG, or a
	// test's stand-in that is as slow as the test wants.
	encode    func(capture.Frame, int) ([]byte, error)
	lost      uint64    // the hold's Lost count already in stats; owned by Run
	nextAudio time.Time // when the pump next collects sound; owned by Run
	stopped   bool      // Run has returned; under mu
}

type encoded struct {
	at   time.Time
	data []byte
}

type trigger struct {
	at      time.Time
	eventID string
	oldest  time.Time // the oldest frame the ring could still give when it came
}

// recording is one clip being recorded.
type recording struct {
	id       string
	eventIDs []string
	from     time.Time            // first frame time wanted
	end      time.Time            // last frame time wanted
	limit    time.Time            // end may not pass this (from + MaxLength)
	frames   []capture.Frame      // by Seq, each once
	skipped  int                  // frames that could not be encoded
	audio    []capture.AudioChunk // copied out of Options.Audio
	audioSeq uint64               // Seq of the newest chunk collected
	heard    bool                 // the audio ring has been looked at once (pre-roll check)
}

// New returns a Recorder that cuts clips from ring and stores them in
// sink, which must not be nil. It starts nothing: call Run.
func New(ring *capture.Ring, sink Sink, opts Options) *Recorder {
	if ring == nil || sink == nil {
		panic("clip: New needs a ring and a sink")
	}
	opts = opts.withDefaults()
	return &Recorder{
		ring:   ring,
		hold:   ring.Hold(),
		encode: capture.EncodeJPEG,
		sink:   sink,
		opts:   opts,
		log:    opts.Logger,
		clk:    opts.Clock,
		mux:    Muxer{JPEGQuality: opts.JPEGQuality},
		wake:   make(chan struct{}, 1),
		ready:  make(chan storage.Meta, readyBuffer),
	}
}

// Trigger asks for a clip around at for event eventID. It reserves the
// clip's frames, from at - PreRoll to at + PostRoll, in the ring (copying
// none: it only looks at the times of the frames held, and waits at most
// for the camera's Push of one frame to finish) and queues the rest of
// the work for Run; it never waits for Run. The clip is stored PostRoll
// (plus a quarter second) after at, or later if a merged trigger extends
// it or the encoder is behind.
func (r *Recorder) Trigger(at time.Time, eventID string) {
	r.mu.Lock()
	r.stats.Triggers++
	if len(r.pending) >= maxPending {
		r.pending = slices.Delete(r.pending, 0, 1)
		r.stats.Dropped++
	}
	t := trigger{at: at, eventID: eventID}
	if !r.stopped {
		// Under mu, so that Run's pump, which takes a frame from the hold
		// and then admits the triggers queued, cannot take a frame this
		// trigger wants before it sees the trigger (Want makes the hold
		// deliver again the frames it wants that were taken before).
		t.oldest = r.hold.Want(at.Add(-r.opts.PreRoll), at.Add(r.opts.PostRoll))
	}
	r.pending = append(r.pending, t)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Ready delivers the metadata of each clip once it is stored, for the
// daemon to announce. Run closes it when it returns. If nobody reads it,
// notifications beyond its buffer (16) are dropped, never the clips.
func (r *Recorder) Ready() <-chan storage.Meta { return r.ready }

// Stats returns the Recorder's counters.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Run records clips until ctx is done. Every second it takes the frames
// reserved for the clips being recorded out of the ring (encoding YUYV
// frames to JPEG as it goes; frames the ring evicted meanwhile were
// copied aside for it); once a clip's end has passed it muxes the clip
// and puts it into the sink. When ctx is done it stores the clips being
// recorded with the frames they have so far, closes Ready and returns
// nil.
func (r *Recorder) Run(ctx context.Context) error {
	defer close(r.ready)
	defer r.hold.Close()
	for {
		r.admit()
		// Every frame up to the newest one now, and so every frame taken
		// up to its time, is taken before a clip is finished; and a
		// camera that has delivered nothing up to a clip's end by now
		// (not by the end of a long pump) has stopped.
		now := r.clk.Now()
		_, newest, n := r.ring.Span()
		r.pump(ctx, r.ring.Seq(), false)
		r.noteLost()
		next := now.Add(collectEvery)
		keep := r.open[:0]
		for _, c := range r.open {
			r.collectAudio(c)
			due := c.end.Add(settle)
			if !now.Before(due) {
				if (n > 0 && !newest.Before(c.end) && r.soundIn(c)) || !now.Before(c.end.Add(maxSettle)) {
					r.finish(c, false)
					continue
				}
				due = now.Add(settle) // the camera is behind: look again
			}
			if due.Before(next) {
				next = due
			}
			keep = append(keep, c)
		}
		clear(r.open[len(keep):])
		r.open = keep
		r.pruneJPEG()
		r.setRecording()

		var timer clockwork.Timer
		var tick <-chan time.Time
		if len(r.open) > 0 {
			timer = r.clk.NewTimer(next.Sub(now))
			tick = timer.Chan()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			r.mu.Lock()
			r.stopped = true // no more reservations: the hold closes now
			r.mu.Unlock()
			r.admit()
			r.pump(ctx, r.ring.Seq(), true)
			r.noteLost()
			for _, c := range r.open {
				r.collectAudio(c)
				r.finish(c, true)
			}
			r.open, r.jpeg = nil, nil
			r.setRecording()
			return nil
		case <-r.wake:
		case <-tick:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func (r *Recorder) setRecording() {
	r.mu.Lock()
	r.stats.Recording = len(r.open)
	r.mu.Unlock()
}

// admit turns the queued triggers into recordings or merges them.
func (r *Recorder) admit() {
	r.mu.Lock()
	pending := r.pending
	r.pending = nil
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.stats.Admitted += uint64(len(pending))
		r.mu.Unlock()
	}()
	for _, t := range pending {
		end := t.at.Add(r.opts.PostRoll)
		if r.opts.Merge {
			if c := r.recordingAt(t.at); c != nil {
				c.addEvent(t.eventID)
				r.extend(c, end, t.eventID)
				r.mu.Lock()
				r.stats.Merged++
				r.mu.Unlock()
				r.log.Debug("clip: trigger extends clip", "clip", c.id, "event", t.eventID, "end", c.end)
				continue
			}
		}
		c := r.newRecording(t.at.Add(-r.opts.PreRoll), end, t.eventID)
		r.log.Debug("clip: recording", "clip", c.id, "event", t.eventID, "from", c.from, "end", c.end)
		if !t.oldest.IsZero() && t.oldest.After(c.from) {
			r.log.Info("clip: the ring does not reach back to the start of the pre-roll; the clip starts at the oldest frame",
				"clip", c.id, "wanted", c.from, "oldest", t.oldest, "short_by", t.oldest.Sub(c.from))
		}
	}
}

// recordingAt returns the newest clip being recorded whose span holds at.
func (r *Recorder) recordingAt(at time.Time) *recording {
	for i := len(r.open) - 1; i >= 0; i-- {
		c := r.open[i]
		if !at.Before(c.from) && !at.After(c.end) {
			return c
		}
	}
	return nil
}

func (r *Recorder) newRecording(from, end time.Time, eventID string) *recording {
	c := &recording{id: r.opts.NewID(), from: from, end: end, limit: from.Add(r.opts.MaxLength)}
	c.addEvent(eventID)
	r.open = append(r.open, c)
	return c
}

// extend moves c's end to end; past c's MaxLength, c ends at its limit
// and a continuation clip (starting just after it) takes the rest.
func (r *Recorder) extend(c *recording, end time.Time, eventID string) {
	for end.After(c.end) {
		if !end.After(c.limit) {
			c.end = end
			return
		}
		c.end = c.limit
		from := c.limit.Add(time.Nanosecond)
		i := slices.IndexFunc(r.open, func(o *recording) bool { return o.from.Equal(from) })
		if i < 0 {
			n := r.newRecording(from, end, eventID)
			r.log.Info("clip: clip reached max length; continuing in a new clip", "clip", c.id, "next", n.id)
			return
		}
		c = r.open[i]
		c.addEvent(eventID)
	}
}

func (c *recording) addEvent(id string) {
	if id != "" && !slices.Contains(c.eventIDs, id) {
		c.eventIDs = append(c.eventIDs, id)
	}
}

// pump takes the frames the hold has for the clips, oldest first, up to
// the frame with Seq upto (the newest when it was called: a pump behind a
// camera faster than the encoder must end for clips to be finished), and
// gives each to the clips being recorded that span its time, encoding
// YUYV frames to JPEG on the way. After each frame it admits the triggers
// queued meanwhile, so a clip triggered while the pump runs gets every
// frame of its span (the hold delivers again those it wants that were
// taken before), and every second it collects the clips' sound.
//
// At shutdown (quick, or ctx done while encoding) the pump stops at the
// first frame that would need encoding: the daemon must stop within
// seconds, and a busy board may be far behind with several overlapping
// clips. Frames already collected are kept.
func (r *Recorder) pump(ctx context.Context, upto uint64, quick bool) {
	for {
		f, ok := r.hold.Next()
		if !ok {
			return
		}
		r.admit()
		if !r.take(ctx, f, quick) {
			return
		}
		if f.Seq >= upto {
			return
		}
		if now := r.clk.Now(); !now.Before(r.nextAudio) {
			r.nextAudio = now.Add(collectEvery)
			for _, c := range r.open {
				r.collectAudio(c)
			}
		}
	}
}

// take gives frame f to the clips that span its time, encoding it first
// if it is YUYV. It returns false if it left f out because of shutdown.
func (r *Recorder) take(ctx context.Context, f capture.Frame, quick bool) bool {
	if f.At.After(r.newest) {
		r.newest = f.At
	}
	wanted := false
	for _, c := range r.open {
		wanted = wanted || c.spans(f.At)
	}
	if !wanted {
		return true
	}
	if f.Format.PixelFormat == capture.PixYUYV {
		e, ok := r.jpeg[f.Seq]
		jpg := e.data
		if !ok {
			if quick || ctx.Err() != nil {
				r.log.Info("clip: shutting down: the last frames are left out rather than encoded", "from", f.At)
				return false
			}
			var err error
			if jpg, err = r.encode(f, r.opts.JPEGQuality); err != nil {
				for _, c := range r.open {
					if c.spans(f.At) {
						c.skipped++
					}
				}
				r.log.Debug("clip: skipping frame", "seq", f.Seq, "err", err)
				return true
			}
			if r.jpeg == nil {
				r.jpeg = map[uint64]encoded{}
			}
			r.jpeg[f.Seq] = encoded{f.At, jpg}
			r.count(func(s *Stats) { s.Encoded++ })
		}
		f.Data = jpg
		f.Format.PixelFormat = capture.PixMJPEG
	}
	for _, c := range r.open {
		if c.spans(f.At) {
			c.add(f)
		}
	}
	return true
}

// spans says whether a frame taken at at belongs in c.
func (c *recording) spans(at time.Time) bool {
	return !at.Before(c.from) && !at.After(c.end)
}

// add puts f into c's frames, in Seq order, unless c has it already (the
// hold delivers a frame again when a new clip reaches back to it).
func (c *recording) add(f capture.Frame) {
	i, found := slices.BinarySearchFunc(c.frames, f.Seq, func(g capture.Frame, seq uint64) int {
		return cmp.Compare(g.Seq, seq)
	})
	if !found {
		c.frames = slices.Insert(c.frames, i, f)
	}
}

// noteLost counts the frames the hold lost since it last looked, and logs
// them: the encoder has fallen behind the camera by more than the ring's
// hold limit.
func (r *Recorder) noteLost() {
	lost := r.hold.Stats().Lost
	if lost == r.lost {
		return
	}
	n := lost - r.lost
	r.lost = lost
	r.count(func(s *Stats) { s.Lost += n })
	st := r.ring.Stats()
	r.log.Warn("clip: the encoder fell behind the camera by more than the ring's hold limit; frames of clips lost",
		"lost", n, "hold_limit", st.HoldLimit, "held", st.Held)
}

// collectAudio copies the chunks of c's sound that are new in the audio
// ring. The ring's samples are shared with it and its other readers, and
// the clip outlives them in the ring: they are copied.
func (r *Recorder) collectAudio(c *recording) {
	if r.opts.Audio == nil {
		return
	}
	if !c.heard {
		c.heard = true
		if oldest, _, n := r.opts.Audio.Span(); n > 0 && oldest.After(c.from) {
			r.log.Debug("clip: the sound does not reach back to the start of the pre-roll; silence until it does",
				"clip", c.id, "wanted", c.from, "oldest", oldest, "short_by", oldest.Sub(c.from))
		}
	}
	for _, a := range r.opts.Audio.Range(c.from, c.end.Add(soundTail)) {
		if a.Seq <= c.audioSeq {
			continue
		}
		c.audioSeq = a.Seq
		a.Samples = slices.Clone(a.Samples)
		c.audio = append(c.audio, a)
	}
}

// soundIn says whether the microphone has delivered c's sound, up to
// soundTail after its end, or delivers none to wait for: no ring, or
// nothing heard since the clip began (no microphone, privacy mode). A
// microphone that stalls mid-clip is waited for up to maxSettle, as the
// camera is.
func (r *Recorder) soundIn(c *recording) bool {
	if r.opts.Audio == nil {
		return true
	}
	_, newest, n := r.opts.Audio.Span()
	return n == 0 || !newest.After(c.from) || !newest.Before(c.end.Add(soundTail))
}

// pruneJPEG forgets encoded frames older than a new clip's pre-roll
// could reach, and all of them once no clip is open.
func (r *Recorder) pruneJPEG() {
	if len(r.open) == 0 {
		r.jpeg = nil
		return
	}
	cut := r.newest.Add(-r.opts.PreRoll - 2*collectEvery)
	for seq, e := range r.jpeg {
		if e.at.Before(cut) {
			delete(r.jpeg, seq)
		}
	}
}

func (r *Recorder) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

// finish muxes c and puts it into the sink.
func (r *Recorder) finish(c *recording, shutdown bool) {
	frames, audio := c.frames, c.audio
	c.frames, c.audio = nil, nil
	missing := 0 // frames within c that never came (lost: see noteLost)
	if len(frames) > 0 {
		missing = max(int(frames[len(frames)-1].Seq-frames[0].Seq+1)-len(frames)-c.skipped, 0)
	}
	count := r.count
	if len(frames) == 0 {
		count(func(s *Stats) { s.Empty++ })
		r.log.Warn("clip: no frames for clip (no camera?); nothing stored", "clip", c.id, "events", c.eventIDs, "from", c.from, "end", c.end)
		return
	}
	size := 0
	for _, f := range frames {
		size += len(f.Data)
	}
	for _, a := range audio {
		size += 2 * len(a.Samples)
	}
	var buf bytes.Buffer
	buf.Grow(size + 64<<10)
	info, err := r.mux.MuxAV(frames, audio, &buf)
	if err != nil {
		count(func(s *Stats) { s.Failed++ })
		r.log.Error("clip: mux", "clip", c.id, "events", c.eventIDs, "err", err)
		return
	}
	m := storage.Meta{
		ID:       c.id,
		EventIDs: c.eventIDs,
		Start:    info.Start,
		End:      info.End,
		Frames:   info.Frames,
		Codec:    info.Codec,
		Width:    info.Width,
		Height:   info.Height,
		Audio:    info.Audio.String(),
	}
	if err := r.sink.Put(m, buf.Bytes()); err != nil {
		count(func(s *Stats) { s.Failed++ })
		r.log.Error("clip: store", "clip", c.id, "events", c.eventIDs, "err", err)
		return
	}
	m.Size = info.Size
	count(func(s *Stats) {
		s.Clips++
		if info.Audio.Rate > 0 {
			s.WithSound++
		}
	})
	r.log.Info("clip: stored", "clip", c.id, "events", c.eventIDs, "start", info.Start,
		"duration", info.Duration().Round(time.Millisecond), "frames", info.Frames,
		"skipped", info.Skipped+c.skipped, "missing", missing, "bytes", info.Size, "cut_short", shutdown)
	if a := info.Audio; a.Rate > 0 && (a.Silence > 0 || a.Overlap > 0 || a.Skipped > 0) {
		r.log.Info("clip: sound incomplete", "clip", c.id, "audio", a.String(),
			"silence", time.Duration(a.Silence*int64(time.Second)/int64(a.Rate)).Round(time.Millisecond),
			"overlap", time.Duration(a.Overlap*int64(time.Second)/int64(a.Rate)).Round(time.Millisecond),
			"skipped_chunks", a.Skipped)
	} else if r.opts.Audio != nil && a.Rate == 0 && len(audio) > 0 {
		r.log.Info("clip: no usable sound for clip", "clip", c.id, "chunks", len(audio))
	}
	select {
	case r.ready <- m:
	default:
		r.log.Warn("clip: nobody reads Ready; notification dropped", "clip", c.id)
	}
}
