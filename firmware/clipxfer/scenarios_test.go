package clipxfer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

// The scenarios run against the embedded broker (unit tests) and against
// Mosquitto (integration tests).

// scenarioTransfer sends one clip of size bytes in chunks of chunk bytes
// and checks the file, the sidecar, the confirmation and the second pull.
func scenarioTransfer(t *testing.T, url string, size, chunk int) {
	store := diskStore(t, chunk)
	id := uniq("c")
	meta, data := putClip(t, store, id, size)
	var delivered []string
	var mu sync.Mutex
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: chunk, OnDelivered: func(id string) {
		mu.Lock()
		delivered = append(delivered, id)
		mu.Unlock()
	}}, nil)
	d.offer(t, meta)

	dir := t.TempDir()
	c := client(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	got, err := receive(ctx, c, clipxfer.ReceiverOptions{Base: base, Dir: dir, IDs: []string{id}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := got[id]
	t.Logf("%d bytes in %d chunks of %d in %v", size, p.Clip.Chunks, p.Clip.ChunkSize, time.Since(start))
	if p.Phase != clipxfer.PhaseDone || p.Fetched != p.Clip.Chunks || p.Resumed != 0 {
		t.Errorf("progress %+v", p)
	}
	if p.Path != clipxfer.Path(dir, p.Clip) || !strings.HasSuffix(p.Path, "_"+id+".mp4") {
		t.Errorf("path %s", p.Path)
	}
	sameFile(t, p.Path, data)
	noPartials(t, dir)
	var side clipxfer.Manifest
	b, err := os.ReadFile(strings.TrimSuffix(p.Path, ".mp4") + ".json")
	if err != nil || json.Unmarshal(b, &side) != nil {
		t.Fatalf("sidecar: %v %s", err, b)
	}
	if side.ID != id || side.EventIDs[0] != "ev"+id || side.Size != int64(size) || side.DurationMS != 15000 || side.Codec != "mjpeg" || !side.Start.Equal(meta.Start) {
		t.Errorf("sidecar %+v", side)
	}
	waitFor(t, "delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(delivered) == 1 && delivered[0] == id })

	// Pulling again finds the clip there and confirms it once more.
	got, err = receive(ctx, c, clipxfer.ReceiverOptions{Base: base, Dir: dir, IDs: []string{id}}, nil)
	if err != nil || got[id].Phase != clipxfer.PhaseHave {
		t.Errorf("second pull: %v %+v", err, got[id])
	}
	waitFor(t, "delivered twice", func() bool { mu.Lock(); defer mu.Unlock(); return len(delivered) == 2 })
	if st := d.pub.Stats(); st.ChunksSent != uint64(p.Clip.Chunks) || st.ChunksAcked != st.ChunksSent || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// scenarioResume cancels a receiver half way and lets a new one, on the
// same directory, finish without fetching everything again.
func scenarioResume(t *testing.T, url string) {
	store := diskStore(t, 16<<10)
	id := uniq("r")
	meta, data := putClip(t, store, id, 2<<20+123)
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: 16 << 10}, nil)
	d.offer(t, meta)
	dir := t.TempDir()
	c := client(t, url)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := receive(ctx, c, clipxfer.ReceiverOptions{Base: base, Dir: dir, IDs: []string{id}, Progress: func(p clipxfer.Progress) {
		if p.Have >= p.Clip.Size/2 {
			cancel() // the receiver is killed half way
		}
	}}, nil)
	if err == nil || ctx.Err() == nil {
		t.Fatalf("first receiver: %v, want canceled", err)
	}
	p1 := first[id]
	if p1.Phase != clipxfer.PhaseReceiving || p1.Have < p1.Clip.Size/2 || p1.Have == p1.Clip.Size {
		t.Fatalf("first receiver stopped at %+v", p1)
	}
	if _, err := os.Stat(filepath.Join(dir, "."+id+".part")); err != nil {
		t.Fatalf("no partial download: %v", err)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel2()
	second, err := receive(ctx2, client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: dir, IDs: []string{id}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p2 := second[id]
	total := p2.Clip.Chunks
	t.Logf("first run: %d of %d chunks; second: resumed %d bytes, fetched %d chunks", p1.Fetched, total, p2.Resumed, p2.Fetched)
	if p2.Phase != clipxfer.PhaseDone || p2.Resumed < p1.Clip.Size/2 || p2.Fetched >= total || p2.Fetched+int(p2.Resumed/int64(p2.Clip.ChunkSize)) < total {
		t.Errorf("second receiver %+v", p2)
	}
	sameFile(t, p2.Path, data)
	noPartials(t, dir)
}

// scenarioEventsFirst publishes an event on the device's connection in
// the middle of a transfer whose receiver asks for every chunk at once, so
// only the Publisher's window holds chunks back. An observer sees the
// device's messages in the order the broker got them: the event must come
// before every chunk handed to the client after it, and when it was
// published at most a window of chunks may have been unacknowledged ahead
// of it (a publisher without a window would have queued the whole clip).
func scenarioEventsFirst(t *testing.T, url string) {
	const size, chunk, window = 8 << 20, 64 << 10, 4
	store := diskStore(t, chunk)
	id := uniq("e")
	meta, data := putClip(t, store, id, size)
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: chunk, Window: window}, nil)
	d.offer(t, meta)
	chunks := size / chunk

	var mu sync.Mutex
	seen, before := 0, -1
	var arrived time.Time
	trigger := make(chan struct{}, 1)
	obs := client(t, url)
	h := func(_ paho.Client, m paho.Message) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(m.Topic(), "/event") {
			before, arrived = seen, time.Now()
			return
		}
		seen++
		if seen == chunks/4 {
			trigger <- struct{}{}
		}
	}
	if tok := obs.SubscribeMultiple(map[string]byte{base + "/event": 1, base + "/clips/+/chunk/+": 1}, h); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	type stamp struct {
		sentBefore, ackedBefore, sentAfter uint64
		at                                 time.Time
	}
	stamped := make(chan stamp, 1)
	go func() {
		<-trigger
		st := d.pub.Stats()
		at := time.Now()
		tok := d.mq.Publish(base+"/event", 1, false, []byte(`{"id":"x","event_type":"ring"}`))
		stamped <- stamp{st.ChunksSent, st.ChunksAcked, d.pub.Stats().ChunksSent, at}
		tok.WaitTimeout(10 * time.Second)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := receive(ctx, client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: t.TempDir(), IDs: []string{id}, Window: chunks}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, got[id].Path, data)
	s := <-stamped
	waitFor(t, "the event", func() bool { mu.Lock(); defer mu.Unlock(); return before >= 0 })
	mu.Lock()
	defer mu.Unlock()
	t.Logf("event published with %d chunks handed to the client, %d acknowledged; it arrived after %d chunks, %v later; the clip has %d",
		s.sentBefore, s.ackedBefore, before, arrived.Sub(s.at), chunks)
	if before > int(s.sentAfter) {
		t.Errorf("the event arrived after %d chunks, but only %d were handed to the client before it", before, s.sentAfter)
	}
	if ahead := s.sentBefore - s.ackedBefore; ahead > window {
		t.Errorf("%d chunks unacknowledged ahead of the event, window %d", ahead, window)
	}
	if before >= chunks-window {
		t.Errorf("the event arrived after %d of %d chunks: queued behind the clip", before, chunks)
	}
}

// waitFor polls cond for up to 10s, every 50µs at first, then less
// often (up to every 10ms).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pause := 50 * time.Microsecond; !cond(); pause = min(2*pause, 10*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pause)
	}
}

// offered returns the ids of the manifests retained under base, asking
// the broker again (a new subscription, each collecting for 300 ms) until
// they are want or 10 s have passed: a slow machine may deliver the
// retained messages after the first collection ends.
func offered(t testing.TB, url, base string, want []string) []string {
	t.Helper()
	c := client(t, url)
	for deadline := time.Now().Add(10 * time.Second); ; {
		ms, err := clipxfer.Offered(context.Background(), c, base, 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		if slices.Equal(ids, want) || time.Now().After(deadline) {
			return ids
		}
	}
}

// scenarioOwnerDone runs a device in storage.mode ram that requires its
// owner's key on a done: done messages anyone on the broker can make (the
// sha256 is in the public manifest) leave the clip stored and offered;
// the owner's Receiver, with the key, gets it freed and withdrawn.
func scenarioOwnerDone(t *testing.T, url string) {
	const chunk = 32 << 10
	store, err := storage.Open("", storage.Options{Mode: storage.ModeRAM, ChunkBytes: chunk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	id := uniq("m")
	meta, data := putClip(t, store, id, 300<<10)
	key := ownerkey.Generate()
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: chunk, OwnerKey: key, RequireOwnerDone: true,
		OnDelivered: func(id string) { store.MarkDelivered(id) }}, nil)
	d.offer(t, meta)
	if ids := offered(t, url, base, []string{id}); !slices.Equal(ids, []string{id}) {
		t.Fatalf("offered %v", ids)
	}

	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	other := strings.Repeat("0", 64)
	forged := []clipxfer.Done{
		{SHA256: hexSum}, // no MAC: what every receiver sent before
		clipxfer.SignDone(ownerkey.Generate(), id, hexSum),                // another key
		{SHA256: hexSum, MAC: clipxfer.SignDone(key, "c"+id, hexSum).MAC}, // the owner's MAC of another clip
		{SHA256: hexSum, MAC: clipxfer.SignDone(key, id, other).MAC},      // the owner's MAC of other bytes
		{SHA256: hexSum, MAC: strings.Repeat("ab", 32)},                   // a made-up MAC
	}
	att := client(t, url)
	for _, f := range forged {
		b, _ := json.Marshal(f)
		if tok := att.Publish(clipxfer.DoneTopic(base, id), 1, false, b); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	waitFor(t, "the forged dones refused", func() bool { return d.pub.Stats().DonesRefused == uint64(len(forged)) })
	d.settle(t, 1)
	if _, ok := store.Lookup(id); !ok {
		t.Fatal("a forged done freed the clip")
	}
	if st := d.pub.Stats(); st.Delivered != 0 || st.Withdrawn != 0 || st.Offered != 1 {
		t.Errorf("after forged dones: stats %+v", st)
	}
	if ids := offered(t, url, base, []string{id}); !slices.Equal(ids, []string{id}) {
		t.Fatalf("after forged dones: offered %v, want the clip still", ids)
	}

	// The owner pulls it: freed and withdrawn, as without a key.
	got, err := receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: t.TempDir(), OwnerKey: key}, nil)
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
	if st := d.pub.Stats(); st.Delivered != 1 || st.DonesRefused != uint64(len(forged)) {
		t.Errorf("stats %+v", st)
	}
}

// floodResult is what a want flood made the device send.
type floodResult struct {
	clip  int64 // the clip's size
	stats clipxfer.PublisherStats
	seen  int64 // chunk bytes a subscriber got from the broker
}

// scenarioWantFlood stores one clip and publishes wants whole-clip wants
// for it, as anyone on a shared broker can. Paced, each want is sent once
// the device has handled the one before (and sent all it decided to), 3s
// apart on the device's (fake) clock: the pace that made a device without
// limits send the whole clip for each. Otherwise the wants come at once.
// o is the Publisher's options (Store, ChunkBytes and Clock are set here).
func scenarioWantFlood(t *testing.T, url string, wants int, paced bool, o clipxfer.PublisherOptions) floodResult {
	const size, chunk = 20<<10 + 123, 4 << 10 // 6 chunks, the last short
	store := diskStore(t, chunk)
	id := uniq("a")
	meta, _ := putClip(t, store, id, size)
	clock := clockwork.NewFakeClock()
	o.Store, o.ChunkBytes, o.Clock = store, chunk, clock
	base := uniq("t/")
	d := startDevice(t, url, base, o, nil)
	d.offer(t, meta)

	var seen atomic.Int64
	obs := client(t, url)
	if tok := obs.Subscribe(clipxfer.ChunkFilter(base, id), 1, func(_ paho.Client, m paho.Message) { seen.Add(int64(len(m.Payload()))) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	chunks := (size + chunk - 1) / chunk
	payload := []byte(`{"chunks":[[0,` + strconv.Itoa(chunks-1) + `]]}`)
	// idle: the device has taken n wants and sent what it decided to,
	// and, if all, the subscriber has it.
	idle := func(n int, all bool) func() bool {
		return func() bool {
			st := d.pub.Stats()
			return st.Wants == uint64(n) && st.Queued == 0 && st.Pending == 0 && st.InFlight == 0 && (!all || seen.Load() == int64(st.BytesSent))
		}
	}
	att := client(t, url)
	defer func() {
		if t.Failed() {
			t.Logf("device: %+v; the subscriber got %d bytes", d.pub.Stats(), seen.Load())
		}
	}()
	for i := range wants {
		if tok := att.Publish(clipxfer.WantTopic(base, id), 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		if paced {
			waitFor(t, "the device to handle a want", idle(i+1, true))
			clock.Advance(3 * time.Second)
		}
	}
	// Wants at once without limits may send more than a subscriber
	// takes in time: a broker may drop some for it (the embedded one
	// does).
	waitFor(t, "the device to handle every want", idle(wants, paced || o.ClipBudget >= 0))
	st := d.pub.Stats()
	t.Logf("%d wants of %d bytes (%d bytes in all) for a clip of %d bytes: %d bytes sent (%.1f× the clip), %d chunks joined, %d over budget",
		wants, len(payload), wants*len(payload), size, st.BytesSent, float64(st.BytesSent)/size, st.ChunksJoined, st.OverBudget)
	return floodResult{clip: size, stats: st, seen: seen.Load()}
}
