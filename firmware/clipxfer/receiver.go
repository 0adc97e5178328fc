package clipxfer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/renameio/v2"
	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/fsync"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

// Defaults of ReceiverOptions.
const (
	DefaultReceiveWindow = 32
	DefaultSettle        = 2 * time.Second
	DefaultRetryAfter    = 5 * time.Second
	DefaultRetries       = 5
	// maxBadChunk is how often one chunk may fail its CRC before the
	// transfer gives up with ErrCorrupt.
	maxBadChunk = 3
	// retryFailed is how long Follow waits before trying a failed clip again.
	retryFailed = time.Minute
)

// ReceiverOptions configure a Receiver.
type ReceiverOptions struct {
	// Client is a connected paho client, best with a clean session (the
	// broker then queues nothing for it while it is away). Call
	// Receiver.Resubscribe from its OnConnect handler.
	Client paho.Client
	// Base is the device's <mqtt.topic_prefix>/<device.id>.
	Base string
	// Dir is where clips are written: <start>_<id>.mp4 plus a .json
	// sidecar (the manifest); a partial download is .<id>.part with its
	// .<id>.state beside it.
	Dir string
	// IDs, if set, are the only clips pulled; Run fails with ErrNotOffered
	// for one not offered.
	IDs []string
	// Follow keeps Run pulling new clips until ctx is done; without it Run
	// returns once every offered clip is in Dir (or failed).
	Follow bool
	// Settle is how long after subscribing retained manifests may take to
	// arrive; default DefaultSettle.
	Settle time.Duration
	// Window is how many chunks are asked for ahead of those received;
	// default DefaultReceiveWindow. It bounds what the broker queues for
	// this receiver.
	Window int
	// RetryAfter: without a chunk this long, ask again; after Retries
	// times without progress the clip fails with ErrNoAnswer.
	RetryAfter time.Duration
	Retries    int
	// Progress, if set, is told about each clip's progress, from Run's
	// goroutine.
	Progress func(Progress)
	// OwnerKey, if set, signs the done messages (the device's
	// PublisherOptions.OwnerKey must be the same key): a device that
	// requires it frees a clip only on a signed done.
	OwnerKey ownerkey.Key
	Logger   *slog.Logger
	Clock    clockwork.Clock
}

func (o *ReceiverOptions) ensureDefaults() {
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.Window <= 0 {
		o.Window = DefaultReceiveWindow
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Retries <= 0 {
		o.Retries = DefaultRetries
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// Phases of a clip's Progress.
const (
	PhaseStart     = "start"     // the transfer begins (Resumed says how much was there)
	PhaseReceiving = "receiving" // a chunk arrived
	PhaseDone      = "done"      // written to Path, sha256 verified, confirmed to the device
	PhaseHave      = "have"      // Path was already there
	PhaseFailed    = "failed"    // Err says why
)

// Progress is one step of a clip's transfer.
type Progress struct {
	Phase     string
	Clip      Manifest
	Have      int64 // bytes received and checked so far
	Resumed   int64 // bytes a partial download already had
	Fetched   int   // chunks received this run
	Refetched int   // chunks asked for again: bad CRC, bad on disk
	Path      string
	Err       error
}

// Receiver pulls offered clips into a directory, one at a time, newest
// first (a partial download first), resuming partial downloads.
type Receiver struct {
	o       ReceiverOptions
	changed chan struct{} // cap 1: the offers changed

	mu      sync.Mutex
	offers  map[string]Manifest
	gone    map[string]bool // withdrawn while we watched
	current string          // the clip being pulled
	chunks  chan chunkMsg   // its chunks

	afterCheck func(n int, b []byte)       // test hook: after chunk n passed its CRC
	lose       func(id string, n int) bool // test hook: chunk n of clip id is lost on its way if true
}

type chunkMsg struct {
	id      string
	n       int
	payload []byte
}

// NewReceiver returns a Receiver; it starts nothing.
func NewReceiver(o ReceiverOptions) *Receiver {
	o.ensureDefaults()
	return &Receiver{o: o, changed: make(chan struct{}, 1), offers: map[string]Manifest{}, gone: map[string]bool{}}
}

func (r *Receiver) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *Receiver) onManifest(_ paho.Client, m paho.Message) {
	id, kind, _, ok := ParseTopic(r.o.Base, m.Topic())
	if !ok || kind != KindManifest {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(m.Payload()) == 0 {
		delete(r.offers, id)
		r.gone[id] = true
		r.signal()
		return
	}
	man, err := ParseManifest(id, m.Payload())
	if err != nil {
		r.o.Logger.Warn("clipxfer: ignoring manifest", "err", err)
		return
	}
	if old, ok := r.offers[id]; ok && old.Same(man) {
		return
	}
	r.offers[id] = man
	delete(r.gone, id)
	r.signal()
}

func (r *Receiver) onChunk(_ paho.Client, m paho.Message) {
	id, kind, n, ok := ParseTopic(r.o.Base, m.Topic())
	if !ok || kind != KindChunk {
		return
	}
	r.mu.Lock()
	ch := r.chunks
	cur := r.current
	r.mu.Unlock()
	if ch == nil || id != cur {
		return
	}
	if r.lose != nil && r.lose(id, n) {
		return
	}
	// Never block paho; a dropped chunk is asked for again.
	select {
	case ch <- chunkMsg{id, n, m.Payload()}:
	default:
		r.o.Logger.Debug("clipxfer: chunk dropped, receiver busy", "id", id, "chunk", n)
	}
}

// Resubscribe subscribes again (call it from the client's OnConnect
// handler: a clean session loses its subscriptions on reconnect). It does
// not block.
func (r *Receiver) Resubscribe() {
	r.o.Client.Subscribe(ManifestFilter(r.o.Base), 1, r.onManifest)
	r.mu.Lock()
	cur := r.current
	r.mu.Unlock()
	if cur != "" {
		r.o.Client.Subscribe(ChunkFilter(r.o.Base, cur), 1, r.onChunk)
	}
}

// brokerTimeout bounds each wait for the broker's acknowledgement.
const brokerTimeout = 30 * time.Second

// Offered subscribes to the manifests of base, waits settle for the
// retained ones and returns them, newest first.
func Offered(ctx context.Context, c paho.Client, base string, settle time.Duration) ([]Manifest, error) {
	r := NewReceiver(ReceiverOptions{Client: c, Base: base, Settle: settle})
	if err := mqttpub.Wait(c.Subscribe(ManifestFilter(base), 1, r.onManifest), brokerTimeout, "subscribe "+ManifestFilter(base)); err != nil {
		return nil, fmt.Errorf("clipxfer: %w", err)
	}
	defer c.Unsubscribe(ManifestFilter(base))
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.o.Clock.After(r.o.Settle):
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Manifest, 0, len(r.offers))
	for _, m := range r.offers {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Manifest) int { return cmp.Or(b.Start.Compare(a.Start), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// Run pulls clips until every one offered is in Dir (with Follow: until
// ctx is done). A clip that fails does not stop the others; the errors
// are joined. Canceling ctx keeps a partial download for the next Run.
func (r *Receiver) Run(ctx context.Context) error {
	if err := os.MkdirAll(r.o.Dir, 0o755); err != nil {
		return fmt.Errorf("clipxfer: %w", err)
	}
	filter := ManifestFilter(r.o.Base)
	if err := mqttpub.Wait(r.o.Client.Subscribe(filter, 1, r.onManifest), brokerTimeout, "subscribe "+filter); err != nil {
		return fmt.Errorf("clipxfer: %w", err)
	}
	defer r.o.Client.Unsubscribe(filter)

	// Retained manifests arrive right after the subscription.
	settle := r.o.Clock.NewTimer(r.o.Settle)
wait:
	for !r.haveAllIDs() {
		select {
		case <-ctx.Done():
			settle.Stop()
			return ctx.Err()
		case <-settle.Chan():
			break wait
		case <-r.changed:
		}
	}
	settle.Stop()

	var errs []error
	failed := map[string]time.Time{}
	finished := map[string]bool{}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.cleanGone()
		m, ok := r.pick(finished, failed)
		if !ok {
			if !r.o.Follow {
				for _, id := range r.o.IDs {
					if !finished[id] {
						if _, f := failed[id]; !f {
							errs = append(errs, fmt.Errorf("clipxfer: clip %s: %w", id, ErrNotOffered))
						}
					}
				}
				return errors.Join(errs...)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-r.changed:
			case <-r.o.Clock.After(retryFailed / 4):
			}
			continue
		}
		err := r.pull(ctx, m)
		switch {
		case err == nil:
			finished[m.ID] = true
			delete(failed, m.ID)
		case errors.Is(err, errReplaced):
			// The next pick takes the new manifest.
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			failed[m.ID] = r.o.Clock.Now()
			r.progress(Progress{Phase: PhaseFailed, Clip: m, Err: err})
			if r.o.Follow {
				r.o.Logger.Warn("clipxfer: clip failed", "id", m.ID, "err", err)
			} else {
				errs = append(errs, err)
			}
		}
	}
}

// cleanGone removes partial downloads of clips withdrawn meanwhile.
func (r *Receiver) cleanGone() {
	r.mu.Lock()
	var ids []string
	for id := range r.gone {
		ids = append(ids, id)
	}
	clear(r.gone)
	r.mu.Unlock()
	for _, id := range ids {
		r.discard(id)
	}
}

func (r *Receiver) haveAllIDs() bool {
	if len(r.o.IDs) == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.o.IDs {
		if _, ok := r.offers[id]; !ok {
			return false
		}
	}
	return true
}

// pick chooses the next clip: a partial download first, then the newest.
func (r *Receiver) pick(finished map[string]bool, failed map[string]time.Time) (Manifest, bool) {
	r.mu.Lock()
	var cands []Manifest
	for id, m := range r.offers {
		if finished[id] || (len(r.o.IDs) > 0 && !slices.Contains(r.o.IDs, id)) {
			continue
		}
		if at, ok := failed[id]; ok && (!r.o.Follow || r.o.Clock.Since(at) < retryFailed) {
			continue
		}
		cands = append(cands, m)
	}
	r.mu.Unlock()
	if len(cands) == 0 {
		return Manifest{}, false
	}
	partial := make(map[string]int, len(cands))
	for _, m := range cands {
		if _, err := os.Stat(r.statePath(m.ID)); err != nil {
			partial[m.ID] = 1
		}
	}
	return slices.MinFunc(cands, func(a, b Manifest) int {
		return cmp.Or(cmp.Compare(partial[a.ID], partial[b.ID]), b.Start.Compare(a.Start), cmp.Compare(a.ID, b.ID))
	}), true
}

func (r *Receiver) progress(p Progress) {
	if r.o.Progress != nil {
		r.o.Progress(p)
	}
}

func (r *Receiver) statePath(id string) string { return filepath.Join(r.o.Dir, "."+id+".state") }
func (r *Receiver) partPath(id string) string  { return filepath.Join(r.o.Dir, "."+id+".part") }

// Path is where a receiver with Dir stores clip m: <start>_<id>.mp4, or
// .mp4.age for a sealed clip (the bytes as sent; doorbellctl clips pull
// --identity writes the .mp4 beside it).
func Path(dir string, m Manifest) string {
	if m.Encryption != "" {
		return filepath.Join(dir, m.FileBase()+".mp4."+m.Encryption)
	}
	return filepath.Join(dir, m.FileBase()+".mp4")
}

var errReplaced = errors.New("clip manifest replaced")

// xfer is one clip's transfer, owned by pull.
type xfer struct {
	m         Manifest
	f         *os.File
	have      []bool
	nhave     int
	haveBytes int64
	requested map[int]bool // asked for, not yet received
	again     []int        // to ask for again first
	nextAsk   int          // no unasked missing chunk below this
	bad       map[int]int  // CRC failures per chunk
	h         *hasher      // sha256 of chunks [0, hashed)
	hashed    int
	fetched   int
	refetched int
	resumed   int64
}

// hasher computes a sha256 on its own goroutine, so hashing overlaps
// receiving. It owns the slices it is given.
type hasher struct {
	in   chan []byte
	sum  chan []byte
	done bool
}

func newHasher(depth int) *hasher {
	h := &hasher{in: make(chan []byte, depth), sum: make(chan []byte, 1)}
	go func() {
		d := sha256.New()
		for b := range h.in {
			d.Write(b)
		}
		h.sum <- d.Sum(nil)
	}()
	return h
}

// write hashes b next; it blocks while the hasher is depth chunks behind.
func (h *hasher) write(b []byte) { h.in <- b }

// finish returns the sum of everything written; the hasher is then spent.
func (h *hasher) finish() []byte {
	if h.done {
		return nil
	}
	h.done = true
	close(h.in)
	return <-h.sum
}

// pull transfers clip m into Dir.
func (r *Receiver) pull(ctx context.Context, m Manifest) error {
	final := Path(r.o.Dir, m)
	if fi, err := os.Stat(final); err == nil && fi.Size() == m.Size {
		r.sendDone(m)
		r.progress(Progress{Phase: PhaseHave, Clip: m, Have: m.Size, Path: final})
		return nil
	}
	x, err := r.open(m)
	if err != nil {
		return err
	}
	x.h = newHasher(r.o.Window)
	defer func() {
		x.h.finish()
		if x.f != nil {
			x.f.Close()
		}
	}()

	ch := make(chan chunkMsg, 4*r.o.Window+16)
	r.mu.Lock()
	r.current, r.chunks = m.ID, ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.current, r.chunks = "", nil
		r.mu.Unlock()
	}()
	filter := ChunkFilter(r.o.Base, m.ID)
	if err := mqttpub.Wait(r.o.Client.Subscribe(filter, 1, r.onChunk), brokerTimeout, "subscribe "+filter); err != nil {
		return fmt.Errorf("clipxfer: %w", err)
	}
	defer r.o.Client.Unsubscribe(filter)

	r.progress(Progress{Phase: PhaseStart, Clip: m, Have: x.haveBytes, Resumed: x.resumed})
	r.o.Logger.Debug("clipxfer: pulling clip", "id", m.ID, "bytes", m.Size, "chunks", m.Chunks, "resumed", x.resumed)
	timer := r.o.Clock.NewTimer(r.o.RetryAfter)
	defer timer.Stop()
	retries := 0
	for {
		if x.nhave == m.Chunks {
			ok, err := r.verify(x)
			if err != nil {
				r.discard(m.ID)
				return err
			}
			if ok {
				return r.finish(x, final)
			}
			continue // bad chunks on disk: asked for again
		}
		// Ask again while the device still has a good part of the window
		// to send: a device that runs dry waits for the next want, and on
		// a broker with Nagle's algorithm on its sockets (Mosquitto's
		// default) the small want can then wait for a delayed ACK (40ms).
		if len(x.requested) <= r.o.Window*3/4 {
			r.ask(x)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.changed:
			// Run looks at the other clips' changes after this one.
			r.mu.Lock()
			cur, offered := r.offers[m.ID]
			gone := r.gone[m.ID]
			r.mu.Unlock()
			switch {
			case gone:
				r.discard(m.ID)
				return fmt.Errorf("clipxfer: clip %s: %w", m.ID, ErrWithdrawn)
			case offered && !cur.Same(m):
				r.o.Logger.Info("clipxfer: clip offered anew; starting over", "id", m.ID)
				r.discard(m.ID)
				return errReplaced
			}
		case c := <-ch:
			progressed, err := r.take(x, c)
			if err != nil {
				return err
			}
			if progressed {
				retries = 0
				timer.Reset(r.o.RetryAfter)
				r.progress(Progress{Phase: PhaseReceiving, Clip: m, Have: x.haveBytes, Resumed: x.resumed, Fetched: x.fetched, Refetched: x.refetched})
			}
		case <-timer.Chan():
			retries++
			if retries > r.o.Retries {
				return fmt.Errorf("clipxfer: clip %s: no chunk for %v after %d requests (%d of %d chunks here; is the device online?): %w",
					m.ID, r.o.RetryAfter, r.o.Retries, x.nhave, m.Chunks, ErrNoAnswer)
			}
			r.o.Logger.Info("clipxfer: no chunk; asking again", "id", m.ID, "try", retries, "missing", m.Chunks-x.nhave)
			for n := range x.requested {
				x.again = append(x.again, n)
			}
			clear(x.requested)
			slices.Sort(x.again)
			x.again = slices.Compact(x.again)
			timer.Reset(r.o.RetryAfter)
		}
	}
}

// open opens the partial download of m, or starts one, and finds which
// chunks it already holds (by their CRC: nothing else is trusted).
func (r *Receiver) open(m Manifest) (*xfer, error) {
	x := &xfer{m: m, have: make([]bool, m.Chunks), requested: map[int]bool{}, bad: map[int]int{}}
	resume := false
	if b, err := os.ReadFile(r.statePath(m.ID)); err == nil {
		if old, err := ParseManifest(m.ID, b); err == nil && old.Same(m) {
			resume = true
		}
	}
	flags := os.O_RDWR | os.O_CREATE
	if !resume {
		flags |= os.O_TRUNC
		if err := renameio.WriteFile(r.statePath(m.ID), m.Marshal(), 0o644); err != nil {
			return nil, fmt.Errorf("clipxfer: clip %s: write state: %w", m.ID, err)
		}
	}
	f, err := os.OpenFile(r.partPath(m.ID), flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("clipxfer: clip %s: %w", m.ID, err)
	}
	x.f = f
	if resume {
		if err := f.Truncate(min(m.Size, fileSize(f))); err != nil {
			f.Close()
			return nil, fmt.Errorf("clipxfer: clip %s: %w", m.ID, err)
		}
		for _, n := range r.scan(x) {
			x.have[n] = true
			x.nhave++
			x.haveBytes += int64(m.ChunkLen(n))
		}
		x.resumed = x.haveBytes
	}
	return x, nil
}

func fileSize(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// scan returns the chunks of the part file that match their CRC.
func (r *Receiver) scan(x *xfer) []int {
	var good []int
	buf := make([]byte, x.m.ChunkSize)
	for n := range x.m.Chunks {
		b := buf[:x.m.ChunkLen(n)]
		if k, _ := x.f.ReadAt(b, int64(n)*int64(x.m.ChunkSize)); k == len(b) && CRC(b) == x.m.ChunkCRC(n) {
			good = append(good, n)
		}
	}
	return good
}

// ask requests chunks up to the window: those to ask again first, then
// the missing ones in order.
func (r *Receiver) ask(x *xfer) {
	var want []int
	room := r.o.Window - len(x.requested)
	for len(x.again) > 0 && room > 0 {
		n := x.again[0]
		x.again = x.again[1:]
		if !x.have[n] && !x.requested[n] {
			want = append(want, n)
			x.requested[n] = true
			room--
		}
	}
	for ; x.nextAsk < x.m.Chunks && room > 0; x.nextAsk++ {
		n := x.nextAsk
		if !x.have[n] && !x.requested[n] {
			want = append(want, n)
			x.requested[n] = true
			room--
		}
	}
	if len(want) == 0 {
		return
	}
	slices.Sort(want)
	// Not waited for: a lost want is asked again after RetryAfter. A
	// device takes at most MaxWantRanges ranges in one want.
	for ranges := range slices.Chunk(Ranges(want), MaxWantRanges) {
		b, _ := json.Marshal(Want{Chunks: ranges})
		r.o.Client.Publish(WantTopic(r.o.Base, x.m.ID), 1, false, b)
	}
}

// take checks and stores one chunk; progressed is false for a duplicate.
func (r *Receiver) take(x *xfer, c chunkMsg) (progressed bool, err error) {
	m := x.m
	if c.n >= m.Chunks || x.have[c.n] {
		return false, nil
	}
	delete(x.requested, c.n)
	if len(c.payload) != m.ChunkLen(c.n) || CRC(c.payload) != m.ChunkCRC(c.n) {
		x.bad[c.n]++
		x.refetched++
		r.o.Logger.Warn("clipxfer: chunk does not match its CRC; asking again", "id", m.ID, "chunk", c.n, "bytes", len(c.payload), "try", x.bad[c.n])
		if x.bad[c.n] > maxBadChunk {
			return false, fmt.Errorf("clipxfer: clip %s: chunk %d failed its CRC %d times: %w", m.ID, c.n, x.bad[c.n], ErrCorrupt)
		}
		x.again = append(x.again, c.n)
		return true, nil
	}
	if r.afterCheck != nil {
		r.afterCheck(c.n, c.payload)
	}
	if _, err := x.f.WriteAt(c.payload, int64(c.n)*int64(m.ChunkSize)); err != nil {
		return false, fmt.Errorf("clipxfer: clip %s: write: %w", m.ID, err)
	}
	startWriteback(x.f, int64(c.n)*int64(m.ChunkSize), int64(len(c.payload)))
	x.have[c.n] = true
	x.nhave++
	x.haveBytes += int64(len(c.payload))
	x.fetched++
	if c.n == x.hashed {
		x.h.write(c.payload) // the common case: in order, no read back
		x.hashed++
	}
	return true, r.hashAhead(x)
}

// hashAhead feeds the hasher the chunks that came out of order (or were
// there from before), read back from the part file, once the ones before
// them are in.
func (r *Receiver) hashAhead(x *xfer) error {
	for x.hashed < x.m.Chunks && x.have[x.hashed] {
		b := make([]byte, x.m.ChunkLen(x.hashed)) // the hasher owns it
		if _, err := x.f.ReadAt(b, int64(x.hashed)*int64(x.m.ChunkSize)); err != nil {
			return fmt.Errorf("clipxfer: clip %s: read back: %w", x.m.ID, err)
		}
		x.h.write(b)
		x.hashed++
	}
	return nil
}

// verify checks the whole file's sha256. On a mismatch it looks for the
// chunks that went bad on disk and marks them missing (false, nil), or,
// when every chunk matches its CRC, fails with ErrChecksum.
func (r *Receiver) verify(x *xfer) (bool, error) {
	if err := r.hashAhead(x); err != nil {
		return false, err
	}
	sum := hexSum(x.h.finish())
	if sum == x.m.SHA256 {
		return true, nil
	}
	good := r.scan(x)
	if len(good) == x.m.Chunks {
		return false, fmt.Errorf("clipxfer: clip %s: sha256 %s, the manifest says %s: %w", x.m.ID, sum, x.m.SHA256, ErrChecksum)
	}
	ok := make([]bool, x.m.Chunks)
	for _, n := range good {
		ok[n] = true
	}
	for n := range ok {
		if !ok[n] {
			x.have[n] = false
			x.nhave--
			x.haveBytes -= int64(x.m.ChunkLen(n))
			x.again = append(x.again, n)
			x.refetched++
		}
	}
	r.o.Logger.Warn("clipxfer: clip failed its sha256; asking again for the chunks bad on disk", "id", x.m.ID, "chunks", len(x.again))
	x.h = newHasher(r.o.Window)
	x.hashed = 0
	return false, nil
}

// finish makes the verified part file the clip: fsync, sidecar, rename,
// directory fsync; then confirms to the device.
func (r *Receiver) finish(x *xfer, final string) error {
	m := x.m
	if err := x.f.Sync(); err != nil {
		return fmt.Errorf("clipxfer: clip %s: sync: %w", m.ID, err)
	}
	if err := x.f.Close(); err != nil {
		return fmt.Errorf("clipxfer: clip %s: %w", m.ID, err)
	}
	x.f = nil
	// The sidecar first, the MP4 last: the clip exists once its MP4 does.
	side := m
	side.CRC32C = ""
	side.crcs = nil
	sj, _ := json.MarshalIndent(side, "", "  ")
	if err := renameio.WriteFile(filepath.Join(r.o.Dir, m.FileBase()+".json"), append(sj, '\n'), 0o644); err != nil {
		return fmt.Errorf("clipxfer: clip %s: sidecar: %w", m.ID, err)
	}
	if err := os.Rename(r.partPath(m.ID), final); err != nil {
		return fmt.Errorf("clipxfer: clip %s: %w", m.ID, err)
	}
	if err := fsync.Dir(r.o.Dir); err != nil {
		r.o.Logger.Warn("clipxfer: sync directory", "dir", r.o.Dir, "err", err)
	}
	os.Remove(r.statePath(m.ID))
	r.sendDone(m)
	r.progress(Progress{Phase: PhaseDone, Clip: m, Have: m.Size, Resumed: x.resumed, Fetched: x.fetched, Refetched: x.refetched, Path: final})
	return nil
}

// sendDone confirms clip m to the device (which, in storage.mode ram,
// frees it). A lost confirmation is sent again the next time a Receiver
// sees the clip offered.
func (r *Receiver) sendDone(m Manifest) {
	b, _ := json.Marshal(SignDone(r.o.OwnerKey, m.ID, m.SHA256))
	tok := r.o.Client.Publish(DoneTopic(r.o.Base, m.ID), 1, false, b)
	if err := mqttpub.Wait(tok, brokerTimeout, "confirm clip "+m.ID); err != nil {
		r.o.Logger.Warn("clipxfer: confirm clip", "id", m.ID, "err", err)
	}
}

// discard removes a partial download.
func (r *Receiver) discard(id string) {
	os.Remove(r.partPath(id))
	os.Remove(r.statePath(id))
}
