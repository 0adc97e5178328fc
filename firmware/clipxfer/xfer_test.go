package clipxfer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
)

func TestTransfer(t *testing.T) {
	url := startBroker(t)
	for _, c := range []struct {
		name        string
		size, chunk int
	}{
		{"one chunk", 1000, 0},
		{"exact chunks", 4 * clipxfer.DefaultChunkBytes, 0},
		{"short last chunk", 1<<20 + 1, 64 << 10},
		{"largest chunks", 3<<20 + 77, clipxfer.MaxChunkBytes},
	} {
		t.Run(c.name, func(t *testing.T) { scenarioTransfer(t, url, c.size, c.chunk) })
	}
}

func TestResumeAfterReceiverRestart(t *testing.T) { scenarioResume(t, startBroker(t)) }

func TestEventsOvertakeChunks(t *testing.T) { scenarioEventsFirst(t, startBroker(t)) }

// In storage.mode ram the daemon frees a clip once a receiver confirmed
// it; its manifest is then withdrawn.
func TestRAMModeDeliveredAndWithdrawn(t *testing.T) {
	url := startBroker(t)
	store, err := storage.Open("", storage.Options{Mode: storage.ModeRAM, ChunkBytes: 32 << 10, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	id := uniq("m")
	meta, data := putClip(t, store, id, 300<<10)
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: 32 << 10,
		OnDelivered: func(id string) { store.MarkDelivered(id) }}, nil)
	d.offer(t, meta)
	if ids := offered(t, url, base, []string{id}); !slices.Equal(ids, []string{id}) {
		t.Fatalf("offered %v", ids)
	}

	dir := t.TempDir()
	got, err := receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, got[id].Path, data)
	waitFor(t, "the clip freed", func() bool { _, ok := store.Lookup(id); return !ok })
	waitFor(t, "the manifest withdrawn", func() bool { return d.pub.Stats().Withdrawn == 1 })
	d.settle(t, 0)
	if ids := offered(t, url, base, nil); len(ids) != 0 {
		t.Errorf("still offered: %v", ids)
	}
	if st := d.pub.Stats(); st.Delivered != 1 || st.Withdrawn != 1 || st.Offered != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A clip retention removes is withdrawn; a retained manifest left from
// before a restart, for a clip the store no longer has, is cleared.
func TestWithdraw(t *testing.T) {
	url := startBroker(t)
	store, err := storage.Open(t.TempDir(), storage.Options{MaxBytes: 3 << 20, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	base := uniq("t/")
	// A stale manifest: a clip stored once and gone while the daemon was down.
	c := client(t, url)
	c.Publish(clipxfer.ManifestTopic(base, "stale"), 1, true, fakeManifest("stale")).WaitTimeout(5 * time.Second)
	if ids := offered(t, url, base, []string{"stale"}); !slices.Equal(ids, []string{"stale"}) {
		t.Fatalf("offered %v", ids)
	}

	a, _ := putClip(t, store, "a"+uniq(""), 2<<20)
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store}, nil)
	waitFor(t, "stale withdrawn", func() bool { return d.pub.Stats().Withdrawn == 1 })
	d.settle(t, 1)
	if ids := offered(t, url, base, []string{a.ID}); !slices.Equal(ids, []string{a.ID}) {
		t.Fatalf("offered %v, want a", ids)
	}

	b, _ := putClip(t, store, "b"+uniq(""), 2<<20) // evicts a
	if _, ok := store.Lookup(a.ID); ok {
		t.Fatal("a not evicted")
	}
	d.pub.Offer(b)
	waitFor(t, "a withdrawn", func() bool { return d.pub.Stats().Withdrawn == 2 })
	d.settle(t, 1)
	if ids := offered(t, url, base, []string{b.ID}); !slices.Equal(ids, []string{b.ID}) {
		t.Fatalf("offered %v, want b", ids)
	}
}

// A chunk corrupted on its way fails its CRC and is asked for again.
func TestCorruptChunkInTransit(t *testing.T) {
	url := startBroker(t)
	store := diskStore(t, 64<<10)
	id := uniq("x")
	meta, data := putClip(t, store, id, 1<<20)
	var flipped atomic.Bool
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: 64 << 10}, func(p *clipxfer.Publisher) {
		clipxfer.SetCorrupt(p, func(_ string, n int, b []byte) {
			if n == 3 && flipped.CompareAndSwap(false, true) {
				b[100] ^= 0x40
			}
		})
	})
	d.offer(t, meta)
	got, err := receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: t.TempDir(), IDs: []string{id}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := got[id]
	if !flipped.Load() || p.Refetched != 1 || p.Fetched != p.Clip.Chunks {
		t.Errorf("progress %+v", p)
	}
	sameFile(t, p.Path, data)
	if st := d.pub.Stats(); st.ChunksSent != uint64(p.Clip.Chunks)+1 {
		t.Errorf("sent %d chunks, want %d", st.ChunksSent, p.Clip.Chunks+1)
	}
}

// A chunk damaged after its CRC was checked (memory, a bug) fails the
// sha256; the chunks bad on disk are found by their CRC and fetched again.
func TestCorruptAfterCheckFailsSHA256AndIsRefetched(t *testing.T) {
	url := startBroker(t)
	store := diskStore(t, 64<<10)
	id := uniq("s")
	meta, data := putClip(t, store, id, 1<<20)
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: 64 << 10}, nil)
	d.offer(t, meta)
	var once sync.Once
	got, err := receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: t.TempDir(), IDs: []string{id}},
		func(r *clipxfer.Receiver) {
			clipxfer.SetAfterCheck(r, func(n int, b []byte) {
				if n == 5 {
					once.Do(func() { b[9] ^= 0xff })
				}
			})
		})
	if err != nil {
		t.Fatal(err)
	}
	p := got[id]
	if p.Refetched != 1 || p.Fetched != p.Clip.Chunks+1 {
		t.Errorf("progress %+v", p)
	}
	sameFile(t, p.Path, data)
}

// A manifest whose sha256 is wrong (every chunk matching its CRC) is
// reported, and nothing is written.
func TestChecksumMismatchReported(t *testing.T) {
	url := startBroker(t)
	store := diskStore(t, 64<<10)
	id := uniq("w")
	meta, _ := putClip(t, store, id, 200<<10)
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: 64 << 10}, func(p *clipxfer.Publisher) {
		clipxfer.SetManifestHook(p, func(m *clipxfer.Manifest) { m.SHA256 = "ab" + m.SHA256[2:] })
	})
	d.offer(t, meta)
	dir := t.TempDir()
	_, err := receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: dir, IDs: []string{id}}, nil)
	if !errors.Is(err, clipxfer.ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("left %v", des)
	}
}

// A chunk that arrives corrupted every time fails the clip with
// ErrCorrupt; the other clips are still pulled.
func TestPersistentCorruption(t *testing.T) {
	url := startBroker(t)
	store := diskStore(t, 16<<10)
	bad, good := uniq("p"), uniq("q")
	mb, _ := putClip(t, store, bad, 100<<10)
	mg, data := putClip(t, store, good, 100<<10)
	base := uniq("t/")
	// Resend off: the receiver asks for the bad chunk again at once, each
	// time, and the test is about the receiver giving up (with it on, every
	// other time would wait for its RetryAfter).
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: 16 << 10, Resend: -1}, func(p *clipxfer.Publisher) {
		clipxfer.SetCorrupt(p, func(id string, n int, b []byte) {
			if id == bad && n == 2 {
				b[0] ^= 1
			}
		})
	})
	d.pub.Offer(mb)
	d.pub.Offer(mg)
	d.settle(t, 2)
	dir := t.TempDir()
	got, err := receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: dir}, nil)
	if !errors.Is(err, clipxfer.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if got[bad].Phase != clipxfer.PhaseFailed {
		t.Errorf("bad clip: %+v", got[bad])
	}
	sameFile(t, got[good].Path, data)
}

// A device that does not answer fails the clip with ErrNoAnswer, and the
// partial download stays for later.
func TestNoAnswer(t *testing.T) {
	url := startBroker(t)
	base := uniq("t/")
	c := client(t, url)
	// A manifest retained from a device that is gone.
	c.Publish(clipxfer.ManifestTopic(base, "gone"), 1, true, fakeManifest("gone")).WaitTimeout(5 * time.Second)
	dir := t.TempDir()
	start := time.Now()
	_, err := receive(context.Background(), c, clipxfer.ReceiverOptions{Base: base, Dir: dir, IDs: []string{"gone"},
		RetryAfter: 100 * time.Millisecond, Retries: 2}, nil)
	if !errors.Is(err, clipxfer.ErrNoAnswer) {
		t.Fatalf("err = %v, want ErrNoAnswer", err)
	}
	t.Logf("gave up after %v: %v", time.Since(start), err)
	if _, err := os.Stat(filepath.Join(dir, ".gone.part")); err != nil {
		t.Errorf("partial download gone: %v", err)
	}
}

// fakeManifest is a valid manifest of a 2 KiB clip id.
func fakeManifest(id string) string {
	return `{"format":1,"id":"` + id + `","start":"2026-01-01T00:00:00Z","duration_ms":1,"codec":"mjpeg","size":2048,"sha256":"` +
		"0000000000000000000000000000000000000000000000000000000000000000" + `","chunk_size":1024,"chunks":2,"crc32c":"AAAAAAAAAAA="}`
}

// countingStore counts the calls that may read a clip: Open, and Digest
// (which reads a clip stored without a digest).
type countingStore struct {
	*storage.Store
	opens, digests atomic.Int32
}

func (s *countingStore) Open(id string) (io.ReadCloser, error) {
	s.opens.Add(1)
	return s.Store.Open(id)
}

func (s *countingStore) Digest(ctx context.Context, id string, chunkBytes int) (storage.Digest, error) {
	s.digests.Add(1)
	return s.Store.Digest(ctx, id, chunkBytes)
}

// manifests collects the manifests a Publisher builds (SetManifestHook).
type manifests struct {
	mu   sync.Mutex
	byID map[string]clipxfer.Manifest
}

func (ms *manifests) hook(p *clipxfer.Publisher) {
	clipxfer.SetManifestHook(p, func(m *clipxfer.Manifest) {
		ms.mu.Lock()
		defer ms.mu.Unlock()
		if ms.byID == nil {
			ms.byID = map[string]clipxfer.Manifest{}
		}
		ms.byID[m.ID] = *m
	})
}

// check fails unless the manifest built for clip id describes data.
func (ms *manifests) check(t *testing.T, id string, data []byte) {
	t.Helper()
	ms.mu.Lock()
	m, ok := ms.byID[id]
	ms.mu.Unlock()
	sum := sha256.Sum256(data)
	if !ok || m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(data)) {
		t.Fatalf("manifest of %s: %+v (built: %v), want sha256 %x of %d bytes", id, m, ok, sum, len(data))
	}
	for n := range m.Chunks {
		if got, want := m.ChunkCRC(n), clipxfer.CRC(data[n*m.ChunkSize:min((n+1)*m.ChunkSize, len(data))]); got != want {
			t.Fatalf("manifest of %s: chunk %d CRC %08x, want %08x", id, n, got, want)
		}
	}
}

// The manifest comes from the digest Put computed: publishing it reads
// nothing, not even after a restart, and works with the clip's file gone.
func TestManifestDoesNotReadTheClip(t *testing.T) {
	url := startBroker(t)
	dir := t.TempDir()
	const chunk = 64 << 10
	opts := storage.Options{ChunkBytes: chunk, Logger: quiet}
	store, err := storage.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, dataA := putClip(t, store, uniq("a"), 300<<10)
	b, dataB := putClip(t, store, uniq("b"), 100<<10)

	// A restart: the store is opened again, digests from the sidecars.
	store, err = storage.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: store}
	var ms manifests
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: cs, ChunkBytes: chunk}, ms.hook)
	d.settle(t, 2)
	ms.check(t, a.ID, dataA)
	ms.check(t, b.ID, dataB)

	// A clip whose MP4 is gone from under the store is offered all the
	// same: nothing reads it.
	c, dataC := putClip(t, store, uniq("c"), 200<<10)
	if err := os.Remove(filepath.Join(dir, storage.BaseName(c.ID, c.Start)+".mp4")); err != nil {
		t.Fatal(err)
	}
	d.offer(t, c)
	ms.check(t, c.ID, dataC)
	if ids := offered(t, url, base, []string{c.ID, b.ID, a.ID}); !slices.Equal(ids, []string{c.ID, b.ID, a.ID}) {
		t.Errorf("offered %v, want c, b, a", ids)
	}
	if o, g := cs.opens.Load(), cs.digests.Load(); o != 0 || g != 0 {
		t.Errorf("%d Opens and %d Digests to offer 3 clips, want none", o, g)
	}

	// The clip is pulled all the same: only the chunks asked for are read.
	got, err := receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: t.TempDir(), IDs: []string{a.ID}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, got[a.ID].Path, dataA)
	if n := cs.opens.Load(); n != 1 {
		t.Errorf("%d Opens to send one clip, want 1", n)
	}
}

// A clip stored before digests existed is read once for its digest, which
// the store keeps: after a restart it is offered without reading it.
func TestOldClipReadOnce(t *testing.T) {
	url := startBroker(t)
	dir := t.TempDir()
	const chunk = 32 << 10
	opts := storage.Options{ChunkBytes: chunk, Logger: quiet}
	store, err := storage.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	m, data := putClip(t, store, uniq("o"), 150<<10)
	// Its sidecar as an older doorbelld wrote it: no digest.
	side := filepath.Join(dir, storage.BaseName(m.ID, m.Start)+".json")
	m.Digest = nil
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(side, b, 0o600); err != nil {
		t.Fatal(err)
	}

	for run, wantDigests := range []int32{1, 0} {
		store, err := storage.Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		cs := &countingStore{Store: store}
		var ms manifests
		d := startDevice(t, url, uniq("t/"), clipxfer.PublisherOptions{Store: cs, ChunkBytes: chunk}, ms.hook)
		d.settle(t, 1)
		ms.check(t, m.ID, data)
		if n := cs.digests.Load(); n != wantDigests {
			t.Errorf("run %d: %d Digest calls, want %d", run, n, wantDigests)
		}
		if n := cs.opens.Load(); n != 0 {
			t.Errorf("run %d: %d Opens, want none", run, n)
		}
	}
}

// A clip damaged on the card after it was stored no longer matches the
// CRCs Put computed: the Publisher withdraws it instead of sending it, and
// does not offer it again.
func TestDamagedClipWithdrawn(t *testing.T) {
	url := startBroker(t)
	dir := t.TempDir()
	const chunk = 16 << 10
	store, err := storage.Open(dir, storage.Options{ChunkBytes: chunk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	m, data := putClip(t, store, uniq("d"), 100<<10)
	data[50<<10] ^= 0x01 // a bit flipped in chunk 3
	if err := os.WriteFile(filepath.Join(dir, storage.BaseName(m.ID, m.Start)+".mp4"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: chunk}, nil)
	d.offer(t, m)
	_, err = receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: t.TempDir(), IDs: []string{m.ID}}, nil)
	if !errors.Is(err, clipxfer.ErrWithdrawn) {
		t.Fatalf("pull of a damaged clip = %v, want ErrWithdrawn", err)
	}
	d.pub.Offer(m) // as after a reconcile: still not offered
	d.settle(t, 0)
	if st := d.pub.Stats(); st.Errors != 1 || st.Withdrawn != 1 || st.ChunksSent != 3 {
		t.Errorf("stats %+v, want 1 error, 1 withdrawal, the 3 good chunks sent", st)
	}
}

// The store computes its digests for clipxfer's default chunk size.
func TestDefaultChunkSizes(t *testing.T) {
	if storage.DefaultChunkBytes != clipxfer.DefaultChunkBytes {
		t.Errorf("storage.DefaultChunkBytes %d, clipxfer.DefaultChunkBytes %d: the daemon would read every clip once more",
			storage.DefaultChunkBytes, clipxfer.DefaultChunkBytes)
	}
}

// Follow mode pulls clips as they are stored.
func TestFollow(t *testing.T) {
	url := startBroker(t)
	store := diskStore(t, 16<<10)
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: 16 << 10}, nil)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan string, 4)
	errc := make(chan error, 1)
	go func() {
		_, err := receive(ctx, client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: dir, Follow: true, Settle: 100 * time.Millisecond,
			Progress: func(p clipxfer.Progress) {
				if p.Phase == clipxfer.PhaseDone {
					done <- p.Path
				}
			}}, nil)
		errc <- err
	}()
	for i := range 2 {
		m, data := putClip(t, store, uniq("f"), 50<<10+i)
		d.offer(t, m)
		select {
		case path := <-done:
			sameFile(t, path, data)
		case <-time.After(10 * time.Second):
			t.Fatalf("clip %d not pulled", i)
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
}

// A clip asked for by id that is not offered is an error.
func TestNotOffered(t *testing.T) {
	url := startBroker(t)
	_, err := receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: uniq("t/"), Dir: t.TempDir(), IDs: []string{"nope"},
		Settle: 100 * time.Millisecond}, nil)
	if !errors.Is(err, clipxfer.ErrNotOffered) {
		t.Errorf("err = %v", err)
	}
}
