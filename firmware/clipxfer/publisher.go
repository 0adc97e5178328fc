package clipxfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"slices"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
	"github.com/doorbelld/doorbelld/firmware/ratelog"
)

// Store is where the Publisher finds clips; *storage.Store is one. A
// clip's manifest comes from its metadata (Meta.Digest, computed by Put);
// Open is only for the chunks a receiver asks for.
type Store interface {
	List() []storage.Meta
	Lookup(id string) (storage.Meta, bool)
	Open(id string) (io.ReadCloser, error)
	// Digest returns clip id's digest for chunks of chunkBytes. It reads
	// the clip only when its Meta has no digest of that chunk size (a
	// clip stored before digests existed), and keeps what it computed.
	Digest(ctx context.Context, id string, chunkBytes int) (storage.Digest, error)
}

var _ Store = (*storage.Store)(nil)

// Defaults of PublisherOptions.
const (
	DefaultWindow    = 4
	MaxWindow        = 64
	DefaultReconcile = time.Minute
	// DefaultResend is just under two of a receiver's RetryAfter: a
	// receiver that lost a chunk asks for it again every RetryAfter, so at
	// least every other time Resend has passed since it was last sent.
	DefaultResend = 2*DefaultRetryAfter - time.Second
	// DefaultClipBudget: a clip's chunks may be sent 4 times over in an
	// hour (4 receivers pulling it whole, or fewer losing some).
	DefaultClipBudget = 4
	// DefaultMaxBytesPerHour bounds what all clips together may send in an
	// hour: a week of a busy doorbell's clips.
	DefaultMaxBytesPerHour = 2 << 30
)

// PublisherOptions configure a Publisher.
type PublisherOptions struct {
	// Base is <mqtt.topic_prefix>/<device.id>.
	Base string
	// Client is the daemon's MQTT connection (*mqttpub.Client). Publish
	// must not block for long (paho's does not) and its token completes
	// on the broker's PUBACK.
	Client mqttpub.Publisher
	Store  Store
	// ChunkBytes is the chunk payload size, MinChunkBytes to
	// MaxChunkBytes; default DefaultChunkBytes. The store must compute
	// its digests for the same size (storage.Options.ChunkBytes), or
	// every clip is read once more to compute CRCs for this one.
	ChunkBytes int
	// Window is how many of the Publisher's messages (chunks and
	// manifests) may await their PUBACK at once, 1 to MaxWindow; default
	// DefaultWindow. A message published by anyone else on the same
	// connection (an event) waits behind at most Window×ChunkBytes.
	Window int
	// Reconcile is how often the offered clips are compared with the
	// store's (clips removed by retention are withdrawn); default 1m. An
	// Offer reconciles at once.
	Reconcile time.Duration
	// OnDelivered, if set, is called from Run's goroutine when a receiver
	// confirms it stored clip id with the right sha256 (and, with an
	// OwnerKey, a MAC that verifies). Once it returns, a clip no longer in
	// the store is withdrawn at once.
	OnDelivered func(id string)

	// Resend: a chunk asked for again less than Resend after it was sent
	// is sent again once (lost or corrupted on its way), then not before
	// Resend has passed since its last send; a chunk asked for while it
	// is queued or awaiting its PUBACK is not sent again. Default
	// DefaultResend (9s: every other re-ask of a receiver with the
	// default RetryAfter is served); negative: every want is served.
	Resend time.Duration
	// ClipBudget bounds what one clip may send in an hour: ClipBudget ×
	// its size (at least 1×); wants beyond are dropped, counted
	// (PublisherStats.OverBudget) and logged once a minute per clip.
	// Default DefaultClipBudget (4); negative: no bound.
	ClipBudget float64
	// MaxBytesPerHour bounds what all clips together may send in an hour;
	// wants beyond are dropped as over ClipBudget. Default
	// DefaultMaxBytesPerHour (2 GiB); negative: no bound.
	MaxBytesPerHour int64

	// OwnerKey, if set, attributes done messages: only a done whose MAC
	// (mqttapi.ClipDone.MAC) verifies with it counts as Delivered and
	// calls OnDelivered; one without (an old receiver, or anyone on the
	// broker) is ignored, counted (DonesRefused) and logged once a minute
	// per clip.
	OwnerKey ownerkey.Key
	// RequireOwnerDone refuses every done whose MAC does not verify with
	// OwnerKey, so every done when OwnerKey is unset: set it when a done
	// frees the clip (storage.mode ram), so that no forged done can. A
	// refused done leaves the clip stored and offered.
	RequireOwnerDone bool

	Logger *slog.Logger
	Clock  clockwork.Clock
}

func (o *PublisherOptions) ensureDefaults() {
	if o.ChunkBytes == 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	o.ChunkBytes = min(max(o.ChunkBytes, MinChunkBytes), MaxChunkBytes)
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	o.Window = min(o.Window, MaxWindow)
	if o.Reconcile <= 0 {
		o.Reconcile = DefaultReconcile
	}
	if o.Resend == 0 {
		o.Resend = DefaultResend
	}
	switch {
	case o.ClipBudget == 0:
		o.ClipBudget = DefaultClipBudget
	case o.ClipBudget > 0 && o.ClipBudget < 1:
		o.ClipBudget = 1 // every clip may be sent once
	}
	if o.MaxBytesPerHour == 0 {
		o.MaxBytesPerHour = DefaultMaxBytesPerHour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// PublisherStats are a Publisher's counters.
type PublisherStats struct {
	Offered        int    // clips whose manifest is published
	Hashing        int    // clips stored without a digest, waiting to be read for one
	Queued         int    // manifests, withdrawals and requests waiting
	Manifests      uint64 // manifest publishes (including withdrawals)
	ManifestsAcked uint64 // of those, acknowledged by the broker
	Withdrawn      uint64 // clips withdrawn
	ChunksSent     uint64 // chunks handed to the client
	ChunksAcked    uint64 // of those, acknowledged by the broker
	BytesSent      uint64 // chunk payload bytes handed to the client
	Delivered      uint64 // done messages with the right sha256 (and MAC, with an OwnerKey)
	InFlight       int    // messages awaiting their PUBACK now
	Errors         uint64 // failed publishes, clips unreadable, damaged or without a valid manifest

	Wants        uint64 // want messages taken
	Pending      int    // chunks asked for and not yet sent
	ChunksJoined uint64 // chunks asked for again while queued, awaiting their PUBACK or sent less than Resend ago: not sent again
	OverBudget   uint64 // chunks asked for beyond ClipBudget or MaxBytesPerHour: dropped
	DonesRefused uint64 // done messages for an offered clip without a MAC that verifies (OwnerKey, RequireOwnerDone): not acted on
}

// Publisher is the device's side of the clip transfer: it announces every
// stored clip with a retained manifest and sends the chunks receivers ask
// for, with at most Window messages awaiting their PUBACK, so the
// daemon's events on the same connection are never queued behind a clip.
//
// Wiring, in the daemon:
//
//	subscribe Filters(base)   → HandleMessage(topic, payload, retained)
//	every (re)connect         → Kick()
//	a clip was stored         → Offer(meta)
//	a part:                     Run(ctx)
type Publisher struct {
	o    PublisherOptions
	wake chan struct{} // cap 1: the inbox has something

	mu    sync.Mutex
	in    inbox
	stats PublisherStats

	// Test hooks (nil in production).
	corrupt  func(id string, n int, b []byte) // just before a chunk is published
	manifest func(m *Manifest)                // after a manifest is built
}

// inbox is what HandleMessage, Offer and Kick leave for Run.
type inbox struct {
	kick   bool
	offers []string
	wants  map[string][][2]int
	nwants int // ranges in wants
	dones  []doneMsg
	stale  []string // retained manifests seen for clips the store lacks
}

type doneMsg struct{ id, sum, mac string }

// maxInboxRanges bounds the want ranges waiting for Run.
const maxInboxRanges = 4096

// NewPublisher returns a Publisher; it starts nothing.
func NewPublisher(o PublisherOptions) *Publisher {
	o.ensureDefaults()
	return &Publisher{o: o, wake: make(chan struct{}, 1)}
}

// Offer announces a clip just stored (its manifest is built from the
// store's metadata, with the digest Put computed). It never blocks.
func (p *Publisher) Offer(m storage.Meta) {
	p.mu.Lock()
	p.in.offers = append(p.in.offers, m.ID)
	p.mu.Unlock()
	p.signal()
}

// Kick republishes every manifest (the broker may have lost its retained
// messages) and resumes sending; call it after every (re)connect. It never
// blocks.
func (p *Publisher) Kick() {
	p.mu.Lock()
	p.in.kick = true
	p.mu.Unlock()
	p.signal()
}

func (p *Publisher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// HandleMessage takes a message on one of Filters(base). It never blocks;
// the error (a malformed or retained request) is for the log.
func (p *Publisher) HandleMessage(topic string, payload []byte, retained bool) error {
	id, kind, _, ok := ParseTopic(p.o.Base, topic)
	if !ok {
		return fmt.Errorf("clip transfer: topic %s: %w", quote(topic), ErrBadMessage)
	}
	switch kind {
	case KindManifest:
		// A retained manifest from before a restart: is the clip still
		// here? (Live copies of our own publishes are not retained.)
		if !retained || len(payload) == 0 {
			return nil
		}
		if _, ok := p.o.Store.Lookup(id); ok {
			return nil
		}
		p.mu.Lock()
		p.in.stale = append(p.in.stale, id)
		p.mu.Unlock()
	case KindWant:
		if retained {
			return fmt.Errorf("clip %s: retained want ignored: %w", id, ErrBadMessage)
		}
		w, err := ParseWant(payload)
		if err != nil {
			return fmt.Errorf("clip %s: %w", id, err)
		}
		p.mu.Lock()
		if p.in.nwants+len(w.Chunks) > maxInboxRanges {
			p.mu.Unlock()
			return fmt.Errorf("clip %s: too many wants waiting, dropped: %w", id, ErrBadMessage)
		}
		if p.in.wants == nil {
			p.in.wants = map[string][][2]int{}
		}
		p.in.wants[id] = append(p.in.wants[id], w.Chunks...)
		p.in.nwants += len(w.Chunks)
		p.stats.Wants++
		p.mu.Unlock()
	case KindDone:
		if retained {
			return fmt.Errorf("clip %s: retained done ignored: %w", id, ErrBadMessage)
		}
		d, err := ParseDone(payload)
		if err != nil {
			return fmt.Errorf("clip %s: %w", id, err)
		}
		p.mu.Lock()
		if len(p.in.dones) < 1024 {
			p.in.dones = append(p.in.dones, doneMsg{id, d.SHA256, d.MAC})
		}
		p.mu.Unlock()
	default:
		return nil
	}
	p.signal()
	return nil
}

// Stats returns the Publisher's counters.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.Queued += p.in.size()
	return st
}

// size counts the requests waiting.
func (in *inbox) size() int {
	n := len(in.offers) + in.nwants + len(in.dones) + len(in.stale)
	if in.kick {
		n++
	}
	return n
}

func (p *Publisher) count(f func(s *PublisherStats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

// offer is one announced clip, owned by Run.
type offer struct {
	m       Manifest
	wanted  []uint64 // bit n: chunk n is asked for
	nwanted int
	queued  int64 // bytes of the wanted chunks
	lo      int   // no wanted chunk below this
	tx      *sendState
}

// want asks for chunk n; it reports the bytes added to the queue.
func (c *offer) want(n int) int64 {
	if bit(c.wanted, n) {
		return 0
	}
	setBit(c.wanted, n, true)
	c.nwanted++
	c.lo = min(c.lo, n)
	l := int64(c.m.ChunkLen(n))
	c.queued += l
	return l
}

// next returns and clears the lowest wanted chunk.
func (c *offer) next() int {
	for w := c.lo / 64; w < len(c.wanted); w++ {
		if c.wanted[w] != 0 {
			n := w*64 + bits.TrailingZeros64(c.wanted[w])
			c.wanted[w] &^= 1 << (n % 64)
			c.nwanted--
			c.queued -= int64(c.m.ChunkLen(n))
			c.lo = n + 1
			return n
		}
	}
	c.nwanted, c.queued, c.lo = 0, 0, len(c.wanted)*64
	return -1
}

// state returns the clip's sendState, made on first use.
func (c *offer) state() *sendState {
	if c.tx == nil {
		c.tx = &sendState{}
	}
	return c.tx
}

// outMsg is a manifest or withdrawal waiting to go out.
type outMsg struct {
	id      string
	payload []byte // nil: withdraw
}

// pending is a message awaiting its PUBACK.
type pending struct {
	tok   paho.Token
	id    string
	chunk int    // -1 for a manifest
	buf   []byte // the chunk's buffer, reusable after a successful PUBACK
}

// run is the state Run owns.
type run struct {
	clips    map[string]*offer
	active   []string            // clips with wanted chunks, oldest request first
	waiting  map[string][][2]int // wants for clips being hashed
	queue    []storage.Meta      // clips without a digest, to hash, the next first
	hashing  string              // id being hashed, or ""
	bad      map[string]bool     // clips not offered while they stay in the store (see unofferable)
	control  []outMsg            // manifests to publish
	inflight []pending           // oldest first
	free     [][]byte            // chunk buffers not in use
	cur      struct {            // the clip reader, kept across chunks
		id  string
		rc  io.ReadCloser
		pos int64
	}
	retryAt time.Time // after a failed publish, send nothing before this
	queued  int64     // bytes of the chunks asked for, all clips
	spent   hourly    // bytes sent, all clips
	logs    *ratelog.Keys
}

type hashResult struct {
	meta storage.Meta
	d    storage.Digest
	err  error
}

// Run announces the store's clips and serves wants until ctx is done; it
// returns nil.
func (p *Publisher) Run(ctx context.Context) error {
	hashReq := make(chan storage.Meta)
	hashRes := make(chan hashResult)
	hctx, hcancel := context.WithCancel(ctx)
	var hwg sync.WaitGroup
	hwg.Add(1)
	go func() {
		defer hwg.Done()
		for {
			select {
			case <-hctx.Done():
				return
			case meta := <-hashReq:
				d, err := p.o.Store.Digest(hctx, meta.ID, p.o.ChunkBytes)
				select {
				case hashRes <- hashResult{meta, d, err}:
				case <-hctx.Done():
					return
				}
			}
		}
	}()
	r := &run{clips: map[string]*offer{}, waiting: map[string][][2]int{}, bad: map[string]bool{}, logs: newLogs()}
	defer func() {
		hcancel()
		hwg.Wait()
		r.closeReader()
	}()

	p.reconcile(r, nil)
	reconcile := p.o.Clock.NewTicker(p.o.Reconcile)
	defer reconcile.Stop()
	if p.o.RequireOwnerDone && len(p.o.OwnerKey) == 0 {
		p.o.Logger.Warn("clipxfer: done messages must be signed, but there is no owner key: no clip is freed by a receiver")
	}
	for {
		p.reap(r) // first: a want that came after a chunk's PUBACK is judged knowing it
		p.drain(r)
		p.send(r)
		pending := 0
		for _, id := range r.active {
			pending += r.clips[id].nwanted
		}
		p.mu.Lock()
		p.stats.InFlight, p.stats.Queued, p.stats.Hashing = len(r.inflight), len(r.control), len(r.queue)
		p.stats.Pending = pending
		if r.hashing != "" {
			p.stats.Hashing++
		}
		p.mu.Unlock()

		var hq chan<- storage.Meta
		var next storage.Meta
		if r.hashing == "" && len(r.queue) > 0 {
			hq, next = hashReq, r.queue[0]
		}
		var acked <-chan struct{}
		if len(r.inflight) > 0 {
			acked = r.inflight[0].tok.Done()
		}
		var poll <-chan time.Time
		if p.hasWork(r) && len(r.inflight) < p.o.Window {
			// Disconnected or backing off: look again soon.
			poll = p.o.Clock.After(200 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case <-acked:
		case <-poll:
		case <-reconcile.Chan():
			p.reconcile(r, nil)
			p.forget(r)
		case hq <- next:
			r.hashing = next.ID
			r.queue = r.queue[1:]
		case res := <-hashRes:
			r.hashing = ""
			p.hashed(r, res)
		}
	}
}

func (p *Publisher) hasWork(r *run) bool { return len(r.control) > 0 || len(r.active) > 0 }

// drain applies what the inbox holds.
func (p *Publisher) drain(r *run) {
	p.mu.Lock()
	in := p.in
	p.in = inbox{}              // wants made again only when one comes
	p.stats.Queued += in.size() // until Run counts again, after handling them
	p.mu.Unlock()

	if in.kick {
		ids := make([]string, 0, len(r.clips))
		for id := range r.clips {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			r.queueControl(id, r.clips[id].m.Marshal())
		}
	}
	if len(in.offers) > 0 {
		p.reconcile(r, in.offers)
	}
	for _, id := range in.stale {
		if _, ok := p.o.Store.Lookup(id); !ok {
			p.withdraw(r, id, "its retained manifest outlived the clip")
		}
	}
	for id, ranges := range in.wants {
		c, ok := r.clips[id]
		if !ok {
			if _, inStore := p.o.Store.Lookup(id); !inStore {
				// Anyone may ask for any id: withdraw (and log) each at
				// most once a minute.
				if r.logs.Allow(p.o.Clock.Now(), "unknown "+id).OK {
					p.withdraw(r, id, "asked for, but not in the store")
				}
				continue
			}
			if r.bad[id] {
				continue // withdrawn, and said why
			}
			// Being (or about to be) hashed: keep the want until then.
			r.waiting[id] = append(r.waiting[id], ranges...)
			p.enqueue(r, id, true)
			continue
		}
		p.applyWant(r, c, ranges)
	}
	for _, d := range in.dones {
		c, ok := r.clips[d.id]
		if !ok {
			continue
		}
		if !p.ownerDone(d) {
			p.count(func(s *PublisherStats) { s.DonesRefused++ })
			if p.o.RequireOwnerDone {
				p.logLimited(r, slog.LevelWarn, "done", d.id, "clipxfer: done refused: not signed with the owner key; the clip stays", "has_mac", d.mac != "")
			} else {
				p.logLimited(r, slog.LevelInfo, "done", d.id, "clipxfer: done ignored: not signed with the owner key", "has_mac", d.mac != "")
			}
			continue
		}
		if d.sum != c.m.SHA256 {
			p.logLimited(r, slog.LevelWarn, "sha256", d.id, "clipxfer: a receiver confirmed clip with another sha256", "sha256", d.sum, "want", c.m.SHA256)
			continue
		}
		p.count(func(s *PublisherStats) { s.Delivered++ })
		p.o.Logger.Debug("clipxfer: clip delivered", "id", d.id)
		if p.o.OnDelivered != nil {
			p.o.OnDelivered(d.id)
		}
		if _, ok := p.o.Store.Lookup(d.id); !ok {
			p.withdraw(r, d.id, "delivered and removed from the store")
		}
	}
}

// ownerDone reports whether done d is the owner's, as far as the options
// ask: its MAC verifies with OwnerKey; without a key, unless
// RequireOwnerDone, every done is.
func (p *Publisher) ownerDone(d doneMsg) bool {
	if len(p.o.OwnerKey) == 0 {
		return !p.o.RequireOwnerDone
	}
	return VerifyDone(p.o.OwnerKey, d.id, Done{SHA256: d.sum, MAC: d.mac})
}

// applyWant asks for the chunks of ranges of clip c that are to be sent
// (see limits.go): not those queued or awaiting their PUBACK, nor those
// sent again less than Resend ago, nor those beyond the budgets.
func (p *Publisher) applyWant(r *run, c *offer, ranges [][2]int) {
	had := c.nwanted > 0
	now := p.o.Clock.Now()
	tx := c.state()
	resend := p.o.Resend
	var clipLeft, allLeft int64 = -1, -1 // bytes that may still be queued; -1: no bound
	if p.o.ClipBudget > 0 {
		clipLeft = max(0, int64(p.o.ClipBudget*float64(c.m.Size))-tx.spent.sum(now)-c.queued)
	}
	if p.o.MaxBytesPerHour > 0 {
		allLeft = max(0, p.o.MaxBytesPerHour-r.spent.sum(now)-r.queued)
	}
	var joined, dropped uint64
	for _, rg := range mergeRanges(ranges, c.m.Chunks) {
		for n := rg[0]; n <= rg[1]; n++ {
			if bit(c.wanted, n) {
				joined++
				continue
			}
			early := false
			if resend >= 0 && tx.sentAt != nil && tx.sentAt[n] != 0 {
				switch age := time.Duration(now.UnixNano() - tx.sentAt[n]); {
				case bit(tx.flying, n):
					// Not yet acknowledged: the receiver cannot have
					// missed it yet.
					joined++
					continue
				case age < resend && bit(tx.early, n):
					joined++
					continue
				case age < resend:
					early = true
				}
			}
			l := int64(c.m.ChunkLen(n))
			if (clipLeft >= 0 && l > clipLeft) || (allLeft >= 0 && l > allLeft) {
				dropped++
				continue
			}
			if clipLeft >= 0 {
				clipLeft -= l
			}
			if allLeft >= 0 {
				allLeft -= l
			}
			r.queued += c.want(n)
			if tx.early != nil {
				setBit(tx.early, n, early)
			}
		}
	}
	if joined > 0 || dropped > 0 {
		p.count(func(s *PublisherStats) { s.ChunksJoined += joined; s.OverBudget += dropped })
	}
	if dropped > 0 {
		p.logLimited(r, slog.LevelWarn, "budget", c.m.ID, "clipxfer: send budget spent; wants dropped",
			"chunks_dropped", dropped, "clip_bytes_last_hour", tx.spent.sum(now), "clip_budget", p.clipBudget(c),
			"all_bytes_last_hour", r.spent.sum(now), "max_bytes_per_hour", p.o.MaxBytesPerHour)
	}
	if !had && c.nwanted > 0 {
		r.active = append(r.active, c.m.ID)
	}
}

// clipBudget is what clip c may send in an hour; -1: no bound.
func (p *Publisher) clipBudget(c *offer) int64 {
	if p.o.ClipBudget <= 0 {
		return -1
	}
	return int64(p.o.ClipBudget * float64(c.m.Size))
}

// rewant asks again for chunk n of clip c, whose publish failed: no
// budget or join applies (its bytes were counted when it was sent).
func (p *Publisher) rewant(r *run, c *offer, n int) {
	had := c.nwanted > 0
	r.queued += c.want(n)
	if !had {
		r.active = append(r.active, c.m.ID)
	}
}

// forget frees what clips idle for a while keep: the per-chunk send times
// once Resend has passed since the last send, and the budget an hour
// after.
func (p *Publisher) forget(r *run) {
	now := p.o.Clock.Now()
	for _, c := range r.clips {
		tx := c.tx
		if tx == nil || c.nwanted > 0 || tx.nflying > 0 {
			continue
		}
		idle := now.Sub(tx.last)
		switch {
		case idle >= time.Hour:
			c.tx = nil
		case idle >= max(p.o.Resend, 0) && tx.sentAt != nil:
			tx.sentAt, tx.early, tx.flying = nil, nil, nil
		}
	}
}

// reconcile compares the offered clips with the store's: clips gone are
// withdrawn, clips new are announced (or, without a digest, queued for
// hashing). urgent ids (just offered) go first.
func (p *Publisher) reconcile(r *run, urgent []string) {
	list := p.o.Store.List()
	present := make(map[string]storage.Meta, len(list))
	for _, m := range list {
		present[m.ID] = m
	}
	for id := range r.clips {
		if _, ok := present[id]; !ok {
			p.withdraw(r, id, "removed from the store")
		}
	}
	for id := range r.bad {
		if _, ok := present[id]; !ok {
			delete(r.bad, id)
		}
	}
	// Newest first: the clip of the last ring is the one wanted.
	for i := len(list) - 1; i >= 0; i-- {
		p.enqueue(r, list[i].ID, false)
	}
	for i := len(urgent) - 1; i >= 0; i-- {
		if _, ok := present[urgent[i]]; ok {
			p.enqueue(r, urgent[i], true)
		}
	}
}

// enqueue announces clip id at once from its digest unless it is offered
// or not to be offered; a clip without a digest for ChunkBytes is queued
// for hashing instead.
func (p *Publisher) enqueue(r *run, id string, urgent bool) {
	if _, ok := r.clips[id]; ok || r.hashing == id || r.bad[id] {
		return
	}
	if i := slices.IndexFunc(r.queue, func(m storage.Meta) bool { return m.ID == id }); i >= 0 {
		if urgent && i > 0 {
			m := r.queue[i]
			r.queue = slices.Insert(slices.Delete(r.queue, i, i+1), 0, m)
		}
		return
	}
	meta, ok := p.o.Store.Lookup(id)
	if !ok {
		return
	}
	if d := meta.Digest; d != nil && d.ChunkBytes == p.o.ChunkBytes {
		p.offerDigest(r, meta, *d)
		return
	}
	if urgent {
		r.queue = slices.Insert(r.queue, 0, meta)
	} else {
		r.queue = append(r.queue, meta)
	}
}

func (p *Publisher) hashed(r *run, res hashResult) {
	if res.err != nil {
		delete(r.waiting, res.meta.ID)
		if errors.Is(res.err, context.Canceled) { // Run is ending
			return
		}
		if _, ok := p.o.Store.Lookup(res.meta.ID); !ok || errors.Is(res.err, storage.ErrNotFound) {
			p.withdraw(r, res.meta.ID, "removed from the store")
			return
		}
		p.unofferable(r, res.meta.ID, "unreadable", res.err)
		return
	}
	p.offerDigest(r, res.meta, res.d)
}

// offerDigest announces clip meta with its digest d.
func (p *Publisher) offerDigest(r *run, meta storage.Meta, d storage.Digest) {
	m, err := p.manifestOf(meta, d)
	if err != nil {
		delete(r.waiting, meta.ID)
		p.unofferable(r, meta.ID, "no valid manifest", err)
		return
	}
	p.announce(r, m)
}

// unofferable withdraws clip id, which the store holds but which cannot
// be offered (why), and offers it no more while it stays in the store: a
// restart tries again. The withdrawal also clears a manifest retained from
// before a restart.
func (p *Publisher) unofferable(r *run, id, why string, err error) {
	p.count(func(s *PublisherStats) { s.Errors++ })
	p.o.Logger.Error("clipxfer: cannot offer clip; not offered again until a restart", "id", id, "why", why, "err", err)
	r.bad[id] = true
	p.withdraw(r, id, why)
}

// manifestOf builds the manifest of clip meta from its digest d, checked
// as a receiver checks it.
func (p *Publisher) manifestOf(meta storage.Meta, d storage.Digest) (Manifest, error) {
	if d.ChunkBytes != p.o.ChunkBytes || len(d.CRC32C) != storage.Chunks(meta.Size, d.ChunkBytes) {
		return Manifest{}, fmt.Errorf("clipxfer: clip %s: a digest of %d chunks of %d bytes for %d bytes in chunks of %d",
			meta.ID, len(d.CRC32C), d.ChunkBytes, meta.Size, p.o.ChunkBytes)
	}
	m := Manifest{
		Format: Format, ID: meta.ID, EventIDs: meta.EventIDs, Start: meta.Start.UTC(),
		DurationMS: meta.Duration().Milliseconds(), Codec: meta.Codec, Width: meta.Width, Height: meta.Height,
		Frames: meta.Frames, Size: meta.Size, SHA256: d.SHA256, ChunkSize: d.ChunkBytes, Chunks: len(d.CRC32C),
		Encryption: meta.Encryption, crcs: d.CRC32C,
	}
	// The receivers' check, so that a clip they would refuse (empty, too
	// many chunks, odd metadata) is reported here.
	if _, err := ParseManifest(m.ID, m.Marshal()); err != nil {
		return Manifest{}, fmt.Errorf("clipxfer: cannot offer: %w", err)
	}
	if p.manifest != nil {
		p.manifest(&m)
	}
	return m, nil
}

// announce offers m: its manifest goes out, and wants that waited for it
// apply.
func (p *Publisher) announce(r *run, m Manifest) {
	c := &offer{m: m, wanted: make([]uint64, (m.Chunks+63)/64)}
	c.lo = len(c.wanted) * 64
	r.clips[m.ID] = c
	r.queueControl(m.ID, m.Marshal())
	p.count(func(s *PublisherStats) { s.Offered = len(r.clips) })
	if w, ok := r.waiting[m.ID]; ok {
		delete(r.waiting, m.ID)
		p.applyWant(r, c, w)
	}
	p.o.Logger.Debug("clipxfer: offering clip", "id", m.ID, "bytes", m.Size, "chunks", m.Chunks)
}

// withdraw clears clip id's retained manifest and forgets its wants.
func (p *Publisher) withdraw(r *run, id, why string) {
	if c, ok := r.clips[id]; ok {
		r.queued -= c.queued
	}
	delete(r.clips, id)
	delete(r.waiting, id)
	r.active = slices.DeleteFunc(r.active, func(a string) bool { return a == id })
	r.queueControl(id, nil)
	if r.cur.id == id {
		r.closeReader()
	}
	p.count(func(s *PublisherStats) { s.Withdrawn++; s.Offered = len(r.clips) })
	p.o.Logger.Info("clipxfer: clip withdrawn", "id", id, "why", why)
}

// reap takes the completed publishes out of the window.
func (p *Publisher) reap(r *run) {
	kept := r.inflight[:0]
	for _, f := range r.inflight {
		select {
		case <-f.tok.Done():
		default:
			kept = append(kept, f)
			continue
		}
		c := r.clips[f.id]
		if c != nil && c.tx != nil && f.chunk >= 0 {
			c.tx.acked(f.chunk)
		}
		err := f.tok.Error()
		if err == nil {
			if f.chunk < 0 {
				p.count(func(s *PublisherStats) { s.ManifestsAcked++ })
			} else {
				p.count(func(s *PublisherStats) { s.ChunksAcked++ })
				if len(r.free) <= p.o.Window {
					r.free = append(r.free, f.buf)
				}
			}
			continue
		}
		// The buffer may still be in the client's store: never reuse it.
		p.count(func(s *PublisherStats) { s.Errors++ })
		p.o.Logger.Warn("clipxfer: publish failed, will send again", "id", f.id, "chunk", f.chunk, "err", err)
		r.retryAt = p.o.Clock.Now().Add(time.Second)
		if c != nil {
			if f.chunk >= 0 {
				p.rewant(r, c, f.chunk)
			} else {
				r.queueControl(f.id, c.m.Marshal())
			}
		}
	}
	clear(r.inflight[len(kept):])
	r.inflight = kept
}

// send publishes manifests, then wanted chunks, while the window has room.
func (p *Publisher) send(r *run) {
	for len(r.inflight) < p.o.Window && p.hasWork(r) {
		if !p.o.Client.Connected() || p.o.Clock.Now().Before(r.retryAt) {
			return
		}
		if len(r.control) > 0 {
			m := r.control[0]
			r.control = r.control[1:]
			tok := p.o.Client.Publish(ManifestTopic(p.o.Base, m.id), 1, true, m.payload)
			r.inflight = append(r.inflight, pending{tok: tok, id: m.id, chunk: -1})
			p.count(func(s *PublisherStats) { s.Manifests++ })
			continue
		}
		id := r.active[0]
		c := r.clips[id]
		n := c.next()
		if c.nwanted == 0 {
			r.active = r.active[1:]
		}
		if n < 0 {
			continue
		}
		r.queued -= int64(c.m.ChunkLen(n))
		buf, err := p.readChunk(r, c.m, n)
		if err != nil {
			if _, ok := p.o.Store.Lookup(id); !ok {
				p.withdraw(r, id, "removed from the store")
				continue
			}
			// The CRCs are those of the bytes Put stored: the file has
			// changed since (damaged on the card) or cannot be read.
			p.unofferable(r, id, "unreadable or damaged", err)
			continue
		}
		if p.corrupt != nil {
			p.corrupt(id, n, buf)
		}
		p.count(func(s *PublisherStats) { s.ChunksSent++; s.BytesSent += uint64(len(buf)) }) // counted before it is handed over
		now := p.o.Clock.Now()
		tx := c.state()
		tx.alloc(c.m.Chunks)
		tx.sent(n, len(buf), now)
		r.spent.add(now, int64(len(buf)))
		tok := p.o.Client.Publish(ChunkTopic(p.o.Base, id, n), 1, false, buf)
		r.inflight = append(r.inflight, pending{tok: tok, id: id, chunk: n, buf: buf})
	}
}

// readChunk reads chunk n of m into a buffer of the pool (owned by the
// pending publish until its PUBACK) and checks its CRC.
func (p *Publisher) readChunk(r *run, m Manifest, n int) ([]byte, error) {
	off := int64(n) * int64(m.ChunkSize)
	cur := &r.cur
	if cur.rc != nil && (cur.id != m.ID || cur.pos > off) {
		if s, ok := cur.rc.(io.Seeker); ok && cur.id == m.ID {
			if _, err := s.Seek(off, io.SeekStart); err != nil {
				r.closeReader()
			} else {
				cur.pos = off
			}
		} else {
			r.closeReader()
		}
	}
	if cur.rc == nil {
		rc, err := p.o.Store.Open(m.ID)
		if err != nil {
			return nil, err
		}
		cur.id, cur.rc, cur.pos = m.ID, rc, 0
	}
	if cur.pos < off {
		var err error
		if s, ok := cur.rc.(io.Seeker); ok {
			_, err = s.Seek(off, io.SeekStart)
		} else {
			_, err = io.CopyN(io.Discard, cur.rc, off-cur.pos)
		}
		if err != nil {
			r.closeReader()
			return nil, err
		}
		cur.pos = off
	}
	var buf []byte
	if k := len(r.free); k > 0 {
		buf, r.free = r.free[k-1], r.free[:k-1]
	} else {
		buf = make([]byte, p.o.ChunkBytes)
	}
	buf = buf[:m.ChunkLen(n)] // every manifest has ChunkSize == ChunkBytes (see manifestOf)
	if _, err := io.ReadFull(cur.rc, buf); err != nil {
		r.closeReader()
		return nil, fmt.Errorf("read chunk %d: %w", n, err)
	}
	cur.pos += int64(len(buf))
	if CRC(buf) != m.ChunkCRC(n) {
		r.closeReader()
		return nil, fmt.Errorf("chunk %d does not match its CRC", n)
	}
	return buf, nil
}

// queueControl queues clip id's manifest (nil: its withdrawal), replacing
// one queued before: only the latest goes out.
func (r *run) queueControl(id string, payload []byte) {
	r.control = slices.DeleteFunc(r.control, func(m outMsg) bool { return m.id == id })
	r.control = append(r.control, outMsg{id, payload})
}

func (r *run) closeReader() {
	if r.cur.rc != nil {
		r.cur.rc.Close()
	}
	r.cur.id, r.cur.rc, r.cur.pos = "", nil, 0
}
