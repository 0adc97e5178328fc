package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// staller is what TestStaller measures.
type staller struct {
	sent, delivered int
	elapsed, maxGap time.Duration
}

// stall has a raw client subscribe to '#' at qos and never read its
// socket, while a publisher sends n messages of size bytes at QoS 1 (as
// doorbelld publishes its events) and a watcher
// subscribed to them must receive every one, in order, then a marker.
// The publisher keeps at most window messages ahead of the watcher, so
// the watcher alone can never fall behind enough to be dropped: whatever
// stops it is the staller.
func stall(t *testing.T, b *Broker, qos byte, n, size int) staller {
	t.Helper()
	const window = 256
	rec := subscribe(t, mustDial(t, b, reader, "watcher"), "load/#", 0)
	pub := mustDial(t, b, owner, "publisher")
	st, err := rawConnect(t, b.Addr(), reader, "staller", nil)
	if err != nil {
		t.Fatal(err)
	}
	st.subscribe(t, "#", qos)

	begin := time.Now()
	sent := make(chan int, 1)
	go func() {
		for i := range n {
			if !rec.until(wait-time.Since(begin), func(ms []msg) bool { return len(ms) >= i-window }) {
				sent <- i
				return
			}
			p := make([]byte, size)
			binary.BigEndian.PutUint64(p, uint64(i))
			pub.Publish("load/x", 1, false, p)
		}
		pub.Publish("load/end", 1, false, "end")
		sent <- n
	}()
	var f staller
	select {
	case f.sent = <-sent:
	case <-time.After(wait):
		f.sent = -1 // the publisher itself is stuck
	}
	rec.until(wait-time.Since(begin), rec.has("load/end"))
	f.elapsed = time.Since(begin)
	ms := rec.all()
	f.delivered = len(ms)
	for i, m := range ms {
		if i > 0 && m.at.Sub(ms[i-1].at) > f.maxGap {
			f.maxGap = m.at.Sub(ms[i-1].at)
		}
		if i < n && (m.topic != "load/x" || binary.BigEndian.Uint64([]byte(m.head)) != uint64(i)) {
			t.Fatalf("message %d: %s seq %d", i, m.topic, binary.BigEndian.Uint64([]byte(m.head)))
		}
	}
	return f
}

// TestStaller: a client that subscribes to everything and stops reading
// must not delay anyone else, and is dropped. Before the fix (run with
// -broker.legacy) a QoS 1 staller stops every delivery: mochi writes to
// its socket holding the client's lock, and every publisher to it waits
// for that lock (see the package comment).
func TestStaller(t *testing.T) {
	const n, size = 20000, 4 << 10
	for _, qos := range []byte{0, 1} {
		t.Run([]string{"qos0", "qos1"}[qos], func(t *testing.T) {
			b := start(t, defended(withAccounts(Options{})))
			f := stall(t, b, qos, n, size)
			t.Logf("legacy=%v qos %d: published %d of %d, watcher got %d messages in %v, longest gap %v; stats %+v",
				*legacy, qos, f.sent, n, f.delivered, f.elapsed.Round(time.Millisecond), f.maxGap.Round(time.Millisecond), b.Stats())
			if f.sent != n || f.delivered != n+1 {
				t.Fatalf("the watcher got %d of %d messages and the marker in %v", f.delivered, n, f.elapsed)
			}
			if *legacy {
				return // no stats to wait for
			}
			waitStats(t, b, "the staller dropped", func(s Stats) bool { return s.SlowClients == 1 })
		})
	}
}

// TestWriteTimeout: with bounds the published bytes cannot reach (write
// buffer, queued messages), a client that takes nothing for WriteTimeout
// is dropped all the same, and the others get everything meanwhile. At
// QoS 1 this is the stall itself, with nothing else to end it: before the
// fix, every publish waited for the staller's blocked write.
func TestWriteTimeout(t *testing.T) {
	const n, size = 8000, 4 << 10 // 32 MiB: more than the sockets hold
	for _, qos := range []byte{0, 1} {
		t.Run([]string{"qos0", "qos1"}[qos], func(t *testing.T) {
			b := start(t, defended(withAccounts(Options{
				WriteBuffer: 64 << 20, MaxQueued: 32767, MaxQueuedBytes: 64 << 20, WriteTimeout: time.Second,
			})))
			f := stall(t, b, qos, n, size)
			t.Logf("legacy=%v qos %d: published %d of %d, watcher got %d messages in %v, longest gap %v",
				*legacy, qos, f.sent, n, f.delivered, f.elapsed.Round(time.Millisecond), f.maxGap.Round(time.Millisecond))
			if f.sent != n || f.delivered != n+1 {
				t.Fatalf("the watcher got %d of %d messages and the marker", f.delivered, n)
			}
			waitStats(t, b, "the staller dropped", func(s Stats) bool { return s.SlowClients == 1 })
		})
	}
}

// TestRunWithStaller: closing the broker does not wait for a client that
// does not read (mochi's Close writes a DISCONNECT to each client).
func TestRunWithStaller(t *testing.T) {
	o := defended(withAccounts(Options{Listen: "127.0.0.1:0", Logger: discard}))
	b := New(o)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- b.Run(ctx) }()
	st, err := rawConnect(t, b.Addr(), reader, "staller", nil)
	if err != nil {
		t.Fatal(err)
	}
	st.subscribe(t, "#", 1)
	pub := mustDial(t, b, owner, "publisher")
	for range 4000 { // 16 MiB: the staller's socket is full
		pub.Publish("load/x", 0, false, make([]byte, 4<<10))
	}
	roundTrip(t, pub)
	cancel()
	begin := time.Now()
	select {
	case <-ran:
		t.Logf("Run returned in %v", time.Since(begin).Round(time.Millisecond))
	case <-time.After(wait):
		st.Close() // let the legacy broker go
		<-ran
		t.Fatalf("Run took %v", time.Since(begin))
	}
}

// TestOversize: a packet announced over MaxPacketSize disconnects its
// sender after the fixed header, before the body is read; the 8 MiB body
// never reaches the broker's heap nor a subscriber.
func TestOversize(t *testing.T) {
	const size = 8 << 20
	b := start(t, defended(withAccounts(Options{})))
	rec := subscribe(t, mustDial(t, b, reader, "watcher"), "big/#", 0)
	big, err := rawConnect(t, b.Addr(), owner, "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, werr := big.Write(publishHeader("big/x", size))
	written := 0
	for ; werr == nil && written < size; written += len(chunk) {
		_, werr = big.Write(chunk)
	}
	// The broker closes the connection: reading ends (EOF or reset), it
	// does not time out.
	_ = big.SetReadDeadline(time.Now().Add(wait))
	_, rerr := io.Copy(io.Discard, big)
	var ne net.Error
	if errors.As(rerr, &ne) && ne.Timeout() {
		t.Errorf("the broker kept the connection after an %d-byte packet", size)
	}
	if !*legacy {
		waitStats(t, b, "the oversize refusal", func(s Stats) bool { return s.OversizeRefused == 1 })
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("legacy=%v: wrote %d of %d bytes (%v); allocated %d KiB meanwhile; heap %d KiB -> %d KiB after GC",
		*legacy, written, size, werr, allocated>>10, before.HeapAlloc>>10, after.HeapAlloc>>10)

	// A real client (paho) sending the same is disconnected too.
	lost := make(chan error, 1)
	pc := mustDial(t, b, owner, "big-paho", func(o *paho.ClientOptions) {
		o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	})
	pc.Publish("big/y", 0, false, make([]byte, size))
	select {
	case <-lost:
	case <-time.After(wait):
		t.Error("paho client not disconnected after an 8 MiB publish")
	}

	done(t, mustDial(t, b, owner, "owner").Publish("big/x", 1, false, "marker"), "marker")
	if !rec.until(wait, rec.has("big/x")) {
		t.Fatal("marker lost")
	}
	if ms := rec.all(); ms[0].size != len("marker") {
		t.Errorf("a subscriber got a %d-byte message", ms[0].size)
	}
	if allocated > 2<<20 {
		t.Errorf("the broker allocated %d KiB for a refused %d KiB packet", allocated>>10, size>>10)
	}
}

// TestSessionBounded: a client with a kept session (clean session off)
// that leaves finds at most MaxQueued messages and MaxQueuedBytes when it
// comes back, the oldest ones; the rest were dropped and counted.
func TestSessionBounded(t *testing.T) {
	const n, size = 1000, 1 << 10
	for _, tc := range []struct {
		name         string
		count, bytes int
		wantMax      int
	}{
		{"count", 100, 1 << 20, 100},
		{"bytes", 1000, 64 << 10, (64 << 10) / (size + len("news/x") + 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := start(t, defended(withAccounts(Options{MaxQueued: tc.count, MaxQueuedBytes: tc.bytes})))
			gone := watch(t, b)
			persistent := func(o *paho.ClientOptions) { o.SetCleanSession(false) }
			away := mustDial(t, b, reader, "away", persistent)
			subscribe(t, away, "news/#", 1)
			away.Disconnect(0)
			waitGone(t, gone, "away")

			pub := mustDial(t, b, owner, "publisher")
			for i := range n {
				p := make([]byte, size)
				binary.BigEndian.PutUint64(p, uint64(i))
				pub.Publish("news/x", 1, false, p)
			}
			roundTrip(t, pub)
			cl, _ := b.srv.Clients.Get("away")
			kept, bytes := 0, 0
			for _, pk := range cl.State.Inflight.GetAll(false) {
				kept++
				bytes += len(pk.Payload)
			}
			t.Logf("legacy=%v: %d of %d messages kept for the session, %d KiB of payload; stats %+v",
				*legacy, kept, n, bytes>>10, b.Stats())

			rec := newRecorder()
			mustDial(t, b, reader, "away", persistent, func(o *paho.ClientOptions) { o.SetDefaultPublishHandler(rec.handle) })
			if !rec.until(wait, func(ms []msg) bool { return len(ms) >= kept }) {
				t.Fatalf("got %d of the %d kept messages", len(rec.all()), kept)
			}
			for _, m := range rec.all() { // mochi resends in no particular order
				if seq := binary.BigEndian.Uint64([]byte(m.head)); seq >= uint64(kept) {
					t.Errorf("message seq %d, want the %d oldest", seq, kept)
					break
				}
			}
			if kept > tc.wantMax || kept < tc.wantMax-1 {
				t.Errorf("%d messages kept, want %d", kept, tc.wantMax)
			}
			if s := b.Stats(); s.SessionDropped != uint64(n-kept) {
				t.Errorf("stats %+v, want %d session drops", s, n-kept)
			}
		})
	}
}

// TestConnectTimeout: a connection that never sends CONNECT is closed.
func TestConnectTimeout(t *testing.T) {
	b := start(t, Options{ConnectTimeout: 100 * time.Millisecond})
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read: %v, want EOF", err)
	}
}
