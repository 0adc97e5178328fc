package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
)

// Camera is what the hub needs of a camera; *capture.Camera is one.
type Camera interface {
	// Ring is where the camera stores its frames.
	Ring() *capture.Ring
	// Status says whether the camera streams, and in which format.
	Status() capture.Status
	// Next is closed when the next frame has been stored.
	Next() <-chan struct{}
	// Changed is closed when a stream next starts or stops.
	Changed() <-chan struct{}
}

var _ Camera = (*capture.Camera)(nil)

// Viewer kinds, as Subscribe takes them and Stats counts them.
const (
	KindRTSP  = "rtsp"  // an RTSP client
	KindMJPEG = "mjpeg" // an HTTP client of the MJPEG stream
	KindWeb   = "web"   // the local web app's live view
)

// Kinds are the viewer kinds Subscribe accepts.
var Kinds = []string{KindRTSP, KindMJPEG, KindWeb}

// ErrNotJPEG is returned by Latest when the camera streams H.264: there
// is no decoder, so no still image.
var ErrNotJPEG = errors.New("live: the camera streams H.264, not JPEG")

// Options configures a Hub. The zero value is usable: see the defaults on
// each field.
type Options struct {
	Clock  clockwork.Clock // default: the real clock
	Logger *slog.Logger    // default: slog.Default()
	// JPEGQuality is the quality YUYV frames are encoded at, 1..100;
	// default capture.DefaultJPEGQuality.
	JPEGQuality int
	// MaxAge is how old the newest JPEG frame may be to be shown at once
	// to a new viewer (fast start) or returned by Latest. Default 2s.
	MaxAge time.Duration
	// QueueFrames and QueueBytes bound an H.264 viewer's queue. When a
	// frame would pass either bound, the queue is dropped and the viewer
	// resumes at the next keyframe. Defaults 300 frames, 8 MiB. A JPEG
	// viewer's queue always holds at most 2 frames, the newest.
	QueueFrames int
	QueueBytes  int
	// Grace is how long viewers wait for a camera that stopped streaming
	// to come back (a restart after a USB hiccup) before their streams
	// end with ErrNoCamera. Default 5s.
	Grace time.Duration
}

func (o *Options) ensureDefaults() {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.JPEGQuality <= 0 || o.JPEGQuality > 100 {
		o.JPEGQuality = capture.DefaultJPEGQuality
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 2 * time.Second
	}
	if o.QueueFrames <= 0 {
		o.QueueFrames = 300
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 8 << 20
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
}

// jpegQueue is how many frames a JPEG viewer's queue holds.
const jpegQueue = 2

// Stats are the hub's counters, for metrics.
type Stats struct {
	Viewers   map[string]int // viewers now, by kind (every kind present)
	Frames    uint64         // camera frames the hub turned into live frames
	Encoded   uint64         // YUYV frames encoded to JPEG
	Delivered uint64         // frames queued to viewers (one per viewer and frame)
	Dropped   uint64         // frames viewers missed: slow viewer, or H.264 waiting for a keyframe
	Bad       uint64         // camera frames that could not be used (a broken JPEG)
}

// Hub fans the camera's live frames out to viewers. See the package doc.
type Hub struct {
	cam  Camera
	ring *capture.Ring
	opts Options
	log  *slog.Logger
	clk  clockwork.Clock

	wake chan struct{} // cap 1: viewers or privacy changed

	mu       sync.Mutex
	viewers  map[*Viewer]struct{}
	private  bool
	closed   bool           // Run has returned
	sps, pps []byte         // last H.264 parameter sets seen...
	psFormat capture.Format // ...in a stream of this format

	encMu    sync.Mutex
	lastJPEG *Frame // the newest frame turned into JPEG (guarded by encMu)

	frames, encoded, delivered, dropped, bad atomic.Uint64
}

// New returns a hub for cam's frames. It starts nothing: call Run.
func New(cam Camera, opts Options) *Hub {
	opts.ensureDefaults()
	return &Hub{
		cam:     cam,
		ring:    cam.Ring(),
		opts:    opts,
		log:     opts.Logger,
		clk:     opts.Clock,
		wake:    make(chan struct{}, 1),
		viewers: make(map[*Viewer]struct{}),
	}
}

func (h *Hub) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Run hands the camera's frames to the viewers until ctx is done, then
// ends every viewer's stream (ErrClosed) and returns nil. While there is
// no viewer it waits and does no work per frame. Run must not be called
// twice.
func (h *Hub) Run(ctx context.Context) error {
	defer h.shutdown()
	var (
		next, changed <-chan struct{} // registered camera waiters, kept until they fire
		active        bool
		last          uint64           // Seq of the newest frame handled
		grace         clockwork.Timer  // runs while the camera is down
		graceC        <-chan time.Time // grace's channel, nil when none
	)
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	for {
		h.mu.Lock()
		n := len(h.viewers)
		from := ^uint64(0)
		for v := range h.viewers {
			from = min(from, v.after)
		}
		h.mu.Unlock()
		if n == 0 {
			active = false
			if grace != nil {
				grace.Stop()
				grace, graceC = nil, nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-h.wake:
			}
			continue
		}
		if !active {
			active, last = true, from
		}
		// Register before looking, so a frame stored in between wakes us.
		if next == nil {
			next = h.cam.Next()
		}
		if changed == nil {
			changed = h.cam.Changed()
		}
		st := h.cam.Status()
		switch {
		case st.Available:
			if grace != nil {
				grace.Stop()
				grace, graceC = nil, nil
			}
			h.checkStream(st)
			last = h.pump(st.Format, last)
		case grace == nil:
			grace = h.clk.NewTimer(h.opts.Grace)
			graceC = grace.Chan()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
		case <-next:
			next = nil
		case <-changed:
			changed = nil
		case <-graceC:
			grace, graceC = nil, nil
			h.endAll(ErrNoCamera)
		}
	}
}

// checkStream ends the streams of another format than the camera's, and
// makes H.264 viewers of a restarted stream wait for a keyframe.
func (h *Hub) checkStream(st capture.Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for v := range h.viewers {
		switch {
		case st.Format != v.format:
			h.endLocked(v, ErrFormatChanged)
		case !st.Since.Equal(v.since):
			v.since = st.Since
			v.restarted()
		}
	}
}

// endAll ends every viewer's stream with err.
func (h *Hub) endAll(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for v := range h.viewers {
		h.endLocked(v, err)
	}
}

// pump turns the frames stored after Seq last into live frames, hands them
// to the viewers, and returns the Seq of the newest frame handled.
func (h *Hub) pump(f capture.Format, last uint64) uint64 {
	codec, ok := codecOf(f)
	if !ok || h.ring.Seq() <= last {
		return last
	}
	if codec == JPEG {
		// Only the newest frame matters: a hub that fell behind skips.
		fr, ok := h.ring.Latest()
		if !ok || fr.Seq <= last {
			return last
		}
		lf, err := h.jpeg(fr)
		if err != nil {
			h.badFrame(err)
			return fr.Seq
		}
		h.deliver([]*Frame{lf}, []capture.Format{fr.Format})
		return fr.Seq
	}
	// H.264: every access unit, in order. Frames the ring lost are gaps
	// that the viewers see (Seq not consecutive) and recover from.
	frs := h.ring.After(last)
	if len(frs) == 0 {
		return last
	}
	out := make([]*Frame, len(frs))
	formats := make([]capture.Format, len(frs))
	for i, fr := range frs {
		out[i] = h.h264Frame(fr)
		formats[i] = fr.Format
	}
	h.deliver(out, formats)
	return frs[len(frs)-1].Seq
}

func (h *Hub) badFrame(err error) {
	if h.bad.Add(1) == 1 {
		h.log.Warn("live: unusable camera frame (further ones only counted)", "err", err)
	} else {
		h.log.Debug("live: unusable camera frame", "err", err)
	}
}

// deliver queues frames (with their capture formats) to every viewer that
// has not had them.
func (h *Hub) deliver(frames []*Frame, formats []capture.Format) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for v := range h.viewers {
		for i, f := range frames {
			if f.Seq <= v.after {
				continue
			}
			if formats[i] != v.format {
				h.endLocked(v, ErrFormatChanged)
				break
			}
			v.offer(f)
		}
	}
}

// h264Frame wraps one access unit, noting its parameter sets.
func (h *Hub) h264Frame(fr capture.Frame) *Frame {
	h.frames.Add(1)
	a := parseAU(fr.Data)
	if a.sps != nil || a.pps != nil {
		h.mu.Lock()
		h.notePS(fr.Format, a.sps, a.pps)
		h.mu.Unlock()
	}
	return &Frame{Data: fr.Data, Codec: H264, Width: fr.Format.Width, Height: fr.Format.Height, At: fr.At, Seq: fr.Seq, Key: a.key}
}

// notePS keeps copies of new parameter sets; the caller holds h.mu.
func (h *Hub) notePS(f capture.Format, sps, pps []byte) {
	if f != h.psFormat {
		h.psFormat, h.sps, h.pps = f, nil, nil
	}
	if sps != nil && !bytes.Equal(sps, h.sps) {
		h.sps = bytes.Clone(sps)
	}
	if pps != nil && !bytes.Equal(pps, h.pps) {
		h.pps = bytes.Clone(pps)
	}
}

// jpeg returns fr as a live JPEG frame, encoding a YUYV frame only if it
// has not been encoded yet.
func (h *Hub) jpeg(fr capture.Frame) (*Frame, error) {
	h.encMu.Lock()
	defer h.encMu.Unlock()
	if h.lastJPEG != nil && h.lastJPEG.Seq == fr.Seq {
		return h.lastJPEG, nil
	}
	data, err := capture.EncodeJPEG(fr, h.opts.JPEGQuality)
	if fr.Format.PixelFormat == capture.PixYUYV {
		h.encoded.Add(1)
	}
	if err != nil {
		return nil, fmt.Errorf("live: frame %d: %w", fr.Seq, err)
	}
	h.frames.Add(1)
	lf := &Frame{Data: data, Codec: JPEG, Width: fr.Format.Width, Height: fr.Format.Height, At: fr.At, Seq: fr.Seq, Key: true}
	if h.lastJPEG == nil || lf.Seq > h.lastJPEG.Seq {
		h.lastJPEG = lf
	}
	return lf, nil
}

// codecOf returns the live codec of a camera format.
func codecOf(f capture.Format) (Codec, bool) {
	switch f.PixelFormat {
	case capture.PixMJPEG, capture.PixYUYV:
		return JPEG, true
	case capture.PixH264:
		return H264, true
	}
	return "", false
}

// refusal returns why no picture may be shown now, or nil; the caller
// holds h.mu.
func (h *Hub) refusal() error {
	switch {
	case h.closed:
		return ErrClosed
	case h.private:
		return ErrPrivate
	}
	return nil
}

// stream returns the camera's format and live codec if it streams.
func (h *Hub) stream(op string) (capture.Status, Codec, error) {
	h.mu.Lock()
	err := h.refusal()
	h.mu.Unlock()
	if err != nil {
		return capture.Status{}, "", err
	}
	st := h.cam.Status()
	if !st.Available {
		return st, "", ErrNoCamera
	}
	codec, ok := codecOf(st.Format)
	if !ok {
		return st, "", fmt.Errorf("live: %s: camera format %s cannot be streamed: %w", op, st.Format, ErrNoCamera)
	}
	return st, codec, nil
}

// Subscribe adds a viewer of the given kind (KindRTSP, KindMJPEG or
// KindWeb). It returns ErrPrivate in privacy mode, ErrNoCamera when the
// camera is not streaming, and ErrClosed after Run has returned.
//
// Fast start: a JPEG viewer's first frame is the newest buffered one, if
// it is not older than Options.MaxAge; an H.264 viewer's first frames are
// those from the newest keyframe in the ring on (or, if the ring holds
// none, the next keyframe).
func (h *Hub) Subscribe(kind string) (*Viewer, error) {
	if !validKind(kind) {
		return nil, fmt.Errorf("live: subscribe: unknown viewer kind %q (want rtsp, mjpeg or web)", kind)
	}
	st, codec, err := h.stream("subscribe")
	if err != nil {
		return nil, err
	}
	v := &Viewer{
		h:      h,
		kind:   kind,
		format: st.Format,
		since:  st.Since,
		notify: make(chan struct{}, 1),
	}
	v.info = Info{Codec: codec, Width: st.Format.Width, Height: st.Format.Height, FPS: st.Format.FPS}
	if codec == JPEG {
		v.q = make([]*Frame, jpegQueue)
		// Encode (if need be) before taking h.mu: the hub may deliver
		// meanwhile, and this viewer only wants frames after this one.
		v.after = h.ring.Seq()
		if fr, ok := h.ring.Latest(); ok && fr.Format == st.Format && h.clk.Since(fr.At) <= h.opts.MaxAge {
			if lf, err := h.jpeg(fr); err == nil {
				v.after = 0
				v.offer(lf)
			} else {
				h.badFrame(err)
			}
		}
	} else {
		v.q = make([]*Frame, h.opts.QueueFrames)
		v.maxBytes = h.opts.QueueBytes
		v.needKey = true
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.refusal(); err != nil {
		return nil, err
	}
	if codec == H264 {
		// Read the ring under h.mu: the hub delivers under it too, so the
		// viewer gets every access unit after the ones read here.
		h.prefillH264(v)
		v.info.SPS, v.info.PPS = h.paramSetsLocked(st.Format)
	}
	h.viewers[v] = struct{}{}
	h.poke()
	h.log.Debug("live: viewer joined", "kind", kind, "codec", codec)
	return v, nil
}

// prefillH264 queues the frames from the newest keyframe in the ring on;
// the caller holds h.mu.
func (h *Hub) prefillH264(v *Viewer) {
	v.after = h.ring.Seq()
	k, ok := h.ring.FindLast(func(data []byte, _ time.Time, f capture.Format) bool {
		return f == v.format && parseAU(data).key
	})
	if !ok {
		return
	}
	frs := h.ring.After(k - 1)
	if len(frs) == 0 || frs[0].Seq != k {
		return // evicted meanwhile: wait for the next keyframe
	}
	v.after = k - 1
	for _, fr := range frs {
		if fr.Format != v.format {
			break
		}
		a := parseAU(fr.Data)
		if a.sps != nil || a.pps != nil {
			h.notePS(fr.Format, a.sps, a.pps)
		}
		v.offer(&Frame{Data: fr.Data, Codec: H264, Width: fr.Format.Width, Height: fr.Format.Height, At: fr.At, Seq: fr.Seq, Key: a.key})
	}
}

// paramSetsLocked returns copies of the newest SPS and PPS of a stream
// of format f, looking in the ring if the hub has seen none; the caller
// holds h.mu.
func (h *Hub) paramSetsLocked(f capture.Format) (sps, pps []byte) {
	if h.psFormat != f || h.sps == nil || h.pps == nil {
		h.ring.FindLast(func(data []byte, _ time.Time, ff capture.Format) bool {
			if ff != f {
				return false
			}
			a := parseAU(data)
			if a.sps == nil || a.pps == nil {
				return false
			}
			h.notePS(f, a.sps, a.pps)
			return true
		})
	}
	if h.psFormat != f {
		return nil, nil
	}
	return bytes.Clone(h.sps), bytes.Clone(h.pps)
}

func validKind(kind string) bool {
	for _, k := range Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// SetPrivate switches privacy mode. On: every viewer's stream ends
// (ErrPrivate) and Subscribe, Info and Latest refuse. Off: they work
// again.
func (h *Hub) SetPrivate(on bool) {
	h.mu.Lock()
	changed := h.private != on
	h.private = on
	if on {
		for v := range h.viewers {
			h.endLocked(v, ErrPrivate)
		}
	}
	h.mu.Unlock()
	h.poke()
	if changed {
		h.log.Info("live: privacy mode", "on", on)
	}
}

// Info describes the live stream now. For H.264 it holds the newest
// parameter sets the hub has seen, or found in the ring (nil if none yet).
func (h *Hub) Info() (Info, error) {
	st, codec, err := h.stream("info")
	if err != nil {
		return Info{}, err
	}
	info := Info{Codec: codec, Width: st.Format.Width, Height: st.Format.Height, FPS: st.Format.FPS}
	if codec == H264 {
		h.mu.Lock()
		info.SPS, info.PPS = h.paramSetsLocked(st.Format)
		h.mu.Unlock()
	}
	return info, nil
}

// Latest returns the newest buffered frame as a JPEG (a YUYV frame is
// encoded, once). It returns ErrNotJPEG for an H.264 camera, and
// ErrNoCamera if no frame is newer than Options.MaxAge.
func (h *Hub) Latest() (*Frame, error) {
	st, codec, err := h.stream("latest")
	if err != nil {
		return nil, err
	}
	if codec != JPEG {
		return nil, ErrNotJPEG
	}
	fr, ok := h.ring.Latest()
	if !ok || fr.Format != st.Format {
		return nil, fmt.Errorf("live: latest: no frame yet: %w", ErrNoCamera)
	}
	if age := h.clk.Since(fr.At); age > h.opts.MaxAge {
		return nil, fmt.Errorf("live: latest: newest frame is %s old (max %s): %w", age.Round(time.Millisecond), h.opts.MaxAge, ErrNoCamera)
	}
	return h.jpeg(fr)
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	s := Stats{
		Viewers:   make(map[string]int, len(Kinds)),
		Frames:    h.frames.Load(),
		Encoded:   h.encoded.Load(),
		Delivered: h.delivered.Load(),
		Dropped:   h.dropped.Load(),
		Bad:       h.bad.Load(),
	}
	for _, k := range Kinds {
		s.Viewers[k] = 0
	}
	h.mu.Lock()
	for v := range h.viewers {
		s.Viewers[v.kind]++
	}
	h.mu.Unlock()
	return s
}

// endLocked ends v's stream with err and forgets it; the caller holds
// h.mu.
func (h *Hub) endLocked(v *Viewer, err error) {
	delete(h.viewers, v)
	v.end(err)
}

// shutdown ends every stream and refuses new ones.
func (h *Hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.endAll(ErrClosed)
}

// remove forgets a closed viewer.
func (h *Hub) remove(v *Viewer) {
	h.mu.Lock()
	_, ok := h.viewers[v]
	delete(h.viewers, v)
	h.mu.Unlock()
	if ok {
		h.poke()
	}
}
