package daemon

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/hal/audio"
	"github.com/doorbelld/doorbelld/hal/audio/audiotest"
)

// replyWAV writes a WAV of n samples at 16 kHz mono, each sample v.
func replyWAV(t *testing.T, name string, n int, v int16) string {
	samples := make([]int16, n)
	for i := range samples {
		samples[i] = v
	}
	path := filepath.Join(t.TempDir(), name+".wav")
	audiotest.WriteWAV(t, path, &audio.Sound{Rate: 16000, Channels: 1, Samples: samples})
	return path
}

// replyDaemon runs liveConfig (alice) with a fake speaker and two replies.
func replyDaemon(t *testing.T, edit func(*config.Config)) (*running, *audiotest.Speaker, *audiotest.Opener) {
	t.Helper()
	c := liveConfig(t)
	c.Audio.Speaker = "hw:Fake,0"
	c.Audio.Replies = []config.Reply{
		{Name: "leave_at_door", File: replyWAV(t, "leave", 1600, 1000)},
		{Name: "coming", File: replyWAV(t, "coming", 800, 2000)},
	}
	if edit != nil {
		edit(&c)
	}
	spk := audiotest.NewSpeaker(audio.Format{Rate: 48000, Channels: 2, Bits: 16})
	op := audiotest.NewOpener(spk)
	r := startWith(t, c, func(o *Options) { o.Speaker = op.Open })
	return r, spk, op
}

// started waits for the fake speaker to start a sound and returns its
// first sample (each test reply is one constant value).
func started(t *testing.T, spk *audiotest.Speaker) int16 {
	t.Helper()
	select {
	case s := <-spk.Started():
		return s.Samples[0]
	case <-time.After(liveWait):
		t.Fatal("the speaker played nothing")
		return 0
	}
}

// TestQuickReplies: a reply by name (MQTT), the selected one by PRESS
// (Home Assistant's select and button), and one from the web app reach the
// speaker; unknown names and no-speaker are refused.
func TestQuickReplies(t *testing.T) {
	r, spk, _ := replyDaemon(t, nil)
	tp := r.d.Topics()
	selected := subscribe(t, r.d.brokerURL(), tp.ReplySelected)
	if m := next(t, selected, tp.ReplySelected, liveWait); string(m.payload) != "leave_at_door" {
		t.Fatalf("reply/selected %q at start, want the first reply", m.payload)
	}
	commandsReady(t, r)

	publish(t, r.d.brokerURL(), tp.Command(mqttapi.CmdReply), false, "coming")
	if v := started(t, spk); v != 2000 {
		t.Fatalf("played a sound of %d, want coming's 2000", v)
	}
	spk.Finish()

	// The web app's button.
	cl := loginClient(t, r)
	if code := postCSRF(t, r, cl, "/api/reply/leave_at_door", ""); code != http.StatusAccepted {
		t.Fatalf("POST /api/reply/leave_at_door: %d", code)
	}
	if v := started(t, spk); v != 1000 {
		t.Fatalf("web played %d, want leave_at_door's 1000", v)
	}
	spk.Finish()
	publish(t, r.d.brokerURL(), tp.Command(mqttapi.CmdReplySelect), false, "coming")
	if m := next(t, selected, tp.ReplySelected, liveWait); string(m.payload) != "coming" {
		t.Fatalf("reply/selected %q, want coming", m.payload)
	}
	publish(t, r.d.brokerURL(), tp.Command(mqttapi.CmdReply), false, "PRESS")
	if v := started(t, spk); v != 2000 {
		t.Fatalf("PRESS played %d, want the selected coming", v)
	}
	spk.Finish()

	// A fourth in a row is over the rate limit (3, then one per 10 s);
	// an unknown name would be refused too.
	before := r.d.rejected.Load()
	publish(t, r.d.brokerURL(), tp.Command(mqttapi.CmdReply), false, "nope")
	waitFor(t, "an unknown reply refused", func() bool { return r.d.rejected.Load() > before })

	if h := r.d.health(); h.Speaker != mqttapi.PartOK {
		t.Fatalf("health speaker %q, want ok", h.Speaker)
	}
}

// TestAutoReply: a ring nobody answers gets audio.auto_reply after
// auto_reply_after; a ring answered by a reply does not.
func TestAutoReply(t *testing.T) {
	r, spk, _ := replyDaemon(t, func(c *config.Config) {
		c.Audio.AutoReply = "leave_at_door"
		c.Audio.AutoReplyAfter = durCfg(5 * time.Second)
	})
	tp := r.d.Topics()
	events := subscribe(t, r.d.brokerURL(), tp.Event)
	pressed := time.Now()
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, events, tp, liveWait)
	if v := started(t, spk); v != 1000 {
		t.Fatalf("auto reply played %d, want leave_at_door", v)
	}
	if took := time.Since(pressed); took < 5*time.Second {
		t.Fatalf("auto reply %v after the press, before auto_reply_after", took)
	}
	spk.Finish()

	// Answered: a reply within the window; no auto reply follows.
	commandsReady(t, r)
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, events, tp, liveWait)
	publish(t, r.d.brokerURL(), tp.Command(mqttapi.CmdReply), false, "coming")
	if v := started(t, spk); v != 2000 {
		t.Fatalf("played %d, want coming", v)
	}
	spk.Finish()
	// The sink decides 5 s after the ring: wait for its decision.
	waitFor(t, "the answered ring's auto reply skipped", func() bool { return r.d.speaker.autoSkipped.Load() == 1 })
	if n := r.d.speaker.autoPlayed.Load(); n != 1 {
		t.Fatalf("%d auto replies, want 1 (the first ring's)", n)
	}
	select {
	case s := <-spk.Started():
		t.Fatalf("an answered ring got an auto reply (%d)", s.Samples[0])
	default:
	}
}

// TestSpeakerUnplugged: a speaker that cannot be opened makes health
// degraded and the bell still rings.
func TestSpeakerUnplugged(t *testing.T) {
	r, _, op := replyDaemon(t, nil)
	op.SetErr(errors.New("audio: hw:Fake,0: no such device"))
	commandsReady(t, r)
	tp := r.d.Topics()
	publish(t, r.d.brokerURL(), tp.Command(mqttapi.CmdReply), false, "coming")
	waitFor(t, "health degraded by the speaker", func() bool {
		h := r.d.health()
		return h.Speaker == mqttapi.PartUnavailable && h.Status == mqttapi.HealthDegraded && strings.Contains(h.SpeakerError, "no such device")
	})
	events := subscribe(t, r.d.brokerURL(), tp.Event)
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, events, tp, liveWait)
}
