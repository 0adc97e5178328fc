package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/broker"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

// clipDevice runs a doorbell's clip side on an embedded broker with the
// given clips stored, and returns the broker URL and the clips' bytes.
func clipDevice(t *testing.T, base string, sizes ...int) (string, map[string][]byte) {
	t.Helper()
	url := embeddedBroker(t)
	return url, runClipDevice(t, url, nil, base, sizes...)
}

// embeddedBroker runs an embedded broker on loopback until the test ends
// and returns its URL.
func embeddedBroker(t *testing.T) string {
	t.Helper()
	b := broker.New(broker.Options{Listen: "127.0.0.1:0", Logger: quietLog})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() { defer wg.Done(); b.Run(ctx) }()
	url := "tcp://" + b.Addr()
	return url
}

// runClipDevice runs a doorbell's clip side connected to the broker at
// url (with TLS settings tc for an ssl:// one) until the test ends, with
// the given clips stored, and returns the clips' bytes.
func runClipDevice(t *testing.T, url string, tc *tls.Config, base string, sizes ...int) map[string][]byte {
	t.Helper()
	clips, _ := runClipDeviceWith(t, url, tc, base, clipxfer.PublisherOptions{}, sizes...)
	return clips
}

// runClipDeviceWith is runClipDevice with the Publisher's options o
// (Base, Client, Store and ChunkBytes are set here); it returns the
// Publisher too.
func runClipDeviceWith(t *testing.T, url string, tc *tls.Config, base string, o clipxfer.PublisherOptions, sizes ...int) (map[string][]byte, *clipxfer.Publisher) {
	t.Helper()
	return runClipDeviceStore(t, url, tc, base, o, storage.Options{}, sizes...)
}

// runClipDeviceStore is runClipDeviceWith with the store's options so
// (ChunkBytes and Logger are set here).
func runClipDeviceStore(t *testing.T, url string, tc *tls.Config, base string, o clipxfer.PublisherOptions, so storage.Options, sizes ...int) (map[string][]byte, *clipxfer.Publisher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	so.ChunkBytes, so.Logger = 64<<10, quietLog // the Publisher's
	store, err := storage.Open(t.TempDir(), so)
	if err != nil {
		t.Fatal(err)
	}
	clips := map[string][]byte{}
	start := time.Date(2026, 11, 26, 19, 38, 14, 0, time.UTC)
	for i, size := range sizes {
		data := make([]byte, size)
		rand.Read(data)
		id := "clip" + string(rune('a'+i))
		m := storage.Meta{ID: id, EventIDs: []string{"ev" + id}, Start: start.Add(time.Duration(i) * time.Minute), Codec: "mjpeg"}
		m.End = m.Start.Add(12 * time.Second)
		if err := store.Put(m, data); err != nil {
			t.Fatal(err)
		}
		clips[id] = data
	}
	var pub *clipxfer.Publisher
	ready := make(chan struct{})
	var once sync.Once
	var mq *mqttpub.Client
	mq = mqttpub.New(mqttpub.Options{Broker: url, ClientID: "dev", TLS: tc, StatusTopic: base + "/status", Logger: quietLog, OnConnect: func() {
		for _, f := range clipxfer.Filters(base) {
			mq.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { pub.HandleMessage(m.Topic(), m.Payload(), m.Retained()) }).Wait()
		}
		pub.Kick()
		once.Do(func() { close(ready) })
	}})
	o.Base, o.Client, o.Store, o.ChunkBytes, o.Logger = base, mq, store, 64<<10, quietLog
	pub = clipxfer.NewPublisher(o)
	wg.Add(2)
	go func() { defer wg.Done(); pub.Run(ctx) }()
	go func() { defer wg.Done(); mq.Run(ctx) }()
	mq.Connect()
	<-ready
	// Settled: every manifest published and acknowledged (the embedded
	// broker races retained publishes against wildcard subscriptions,
	// mochi-mqtt/server#200).
	for {
		st := pub.Stats()
		if st.Offered == len(sizes) && st.Hashing == 0 && st.Queued == 0 && st.InFlight == 0 && st.ManifestsAcked == st.Manifests {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return clips, pub
}

func TestClipsPullAndList(t *testing.T) {
	url, clips := clipDevice(t, "p/front", 700<<10, 3<<20+5)
	conn := []string{"--broker", url, "--prefix", "p", "--device", "front"} // the default --wait

	code, out, errs := runCLI(t, nil, append([]string{"clips", "list"}, conn...)...)
	if code != 0 || !strings.Contains(out, "clipa") || !strings.Contains(out, "clipb") || !strings.Contains(errs, "2 clips offered by p/front") {
		t.Fatalf("list: %d %s %s", code, out, errs)
	}
	if strings.Index(out, "clipb") > strings.Index(out, "clipa") {
		t.Errorf("list not newest first:\n%s", out)
	}

	dir := t.TempDir()
	code, out, errs = runCLI(t, nil, append([]string{"clips", "pull", "--out", dir}, conn...)...)
	if code != 0 || strings.Count(out, "sha256 ok") != 2 || !strings.Contains(errs, "2 clips pulled, 0 already here") {
		t.Fatalf("pull: %d %s %s", code, out, errs)
	}
	for id, data := range clips {
		files, _ := filepath.Glob(filepath.Join(dir, "*_"+id+".mp4"))
		if len(files) != 1 {
			t.Fatalf("%s: %v", id, files)
		}
		if got, _ := os.ReadFile(files[0]); !bytes.Equal(got, data) {
			t.Errorf("%s differs", files[0])
		}
	}

	code, out, errs = runCLI(t, nil, append([]string{"clips", "pull", "--out", dir, "--clip", "clipa"}, conn...)...)
	if code != 0 || !strings.Contains(out, "already here") || !strings.Contains(errs, "0 clips pulled, 1 already here") {
		t.Errorf("pull again: %d %s %s", code, out, errs)
	}
	code, out, _ = runCLI(t, nil, append([]string{"clips", "list", "--out", dir}, conn...)...)
	if code != 0 || strings.Count(out, "(here)") != 2 {
		t.Errorf("list --out: %d %s", code, out)
	}
	code, _, errs = runCLI(t, nil, append([]string{"clips", "pull", "--out", dir, "--clip", "nope"}, conn...)...)
	if code != 1 || !strings.Contains(errs, "clip nope: clip not offered") {
		t.Errorf("pull of a clip not offered: %d %s", code, errs)
	}
}

// Interrupted, pull keeps the partial download and says how to resume;
// with --follow, Ctrl-C is the normal end.
func TestClipsPullInterrupted(t *testing.T) {
	url, _ := clipDevice(t, "doorbell/doorbell", 64<<10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, now: time.Now}
	if code := run(e, []string{"clips", "pull", "--broker", url, "--out", t.TempDir()}); code != 1 || !strings.Contains(errb.String(), "run it again to resume") {
		t.Errorf("interrupted pull: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := run(e, []string{"clips", "pull", "--follow", "--broker", url, "--out", t.TempDir()}); code != 0 {
		t.Errorf("interrupted follow: %d %s", code, errb.String())
	}
}

func TestClipsUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"clips"}, 2, "pull"},
		{[]string{"clips", "help"}, 0, "list"},
		{[]string{"clips", "pull"}, 2, "want --out DIR"},
		{[]string{"clips", "pull", "--out", "d", "--clip", "a/b"}, 2, `--clip "a/b"`},
		{[]string{"clips", "pull", "--out", "d", "--window", "0"}, 2, "--window 0"},
		{[]string{"clips", "pull", "--out", "d", "--broker", "http://h:1"}, 2, "scheme http"},
		{[]string{"clips", "list", "x"}, 2, "want no arguments"},
		{[]string{"help"}, 0, "clips"},
	} {
		code, out, errs := runCLI(t, nil, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("%v: exit %d, want %d with %q", c.args, code, c.code, c.want)
		}
	}
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// With --owner-key (or DOORBELL_OWNER_KEY_FILE) pull signs its dones, and
// a doorbell that requires the owner key takes them; without, it keeps
// the clip.
func TestClipsPullOwnerKey(t *testing.T) {
	b := broker.New(broker.Options{Listen: "127.0.0.1:0", Logger: quietLog})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	url := "tcp://" + b.Addr()

	keyFile := filepath.Join(t.TempDir(), "owner.key")
	if code, _, errs := runCLI(t, nil, "owner-key", keyFile); code != 0 {
		t.Fatalf("owner-key: %d %s", code, errs)
	}
	key, err := ownerkey.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var delivered []string
	_, pub := runClipDeviceWith(t, url, nil, "k/front", clipxfer.PublisherOptions{OwnerKey: key, RequireOwnerDone: true,
		OnDelivered: func(id string) { mu.Lock(); delivered = append(delivered, id); mu.Unlock() }}, 100<<10)
	conn := []string{"--broker", url, "--prefix", "k", "--device", "front", "--clip", "clipa"}
	dir := t.TempDir()

	code, _, errs := runCLI(t, nil, append([]string{"clips", "pull", "--out", dir}, conn...)...)
	if code != 0 || !strings.Contains(errs, "1 clips pulled") || strings.Contains(errs, "confirming each clip signed") {
		t.Fatalf("pull without a key: %d %s", code, errs)
	}
	waitUntil(t, "the unsigned done refused", func() bool { return pub.Stats().DonesRefused == 1 })

	// Pulling again with the key confirms the clip already here, signed.
	for i, c := range []struct {
		env  map[string]string
		args []string
	}{
		{nil, []string{"--owner-key", keyFile}},
		{map[string]string{"DOORBELL_OWNER_KEY_FILE": keyFile}, nil},
	} {
		code, _, errs = runCLI(t, c.env, append(append([]string{"clips", "pull", "--out", dir}, c.args...), conn...)...)
		if code != 0 || !strings.Contains(errs, "1 already here") || !strings.Contains(errs, "confirming each clip signed with owner key "+key.ID()) {
			t.Fatalf("pull %d with the key: %d %s", i, code, errs)
		}
		waitUntil(t, "the signed done delivered", func() bool { return pub.Stats().Delivered == uint64(i+1) })
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != 2 || delivered[0] != "clipa" || pub.Stats().DonesRefused != 1 {
		t.Errorf("delivered %v, stats %+v", delivered, pub.Stats())
	}
}

func TestClipsPullOwnerKeyErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("# too short\nabcd\n"), 0o600)
	missing := filepath.Join(dir, "missing.key")
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--owner-key", bad}, "--owner-key: ownerkey: " + bad + ": line 2: a key of 2 bytes, want at least 32"},
		{map[string]string{"DOORBELL_OWNER_KEY_FILE": missing}, nil, "DOORBELL_OWNER_KEY_FILE: ownerkey: open " + missing},
	} {
		code, _, errs := runCLI(t, c.env, append([]string{"clips", "pull", "--out", dir, "--broker", "tcp://127.0.0.1:1"}, c.args...)...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Contains(errs, "connect") {
			t.Errorf("%v %v: exit %d %s, want 1 with %q before connecting", c.env, c.args, code, errs, c.want)
		}
	}
}

// waitUntil polls cond for up to 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
