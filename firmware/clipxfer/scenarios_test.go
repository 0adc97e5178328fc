package clipxfer_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/clipxfer"
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

// waitFor polls cond for up to 10s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
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
