package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/sim"
)

var testSeq atomic.Int64

// simConfig is a sim config on loopback with a topic prefix of its own, so
// tests sharing one broker never see each other's retained messages.
func simConfig(t testing.TB, broker string) config.Config {
	c := config.SimDefault()
	c.Storage.Dir = t.TempDir()
	c.MQTT.Broker = broker
	c.MQTT.Listen = "127.0.0.1:0"
	c.HTTP.Listen = "127.0.0.1:0"
	c.RTSP.Listen = "127.0.0.1:0"
	c.MQTT.TopicPrefix = fmt.Sprintf("dbtest%d_%d", os.Getpid(), testSeq.Add(1))
	// Unique on the shared test broker: another test process (the cross
	// tests under qemu beside the -race run) has daemons with the same
	// device id, and a second client with one's id takes over its session
	// (its subscriptions, so its commands) and disconnects it.
	c.MQTT.ClientID = "doorbelld-" + c.MQTT.TopicPrefix
	c.GPIO.PIR.Hold = config.Dur(time.Second)
	c.Camera.FPS = 10
	c.Log.Level = "warn"
	return c
}

type running struct {
	d      *Daemon
	board  *sim.Board
	cancel context.CancelFunc
	done   chan error
}

// start runs a daemon until the test ends and waits until it is up.
func start(t testing.TB, c config.Config) *running {
	t.Helper()
	return startWith(t, c, nil)
}

// startWith is start with the daemon's options changed by edit (when not
// nil) before New.
func startWith(t testing.TB, c config.Config, edit func(*Options)) *running {
	t.Helper()
	if err := c.Validate(true); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	ready := make(chan struct{})
	lvl := slog.LevelWarn
	if testing.Verbose() {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	board := sim.New(c, sim.Options{Pins: true, PressHold: 30 * time.Millisecond, Logger: log})
	opts := Options{Config: c, Sim: true, Version: "test", Logger: log,
		Pins: board.Pins(), Camera: board.Camera(), SimHandler: board.Handler(),
		Ready: func(*Daemon) { close(ready) }}
	if edit != nil {
		edit(&opts)
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, board: board, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("daemon stopped at start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("daemon not ready in 10s")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the daemon down and returns how long it took.
func (r *running) stop(t testing.TB) time.Duration {
	t.Helper()
	if r.cancel == nil {
		return 0
	}
	s := time.Now()
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("daemon Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop in 10s")
	}
	return time.Since(s)
}

type msg struct {
	topic    string
	payload  []byte
	retained bool
	at       time.Time
}

// inbox holds what a test subscriber received. Messages on other topics
// than the one a test waits for are kept, not dropped: paho may hand a
// subscriber messages on different topics in either order.
type inbox struct {
	ch      chan msg
	pending []msg
}

func newInbox(capacity int) *inbox { return &inbox{ch: make(chan msg, capacity)} }

// handle is a paho message handler that files m in the inbox.
func (ib *inbox) handle(_ paho.Client, m paho.Message) {
	ib.ch <- msg{m.Topic(), append([]byte(nil), m.Payload()...), m.Retained(), time.Now()}
}

// subscribe connects a plain paho client to broker and delivers every
// message under filter.
func subscribe(t testing.TB, broker, filter string) *inbox {
	t.Helper()
	return subscribeWith(t, paho.NewClientOptions().AddBroker(broker), filter)
}

// subscribeWith is subscribe for a client with options of its own
// (credentials, TLS); it sets a unique client id unless o has one.
func subscribeWith(t testing.TB, o *paho.ClientOptions, filter string) *inbox {
	t.Helper()
	if o.ClientID == "" {
		o.SetClientID(fmt.Sprintf("sub-%d-%d", os.Getpid(), testSeq.Add(1)))
	}
	c := paho.NewClient(o.SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect %v: %v", o.Servers, tok.Error())
	}
	ib := newInbox(1000)
	if tok := c.Subscribe(filter, 1, ib.handle); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return ib
}

// next returns the oldest message on topic not yet taken, waiting up to d.
func next(t testing.TB, ib *inbox, topic string, d time.Duration) msg {
	t.Helper()
	for i, m := range ib.pending {
		if m.topic == topic {
			ib.pending = append(ib.pending[:i], ib.pending[i+1:]...)
			return m
		}
	}
	deadline := time.After(d)
	for {
		select {
		case m := <-ib.ch:
			if m.topic == topic {
				return m
			}
			ib.pending = append(ib.pending, m)
		case <-deadline:
			t.Fatalf("no message on %s within %v", topic, d)
		}
	}
}

// nextEvent returns the next event on the event topic.
func nextEvent(t testing.TB, ch *inbox, topics Topics, d time.Duration) (event.Event, msg) {
	t.Helper()
	m := next(t, ch, topics.Event, d)
	var e event.Event
	if err := json.Unmarshal(m.payload, &e); err != nil {
		t.Fatalf("event payload %q: %v", m.payload, err)
	}
	if m.retained {
		t.Errorf("event %s arrived retained", e.ID)
	}
	return e, m
}

// noEvent fails if an event arrives within d.
func noEvent(t testing.TB, ib *inbox, topics Topics, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		for _, m := range ib.pending {
			if m.topic == topics.Event {
				t.Fatalf("unexpected event %s", m.payload)
			}
		}
		select {
		case m := <-ib.ch:
			ib.pending = append(ib.pending, m)
		case <-deadline:
			return
		}
	}
}

func durCfg(d time.Duration) config.Duration { return config.Dur(d) }

// waitFor polls cond until it holds; the only limit is a generous one
// that turns a hang into a failure.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s", what)
		}
	}
}
