package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/capturetest"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/command"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

// commandsReady waits until the daemon hears commands: it sends a
// malformed one until the daemon has refused one.
func commandsReady(t *testing.T, r *running) {
	t.Helper()
	tp := r.d.Topics()
	before := r.d.rejected.Load()
	// Generous: under qemu-user on a busy machine (cross-test.sh) the
	// first command has been seen to take long to arrive.
	deadline := time.Now().Add(90 * time.Second)
	for r.d.rejected.Load() == before {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not hear a command in 90s (connected %v)", r.d.MQTTConnected())
		}
		publish(t, r.d.brokerURL(), tp.Command("privacy"), false, "PROBE")
		for i := 0; i < 100 && r.d.rejected.Load() == before; i++ {
			time.Sleep(10 * time.Millisecond) // polling a counter, not a timing assumption
		}
	}
}

// flood publishes n messages on topic, QoS 1, from one client, as fast as
// paho sends them, and waits until the broker has them all.
func flood(t *testing.T, broker, topic string, n int, payload func(i int) string) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("flood-" + topic).SetMaxResumePubInFlight(1000))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(50)
	toks := make([]paho.Token, 0, n)
	for i := 0; i < n; i++ {
		toks = append(toks, c.Publish(topic, 1, false, payload(i)))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
			t.Fatalf("flood publish: %v", tok.Error())
		}
	}
}

// 20,000 privacy commands in a burst (the attack sent them in 0.4 s) are
// refused at the gate but for a handful; the bell rings right after, and
// the switch ends as the last accepted command said.
func TestCommandFloodIsRateLimited(t *testing.T) {
	c := simConfig(t, testBroker())
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), tp.Event)
	commandsReady(t, r)
	began := time.Now()
	const n = 20000
	flood(t, r.d.brokerURL(), tp.Command("privacy"), n, func(i int) string {
		if i%2 == 0 {
			return "ON"
		}
		return "OFF"
	})
	// The broker may drop part of a flood; what reaches the daemon is
	// judged in paho's goroutines. A probe refused after the flood shows
	// the daemon still hears commands.
	commandsReady(t, r)
	st := r.d.commandStats()
	p := command.Policies[command.Privacy]
	if limit := uint64(p.Burst) + uint64(time.Since(began)/p.Every) + 1; st.Accepted > limit {
		t.Errorf("%d of %d privacy commands accepted in %v; want at most %d", st.Accepted, n, time.Since(began), limit)
	}
	pressed := time.Now()
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e, m := nextEvent(t, ch, tp, 10*time.Second)
	if e.Type != event.Ring {
		t.Fatalf("event %s after the flood, want ring", e.Type)
	}
	t.Logf("flood of %d: %d reached the daemon, %d accepted; ring received %v after the press",
		n, st.Accepted+st.Rejected, st.Accepted, m.at.Sub(pressed).Round(time.Millisecond))
}

// 2,000 snapshot commands publish a handful of JPEGs: one in flight, the
// rest fold into it or are rate-limited.
func TestSnapshotCommandsFold(t *testing.T) {
	c := simConfig(t, testBroker())
	r := start(t, c)
	waitCamera(t, r)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), tp.SnapshotInfo)
	commandsReady(t, r)
	began := time.Now()
	const n = 2000
	flood(t, r.d.brokerURL(), tp.Command("snapshot"), n, func(int) string { return "PRESS" })
	commandsReady(t, r)
	waitFor(t, "the last snapshot to be sent", func() bool { return !r.d.snapCmd.Load() && len(r.d.cmds) == 0 })
	took := time.Since(began)
	st := r.d.commandStats()
	p := command.Policies[command.Snapshot]
	limit := uint64(p.Burst) + uint64(took/p.Every) + 1
	if st.Accepted > limit {
		t.Errorf("%d snapshot commands accepted in %v; want at most %d", st.Accepted, took.Round(time.Millisecond), limit)
	}
	// Every accepted one is published (the info retained topic says so),
	// except those the camera could not give (a starved machine: the
	// sim camera's frames late, each such failure logged and counted).
	failed := r.d.snaps.failed.Load()
	got := 0
	for got < int(st.Accepted-failed) {
		m := next(t, ch, tp.SnapshotInfo, 10*time.Second)
		if !m.retained || got > 0 {
			got++
		}
	}
	t.Logf("%d snapshot commands in %v: %d accepted (%d the camera could not give), %d folded, %d refused", n, took.Round(time.Millisecond), st.Accepted, failed, st.Folded, st.Rejected-1)
}

// A client that sends restart whenever the doorbell comes online gets at
// most three restarts an hour, counted across restarts.
func TestRestartCommandsCapped(t *testing.T) {
	c := simConfig(t, testBroker())
	now := time.Now()
	recent := []time.Time{now.Add(-50 * time.Minute), now.Add(-20 * time.Minute), now.Add(-time.Minute)}
	b, _ := json.Marshal(recent)
	if err := os.WriteFile(filepath.Join(c.Storage.Dir, "restarts.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, c)
	tp := r.d.Topics()
	commandsReady(t, r)
	rejected := r.d.rejected.Load()
	publish(t, r.d.brokerURL(), tp.Command("restart"), false, "PRESS")
	waitFor(t, "the restart command to be refused", func() bool { return r.d.rejected.Load() > rejected })
	select {
	case err := <-r.done:
		t.Fatalf("daemon stopped (%v) on a fourth restart within the hour", err)
	default:
	}
	if st := r.d.commandStats(); st.Restarts != 3 {
		t.Errorf("restarts in the last hour %d, want 3", st.Restarts)
	}
}

func TestRestartLogWindow(t *testing.T) {
	dir := t.TempDir()
	rl, err := loadRestarts(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for i := 0; i < maxRestarts; i++ {
		if err := rl.take(t0.Add(time.Duration(i) * time.Minute)); err != nil {
			t.Fatalf("restart %d refused: %v", i+1, err)
		}
	}
	if err := rl.take(t0.Add(10 * time.Minute)); err == nil {
		t.Fatal("fourth restart within the hour accepted")
	}
	// Persisted: a new process counts the same.
	rl2, err := loadRestarts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := rl2.take(t0.Add(30 * time.Minute)); err == nil {
		t.Fatal("fourth restart accepted after reloading")
	}
	// An hour after the first, one more.
	if err := rl2.take(t0.Add(time.Hour)); err != nil {
		t.Fatalf("restart an hour after the first refused: %v", err)
	}
}

// In storage.mode ram a clip is freed only by a done signed with the
// owner key: a forged one (its sha256 is in the public manifest) frees
// nothing, the owner's pull does.
func TestRAMClipFreedOnlyByOwner(t *testing.T) {
	c := simConfig(t, testBroker())
	c.Capture.PreRoll = durCfg(time.Second)
	c.Capture.PostRoll = durCfg(time.Second)
	key := ownerkey.Generate()
	c.MQTT.OwnerKeyFile = filepath.Join(t.TempDir(), "owner.key")
	if err := os.WriteFile(c.MQTT.OwnerKeyFile, key.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Storage.Mode = "ram"
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), tp.Clip)
	waitCamera(t, r)
	waitPreRoll(t, r, c.Capture.PreRoll.D())
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var meta storage.Meta
	if err := json.Unmarshal(next(t, ch, tp.Clip, 10*time.Second).payload, &meta); err != nil {
		t.Fatal(err)
	}
	manifests := subscribe(t, r.d.brokerURL(), clipxfer.ManifestTopic(tp.Base, meta.ID))
	var man clipxfer.Manifest
	if err := json.Unmarshal(next(t, manifests, clipxfer.ManifestTopic(tp.Base, meta.ID), 10*time.Second).payload, &man); err != nil {
		t.Fatal(err)
	}
	// Forged: the right sha256, no mac; then a wrong mac.
	// Sent again until counted: the daemon may not have subscribed yet.
	forged := []string{`{"sha256":"` + man.SHA256 + `"}`, `{"sha256":"` + man.SHA256 + `","mac":"` + strings.Repeat("0", 64) + `"}`}
	deadline := time.Now().Add(90 * time.Second)
	for r.d.xfer.Stats().DonesRefused < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("forged dones not judged in 90s: %+v", r.d.xfer.Stats())
		}
		for _, p := range forged {
			publish(t, r.d.brokerURL(), tp.ClipDoneTopic(meta.ID), false, p)
		}
		for i := 0; i < 100 && r.d.xfer.Stats().DonesRefused < 2; i++ {
			time.Sleep(10 * time.Millisecond) // polling a counter
		}
	}
	if r.d.clips.Stats().Clips != 1 {
		t.Fatalf("clips in RAM after forged dones: %d, want 1", r.d.clips.Stats().Clips)
	}
	// The owner's pull frees it.
	pc := paho.NewClient(paho.NewClientOptions().AddBroker(r.d.brokerURL()).SetClientID(fmt.Sprintf("owner-puller-%d-%d", os.Getpid(), testSeq.Add(1))))
	if tok := pc.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pc.Disconnect(50)
	rcv := clipxfer.NewReceiver(clipxfer.ReceiverOptions{Client: pc, Base: tp.Base, Dir: t.TempDir(), IDs: []string{meta.ID}, OwnerKey: key})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rcv.Run(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the owner's done to free the clip", func() bool { return r.d.clips.Stats().Clips == 0 })
}

// A snapshot over 1 MiB (a big frame of noise) is published downscaled
// below the limit brokers take, never as a message the broker would
// drop the daemon's connection for.
func TestSnapshotOverLimitDownscaled(t *testing.T) {
	const w, h = 2048, 1536
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rnd.Uint32())
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() <= maxSnapshotBytes {
		t.Fatalf("test frame is only %d bytes", buf.Len())
	}
	f := capture.Format{PixelFormat: capture.PixMJPEG, Width: w, Height: h, FPS: 5}
	src := capturetest.New(f)
	c := simConfig(t, "")
	c.Camera.Width, c.Camera.Height, c.Camera.FPS = w, h, 5
	c.Clip.Enabled = false
	r := startWith(t, c, func(o *Options) { o.Camera = src })
	<-src.Started()
	src.Push(buf.Bytes(), time.Now())
	waitFor(t, "the frame in the ring", func() bool { _, ok := r.d.camera.Ring().Latest(); return ok })
	tp := r.d.Topics()
	infos := subscribe(t, r.d.brokerURL(), tp.SnapshotInfo)
	snaps := subscribe(t, r.d.brokerURL(), tp.Snapshot)
	commandsReady(t, r)
	publish(t, r.d.brokerURL(), tp.Command("snapshot"), false, "PRESS")
	var info SnapshotInfo
	for info.EventType != "snapshot" {
		if err := json.Unmarshal(next(t, infos, tp.SnapshotInfo, 20*time.Second).payload, &info); err != nil {
			t.Fatal(err)
		}
	}
	m := next(t, snaps, tp.Snapshot, 20*time.Second)
	for m.retained && len(m.payload) != info.Bytes {
		m = next(t, snaps, tp.Snapshot, 20*time.Second)
	}
	if len(m.payload) > maxSnapshotBytes || info.Width >= w {
		t.Fatalf("snapshot %d bytes, %dx%d; want under %d bytes, downscaled", len(m.payload), info.Width, info.Height, maxSnapshotBytes)
	}
	if _, err := jpeg.Decode(bytes.NewReader(m.payload)); err != nil {
		t.Fatal(err)
	}
	t.Logf("a %d-byte %dx%d frame was published as %d bytes at %dx%d", buf.Len(), w, h, len(m.payload), info.Width, info.Height)
}
