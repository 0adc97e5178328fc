package daemon

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/firmware/bus"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/hal"
)

// The sinks: each reacts to events on its own goroutine (package bus), so
// none delays another. wire registers those whose part exists.

// chimeSink rings the chime relay for events that ring (event.Props.Chime).
type chimeSink struct {
	bus.Base
	chime *hal.Chime
}

func (chimeSink) Name() string { return "chime" }

func (s chimeSink) OnEvent(_ context.Context, e bus.Event) {
	if e.Props.Chime {
		s.chime.Ring()
	}
}

// ledSink flashes the status LED for events that ring, and shows privacy
// mode at once when it is switched.
type ledSink struct {
	bus.Base
	d *Daemon
}

func (ledSink) Name() string { return "led" }

func (s ledSink) OnEvent(_ context.Context, e bus.Event) {
	if e.Props.Chime {
		s.d.led.Flash()
	}
}

func (s ledSink) OnPrivacy(context.Context, bool) { s.d.updateLED() }

// outboxSink publishes every event on the event topic through the outbox,
// which keeps it until the broker has it.
type outboxSink struct {
	bus.Base
	d *Daemon
}

func (outboxSink) Name() string { return "outbox" }

// Lossless: every event reaches the outbox (bus.Lossless).
func (outboxSink) Lossless() bool { return true }

func (s outboxSink) OnEvent(_ context.Context, e bus.Event) {
	d := s.d
	payload, err := json.Marshal(e.Event)
	if err != nil {
		d.log.Error("daemon: encode event", "id", e.ID, "err", err)
		return
	}
	// Published at once, journaled beside the publish: the notification
	// never waits for the SD card. Post publishes what it cannot store.
	if err := d.sender.Post(e.Event, payload); err != nil {
		d.log.Error("daemon: event outbox", "id", e.ID, "err", err)
	}
}

// motionSink publishes the PIR's binary state, retained, and remembers it
// for the next connect.
type motionSink struct {
	bus.Base
	d  *Daemon
	on atomic.Bool
}

func (*motionSink) Name() string { return "motion" }

func (s *motionSink) OnEvent(_ context.Context, e bus.Event) {
	if e.Props.Motion {
		s.on.Store(e.Type == event.MotionStart)
		s.publish()
	}
}

func (s *motionSink) publish() {
	p := "OFF"
	if s.on.Load() {
		p = "ON"
	}
	s.d.mq.Publish(s.d.topics.Motion, 1, true, []byte(p))
}

// recorderSink starts (or extends) a clip for events that use the camera.
type recorderSink struct {
	bus.Base
	rec *clip.Recorder
}

func (recorderSink) Name() string { return "recorder" }

func (s recorderSink) OnEvent(_ context.Context, e bus.Event) {
	if e.Props.Camera {
		s.rec.Trigger(e.At, e.ID)
	}
}

// lastSink keeps the newest event for the web API.
type lastSink struct {
	bus.Base
	mu   sync.Mutex
	last *event.Event
}

func (*lastSink) Name() string { return "last-event" }

func (s *lastSink) OnEvent(_ context.Context, e bus.Event) {
	s.mu.Lock()
	s.last = &e.Event
	s.mu.Unlock()
}

// Last returns the newest event, or nil.
func (s *lastSink) Last() *event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}
