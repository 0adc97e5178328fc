package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/capture/cliptest"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
)

// A ring in sim mode gives an MP4 whose first frame is at most pre_roll
// before the press and whose last is post_roll after it, with the frames
// ffprobe expects. How soon it is ready is logged, not asserted: a loaded
// machine makes it late (6.2 s once, with the cross tests beside it).
func TestClipOnRing(t *testing.T) {
	c := simConfig(t, testBroker())
	c.Capture.PreRoll = durCfg(2 * time.Second)
	c.Capture.PostRoll = durCfg(2 * time.Second)
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), c.MQTT.TopicPrefix+"/#")
	waitCamera(t, r)
	waitPreRoll(t, r, c.Capture.PreRoll.D())

	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e, _ := nextEvent(t, ch, tp, 5*time.Second)
	m := next(t, ch, tp.Clip, liveWait)
	t.Logf("clip ready %v after the press (post_roll %v)", m.at.Sub(e.At), c.Capture.PostRoll.D())
	var meta storage.Meta
	if err := json.Unmarshal(m.payload, &meta); err != nil {
		t.Fatal(err)
	}
	if post := meta.End.Sub(e.At); post < c.Capture.PostRoll.D()-time.Second/time.Duration(c.Camera.FPS) {
		t.Errorf("clip ends %v after the press, want post_roll (%v)", post, c.Capture.PostRoll.D())
	}
	if len(meta.EventIDs) != 1 || meta.EventIDs[0] != e.ID {
		t.Errorf("clip events %v, want [%s]", meta.EventIDs, e.ID)
	}
	if pre := e.At.Sub(meta.Start); pre < 0 || pre > c.Capture.PreRoll.D() {
		t.Errorf("clip starts %v before the press, want 0..pre_roll (%v)", pre, c.Capture.PreRoll.D())
	}
	files, _ := filepath.Glob(filepath.Join(c.Storage.Dir, "clips", "*"+meta.ID+".mp4"))
	if len(files) != 1 {
		t.Fatalf("clip file for %s: %v", meta.ID, files)
	}
	p := cliptest.ProbeFile(t, files[0])
	if p.Codec != "mjpeg" || p.Width != c.Camera.Width || p.Height != c.Camera.Height {
		t.Errorf("ffprobe: %+v", p)
	}
	if p.Frames != meta.Frames {
		t.Errorf("ffprobe decoded %d frames, metadata says %d", p.Frames, meta.Frames)
	}
	// The sim camera's ticker drops ticks when rendering falls behind, so
	// the clip does not have (pre_roll + post_roll) * fps frames: it has
	// every frame the camera took from pre_roll before the press to
	// post_roll after it, which the daemon's ring still holds (it has held
	// frames since before the pre-roll, and capture.ring_bytes holds
	// minutes of them). The press time in the payload is cut to the
	// millisecond: the span is known to within 1ms at either end.
	preRoll, postRoll := c.Capture.PreRoll.D(), c.Capture.PostRoll.D()
	rg := r.d.camera.Ring()
	if oldest, _, n := rg.Span(); n == 0 || oldest.After(e.At.Add(-preRoll)) {
		t.Fatalf("the ring's oldest frame (%v) is after the clip's start (%v): cannot count the frames", oldest, e.At.Add(-preRoll))
	}
	inner := rg.Frames(e.At.Add(-preRoll+time.Millisecond), e.At.Add(postRoll))
	outer := rg.Frames(e.At.Add(-preRoll), e.At.Add(postRoll+time.Millisecond))
	if p.Frames < len(inner) || p.Frames > len(outer) || len(inner) == 0 {
		t.Fatalf("clip has %d frames, want the %d..%d the camera took from pre_roll before the press to post_roll after it", p.Frames, len(inner), len(outer))
	}
	// Each frame lasts until the next, the last one a frame interval (the
	// median of the gaps): the clip lasts the span of its frames plus
	// about one interval.
	interval := time.Second / time.Duration(c.Camera.FPS)
	lo := inner[len(inner)-1].At.Sub(inner[0].At) + interval/2
	hi := outer[len(outer)-1].At.Sub(outer[0].At) + 2*interval
	if p.Duration < lo || p.Duration > hi {
		t.Errorf("clip lasts %v, want %v..%v: its frames' span plus about one frame (pre_roll + post_roll = %v)", p.Duration, lo, hi, preRoll+postRoll)
	}
}

func publish(t *testing.T, broker, topic string, retained bool, payload string) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID("cmd-" + topic))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(50)
	if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
}

func TestDiscoveryAndCommands(t *testing.T) {
	c := simConfig(t, testBroker())
	c.MQTT.DiscoveryPrefix = c.MQTT.TopicPrefix + "_ha"
	r := start(t, c)
	tp := r.d.Topics()
	broker := r.d.brokerURL()
	disc := subscribe(t, broker, c.MQTT.DiscoveryPrefix+"/#")
	ch := subscribe(t, broker, c.MQTT.TopicPrefix+"/#")

	// Discovery: one retained device payload with the doorbell event entity.
	m := next(t, disc, tp.Discovery, 5*time.Second)
	var d struct {
		Device     map[string]any            `json:"device"`
		Origin     map[string]any            `json:"origin"`
		Components map[string]map[string]any `json:"components"`
	}
	if err := json.Unmarshal(m.payload, &d); err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	for _, comp := range d.Components {
		if comp["platform"] == "event" {
			ev = comp
		}
	}
	if ev == nil || ev["device_class"] != "doorbell" || ev["state_topic"] != tp.Event || !strings.Contains(string(m.payload), `"ring"`) {
		t.Errorf("no doorbell event entity on %s in %s", tp.Event, m.payload)
	}
	// Home Assistant restarting gets everything again.
	publish(t, broker, tp.Birth, false, "online")
	next(t, disc, tp.Discovery, 5*time.Second)

	if m := next(t, ch, tp.PrivacyState, 5*time.Second); string(m.payload) != "OFF" {
		t.Errorf("privacy state %q, want OFF", m.payload)
	}
	// A malformed command is ignored. (A retained one reaches a subscriber
	// already there as a live message, per MQTT; the one ignored is the
	// copy handed out on subscribing: TestRetainedCommandIgnoredOnSubscribe.)
	rejected := r.d.rejected.Load()
	publish(t, broker, tp.Command("privacy"), false, "BANANA")
	waitFor(t, "the malformed command to be refused", func() bool { return r.d.rejected.Load() > rejected })
	if privacy, _ := r.d.sw.get(); privacy {
		t.Fatal("privacy turned on by a malformed command")
	}
	// Privacy on: acknowledged by state, and rings carry no snapshot.
	publish(t, broker, tp.Command("privacy"), false, "ON")
	for {
		m := next(t, ch, tp.PrivacyState, 5*time.Second)
		if string(m.payload) == "ON" {
			break
		}
	}
	// The camera device is closed (a USB camera's LED goes off), which
	// health shows as "off", not as a failure.
	waitFor(t, "the camera closed by privacy mode", func() bool {
		st := r.d.camera.Status()
		return st.Paused && !st.Available
	})
	if h := r.d.health(); h.Camera != mqttapi.PartOff || h.Status != mqttapi.HealthOK {
		t.Errorf("health in privacy mode: camera %q status %q, want off and ok", h.Camera, h.Status)
	}
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if e, _ := nextEvent(t, ch, tp, 5*time.Second); e.Type != event.Ring || e.Snapshot != "" {
		t.Errorf("ring in privacy mode: %+v, want no snapshot", e)
	}
	// Chime off, acknowledged, and persisted across a restart.
	publish(t, broker, tp.Command("chime"), false, "OFF")
	for {
		m := next(t, ch, tp.ChimeState, 5*time.Second)
		if string(m.payload) == "OFF" {
			break
		}
	}
	if r.d.chime.Enabled() {
		t.Error("chime still enabled after OFF")
	}
	// Restart: Run returns ErrRestart.
	publish(t, broker, tp.Command("restart"), false, "PRESS")
	select {
	case err := <-r.done:
		if !errors.Is(err, ErrRestart) {
			t.Fatalf("Run after restart command = %v, want ErrRestart", err)
		}
		r.cancel()
		r.cancel = nil
	case <-time.After(5 * time.Second):
		t.Fatal("restart command did not stop the daemon")
	}
	r2 := start(t, c)
	if privacy, chime := r2.d.sw.get(); !privacy || chime || r2.d.chime.Enabled() {
		t.Errorf("after restart privacy=%v chime=%v, want the switches kept (privacy on, chime off)", privacy, chime)
	}
	if st := r2.d.camera.Status(); !st.Paused || st.Available || st.Frames != 0 {
		t.Errorf("after restart in privacy mode the camera is %+v, want it never opened", st)
	}
	if _, err := os.Stat(filepath.Join(c.Storage.Dir, "switches.json")); err != nil {
		t.Error(err)
	}
}

func TestSmallSnapshotCopy(t *testing.T) {
	c := simConfig(t, testBroker())
	c.Snapshot.MaxWidth = 320
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), tp.Base+"/#")
	waitCamera(t, r)
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	m := next(t, ch, tp.Base+"/snapshot/small", 5*time.Second)
	img, err := jpeg.Decode(bytes.NewReader(m.payload))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
		t.Errorf("small snapshot %v, want 320x240", b)
	}
	if tp.SnapshotHA != tp.Base+"/snapshot/small" {
		t.Errorf("Home Assistant's image reads %s", tp.SnapshotHA)
	}
}

// A ring's clip can be pulled over MQTT (what doorbellctl clips pull does)
// and arrives byte for byte.
func TestClipPulledOverMQTT(t *testing.T) {
	c := simConfig(t, testBroker())
	c.Capture.PreRoll = durCfg(time.Second)
	c.Capture.PostRoll = durCfg(time.Second)
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
	// Wait for the retained manifest on its exact topic first: mochi has
	// a data race between a wildcard subscribe and a retained publish on
	// the same topics (mochi-mqtt/server#200).
	next(t, subscribe(t, r.d.brokerURL(), clipxfer.ManifestTopic(tp.Base, meta.ID)), clipxfer.ManifestTopic(tp.Base, meta.ID), 10*time.Second)
	pc := paho.NewClient(paho.NewClientOptions().AddBroker(r.d.brokerURL()).SetClientID(fmt.Sprintf("puller-%d-%d", os.Getpid(), testSeq.Add(1))))
	if tok := pc.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pc.Disconnect(50)
	out := t.TempDir()
	rcv := clipxfer.NewReceiver(clipxfer.ReceiverOptions{Client: pc, Base: tp.Base, Dir: out, IDs: []string{meta.ID}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rcv.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := filepath.Glob(filepath.Join(out, "*"+meta.ID+".mp4"))
	want, _ := filepath.Glob(filepath.Join(c.Storage.Dir, "clips", "*"+meta.ID+".mp4"))
	if len(got) != 1 || len(want) != 1 {
		t.Fatalf("pulled %v, stored %v", got, want)
	}
	a, _ := os.ReadFile(got[0])
	b, _ := os.ReadFile(want[0])
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("pulled clip (%d bytes) differs from the stored one (%d bytes)", len(a), len(b))
	}
}
