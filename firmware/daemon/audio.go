package daemon

// audio.go: the door's speaker (audio.speaker) and the quick replies.
//
//	cmd/reply (name | PRESS), web app, auto reply ──▶ command path ──▶ playReply ──▶ audio.Player ──▶ ALSA
//	cmd/reply_select (name) ──▶ selected reply ──▶ reply/selected (retained; Home Assistant's select)
//	ring ──▶ autoReplySink: after audio.auto_reply_after, unless answered (a reply played, the
//	         door opened, someone watching live), plays audio.auto_reply
//
// The player owns the device and never blocks a caller: a ring, an event
// or the chime never waits for the speaker, and a missing card only makes
// health degraded.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/mic"
	"github.com/doorbelld/doorbelld/firmware/bus"
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/hal/audio"
)

// speaker is the door's speaker and its quick replies.
type speaker struct {
	player   *audio.Player
	sounds   map[string]*audio.Sound
	names    []string     // in the config's order
	ringTone *audio.Sound // audio.ring_tone; nil without

	mu       sync.Mutex
	selected string

	answered atomic.Int64 // unix nanos of the last answer to a ring

	// Auto replies: rings that got one, and rings answered in time.
	autoPlayed, autoSkipped atomic.Uint64
}

// soundMargin is how much sound the microphone's ring keeps beyond the
// pre-roll.
const soundMargin = 5 * time.Second

// buildAudio opens nothing (the player opens the card per playback, the
// microphone opens when it runs) but loads every reply and the ring tone,
// so a bad file stops the start, naming it.
func (d *Daemon) buildAudio() error {
	if err := d.buildSpeaker(); err != nil {
		return err
	}
	d.buildMic()
	return nil
}

// buildMic makes the microphone part (audio.microphone or
// Options.Microphone): its sound goes to the clips' ring and the RTSP
// audio track.
func (d *Daemon) buildMic() {
	a := d.cfg.Audio
	open := d.opts.Microphone
	if open == nil {
		if a.Microphone == "" {
			return
		}
		dev, rate := a.Microphone, a.MicrophoneRate
		open = func() (audio.Microphone, error) { return audio.OpenMicrophone(dev, audio.Format{Rate: rate}) }
	}
	opts := mic.Options{Open: open, Ring: d.sound, Clock: d.clock, Logger: d.log}
	if a.Echo != config.EchoFullDuplex && d.speaker != nil {
		opts.Mute = d.echoing
	}
	d.mic = mic.New(opts)
	if privacy, _ := d.sw.get(); privacy {
		d.mic.SetPaused(true) // before it ever opens
	}
}

// echoing reports whether c was heard while the owner's voice played at
// the door (half duplex: the live track is muted then, so they do not
// hear themselves).
func (d *Daemon) echoing(c capture.AudioChunk) bool {
	until := d.speaker.player.Status().TalkVoiceUntil
	return !until.IsZero() && c.At.Before(until)
}

// micSink follows privacy mode: on, the microphone is closed and its
// ring emptied; off, it opens again.
type micSink struct {
	bus.Base
	m *mic.Mic
}

func (micSink) Name() string { return "microphone" }

func (s micSink) OnPrivacy(_ context.Context, on bool) { s.m.SetPaused(on) }

// ringToneSink plays audio.ring_tone at the door on every ring.
type ringToneSink struct {
	bus.Base
	sp *speaker
}

func (ringToneSink) Name() string { return "ring-tone" }

func (s ringToneSink) OnEvent(_ context.Context, e bus.Event) {
	if e.Type == event.Ring {
		// Not an answer to the ring: the auto reply still comes.
		s.sp.player.Play("ring_tone", s.sp.ringTone)
	}
}

// buildSpeaker loads the quick replies and the ring tone.
func (d *Daemon) buildSpeaker() error {
	a := d.cfg.Audio
	if a.Speaker == "" {
		return nil
	}
	sp := &speaker{sounds: make(map[string]*audio.Sound)}
	if a.RingTone != "" {
		s, err := audio.LoadWAV(a.RingTone)
		if err != nil {
			return fmt.Errorf("daemon: audio.ring_tone: %w", err)
		}
		sp.ringTone = s
	}
	for i, r := range a.Replies {
		s, err := audio.LoadWAV(r.File)
		if err != nil {
			return fmt.Errorf("daemon: audio.replies[%d]: %w", i, err)
		}
		sp.sounds[r.Name] = s
		sp.names = append(sp.names, r.Name)
	}
	if len(sp.names) > 0 {
		sp.selected = sp.names[0]
	}
	dev := a.Speaker
	open := d.opts.Speaker
	if open == nil {
		open = func() (audio.Speaker, error) { return audio.OpenSpeaker(dev) }
	}
	sp.player = audio.NewPlayer(audio.PlayerOptions{Open: open, Logger: d.log, Clock: d.clock})
	d.speaker = sp
	return nil
}

// errNoSpeaker: a reply asked for without audio.speaker.
var errNoSpeaker = errors.New("no speaker configured (audio.speaker)")

// playReply plays quick reply name ("" for the selected one) and counts
// it as an answer to the last ring.
func (d *Daemon) playReply(name, from string) error {
	sp := d.speaker
	if sp == nil {
		return errNoSpeaker
	}
	if name == "" {
		sp.mu.Lock()
		name = sp.selected
		sp.mu.Unlock()
	}
	s, ok := sp.sounds[name]
	if !ok {
		return fmt.Errorf("no quick reply %q; known: %s", name, strings.Join(sp.names, ", "))
	}
	sp.answered.Store(d.clock.Now().UnixNano())
	sp.player.Play(name, s)
	d.log.Info("daemon: quick reply", "reply", name, "from", actor(from), "seconds", s.Duration().Seconds())
	return nil
}

// selectReply sets the reply PRESS plays, and says so on reply/selected.
func (d *Daemon) selectReply(name string) error {
	sp := d.speaker
	if sp == nil {
		return errNoSpeaker
	}
	if !slices.Contains(sp.names, name) {
		return fmt.Errorf("no quick reply %q; known: %s", name, strings.Join(sp.names, ", "))
	}
	sp.mu.Lock()
	sp.selected = name
	sp.mu.Unlock()
	d.mq.Publish(d.topics.ReplySelected, 1, true, []byte(name))
	return nil
}

// publishSelected publishes the selected reply (on every connect).
func (d *Daemon) publishSelected() {
	if sp := d.speaker; sp != nil && len(sp.names) > 0 {
		sp.mu.Lock()
		name := sp.selected
		sp.mu.Unlock()
		d.mq.Publish(d.topics.ReplySelected, 1, true, []byte(name))
	}
}

// answered notes an answer to a ring (the door opened).
func (d *Daemon) answered() {
	if sp := d.speaker; sp != nil {
		sp.answered.Store(d.clock.Now().UnixNano())
	}
}

// autoReplySink plays audio.auto_reply when a ring is not answered in
// time: no reply played and no door opened since the ring, and nobody
// watching live.
type autoReplySink struct {
	bus.Base
	d *Daemon
}

func (autoReplySink) Name() string { return "auto-reply" }

func (s autoReplySink) OnEvent(_ context.Context, e bus.Event) {
	if e.Type != event.Ring {
		return
	}
	d := s.d
	ring := e.At
	d.clock.AfterFunc(d.cfg.Audio.AutoReplyAfter.D(), func() {
		sp := d.speaker
		if time.Unix(0, sp.answered.Load()).After(ring) {
			sp.autoSkipped.Add(1)
			return
		}
		if d.live != nil {
			for _, n := range d.live.Stats().Viewers {
				if n > 0 {
					sp.autoSkipped.Add(1)
					return // someone is watching: they answer
				}
			}
		}
		sp.autoPlayed.Add(1)
		d.log.Info("daemon: ring not answered; auto reply", "after", d.cfg.Audio.AutoReplyAfter.D(), "reply", d.cfg.Audio.AutoReply)
		if err := d.playReply(d.cfg.Audio.AutoReply, "auto"); err != nil {
			d.log.Warn("daemon: auto reply", "err", err)
		}
	})
}
