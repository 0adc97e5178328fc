package clipxfer_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/broker"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// quiet is the tests' logger; CLIPXFER_DEBUG=1 shows everything.
var quiet = func() *slog.Logger {
	if os.Getenv("CLIPXFER_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}()

var seq atomic.Int64

// uniq returns a name unique in this test binary, so tests sharing a
// broker (Mosquitto keeps retained messages) never meet.
func uniq(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + strconv.FormatInt(seq.Add(1), 36)
}

// startBroker runs the embedded broker on a free loopback port and
// returns its URL.
func startBroker(tb testing.TB) string {
	tb.Helper()
	b := broker.New(broker.Options{Listen: "127.0.0.1:0", Logger: quiet})
	if err := b.Start(); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	return "tcp://" + b.Addr()
}

// clipData is size pseudo-random bytes (reproducible per seed).
func clipData(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, size)
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// putClip stores a clip of size bytes and returns its metadata and bytes.
func putClip(tb testing.TB, s *storage.Store, id string, size int) (storage.Meta, []byte) {
	tb.Helper()
	data := clipData(size, uint64(len(id))*7919+uint64(size))
	start := time.Now().UTC().Truncate(time.Millisecond)
	m := storage.Meta{ID: id, EventIDs: []string{"ev" + id}, Start: start, End: start.Add(15 * time.Second),
		Frames: 225, Codec: "mjpeg", Width: 640, Height: 480}
	if err := s.Put(m, data); err != nil {
		tb.Fatal(err)
	}
	m.Size = int64(len(data))
	return m, data
}

// diskStore opens a store whose digests are for chunks of chunk bytes (0:
// the default), as the daemon opens it for its Publisher.
func diskStore(tb testing.TB, chunk int) *storage.Store {
	s, err := storage.Open(tb.TempDir(), storage.Options{ChunkBytes: chunk, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// device is the device's side as the daemon wires it: one mqttpub client
// shared by the Publisher and the test's "events".
type device struct {
	mq    *mqttpub.Client
	pub   *clipxfer.Publisher
	store clipxfer.Store
	base  string
	ready chan struct{} // closed once subscribed after the first connect
}

// settle waits until the device offers n clips, with every manifest (and
// withdrawal) published and acknowledged. Tests subscribe to manifests
// only while the device is settled: the embedded broker (mochi) races a
// retained publish against a wildcard subscription over the same topics
// (mochi-mqtt/server#200), which the race detector reports.
func (d *device) settle(tb testing.TB, n int) {
	tb.Helper()
	waitFor(tb, "the device to settle", func() bool {
		st := d.pub.Stats()
		return st.Offered == n && st.Hashing == 0 && st.Queued == 0 && st.InFlight == 0 && st.ManifestsAcked == st.Manifests
	})
}

// offer offers m and waits for its manifest (and every other stored
// clip's) to be published.
func (d *device) offer(tb testing.TB, m storage.Meta) {
	tb.Helper()
	d.pub.Offer(m)
	d.settle(tb, len(d.store.List()))
}

// startDevice connects a device to url and runs its Publisher. set, if
// not nil, may install test hooks before Run.
func startDevice(tb testing.TB, url, base string, o clipxfer.PublisherOptions, set func(*clipxfer.Publisher)) *device {
	tb.Helper()
	d := &device{base: base, store: o.Store, ready: make(chan struct{})}
	var once sync.Once
	d.mq = mqttpub.New(mqttpub.Options{
		Broker: url, ClientID: uniq("dev-"), StatusTopic: base + "/status", Logger: quiet,
		OnConnect: func() {
			for _, f := range clipxfer.Filters(base) {
				d.mq.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
					d.pub.HandleMessage(m.Topic(), m.Payload(), m.Retained())
				}).WaitTimeout(5 * time.Second)
			}
			d.pub.Kick()
			once.Do(func() { close(d.ready) })
		},
	})
	o.Base, o.Client = base, d.mq
	if o.Logger == nil {
		o.Logger = quiet
	}
	d.pub = clipxfer.NewPublisher(o)
	if set != nil {
		set(d.pub)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.pub.Run(ctx) }()
	go func() { defer wg.Done(); d.mq.Run(ctx) }()
	d.mq.Connect()
	tb.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-d.ready:
	case <-time.After(15 * time.Second):
		tb.Fatal("device did not connect")
	}
	return d
}

// client connects a plain paho client (as doorbellctl does: clean
// session, in-order handlers).
func client(tb testing.TB, url string) paho.Client {
	tb.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(uniq("rcv-")).SetCleanSession(true).
		SetWriteTimeout(10 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("connect %s: %v", url, tok.Error())
	}
	tb.Cleanup(func() { c.Disconnect(50) })
	return c
}

// receive runs a Receiver for ids into dir and returns its error and the
// last progress of each clip.
func receive(ctx context.Context, c paho.Client, o clipxfer.ReceiverOptions, set func(*clipxfer.Receiver)) (map[string]clipxfer.Progress, error) {
	var mu sync.Mutex
	last := map[string]clipxfer.Progress{}
	prev := o.Progress
	o.Progress = func(p clipxfer.Progress) {
		mu.Lock()
		last[p.Clip.ID] = p
		mu.Unlock()
		if prev != nil {
			prev(p)
		}
	}
	o.Client = c
	if o.Logger == nil {
		o.Logger = quiet
	}
	r := clipxfer.NewReceiver(o)
	if set != nil {
		set(r)
	}
	err := r.Run(ctx)
	mu.Lock()
	defer mu.Unlock()
	return last, err
}

// sameFile fails unless path holds want.
func sameFile(tb testing.TB, path string, want []byte) {
	tb.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		tb.Fatalf("%s: %d bytes differ from the clip's %d", path, len(got), len(want))
	}
}

// noPartials fails if dir holds partial downloads.
func noPartials(tb testing.TB, dir string) {
	tb.Helper()
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if n := de.Name(); n[0] == '.' {
			tb.Errorf("left behind: %s", n)
		}
	}
}
