package outbox

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

var _ Publisher = (*mqttpub.Client)(nil)

// cutter is a TCP proxy in front of the broker whose connections the test
// can cut, as a Wi-Fi drop would.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); c.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			down := c.down
			c.mu.Unlock()
			if down {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = true
	for _, x := range c.conns {
		x.Close()
	}
	c.conns = nil
}

func (c *cutter) restore() {
	c.mu.Lock()
	c.down = false
	c.mu.Unlock()
}

// The whole path through paho and a real broker: a live event, then a
// network cut, events during it, and their replay once the link is back.
func TestSenderThroughBroker(t *testing.T) {
	b := broker.New(broker.Options{Listen: "127.0.0.1:0", Logger: quiet()})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	bctx, bstop := context.WithCancel(context.Background())
	bdone := make(chan struct{})
	go func() { b.Run(bctx); close(bdone) }()
	t.Cleanup(func() { bstop(); <-bdone })
	proxy := newCutter(t, b.Addr())

	got := make(chan event.Event, 100)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + b.Addr()).SetClientID("outbox-sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { sub.Disconnect(50) })
	tok := sub.Subscribe("ob/event", 1, func(_ paho.Client, m paho.Message) {
		var e event.Event
		if err := json.Unmarshal(m.Payload(), &e); err != nil {
			t.Errorf("payload %s: %v", m.Payload(), err)
		}
		got <- e
	})
	if !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	ob := open(t, t.TempDir(), Options{})
	var snd *Sender
	mq := mqttpub.New(mqttpub.Options{
		Broker: "tcp://" + proxy.ln.Addr().String(), ClientID: "outbox-pub", StatusTopic: "ob/status",
		OnConnect: func() { snd.Kick() }, Logger: quiet(), MaxReconnectInterval: 200 * time.Millisecond,
	})
	snd = NewSender(ob, SenderOptions{Topic: "ob/event", Publisher: mq, Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	var parts sync.WaitGroup
	parts.Add(2)
	go func() { defer parts.Done(); snd.Run(ctx) }()
	go func() { defer parts.Done(); mq.Run(ctx) }()
	t.Cleanup(func() { cancel(); parts.Wait() })
	mq.Connect()
	// Connected, OnConnect has kicked, and the replay that kick asked for
	// is done: a new event goes out live. (Connected turns true just before
	// OnConnect runs; an event sent in between waits for the kick's replay.)
	waitFor(t, "connect", func() bool {
		snd.mu.Lock()
		defer snd.mu.Unlock()
		return mq.Connected() && snd.kicks > 0 && !snd.needReplay
	})

	recv := func() event.Event {
		t.Helper()
		select {
		case e := <-got:
			return e
		case <-deadline(t):
			t.Fatal("no event received")
			return event.Event{}
		}
	}

	post(t, snd, 1, event.Ring)
	if e := recv(); e.ID != "ev0001" || e.Late {
		t.Fatalf("live: %+v", e)
	}
	waitFor(t, "ack", func() bool { return ob.Len() == 0 })

	proxy.cut()
	waitFor(t, "disconnect", func() bool { return !mq.Connected() })
	for i := 2; i <= 4; i++ {
		post(t, snd, i, []event.Type{event.Ring, event.MotionStart, event.LongPress}[i-2])
	}
	proxy.restore()
	for i := 2; i <= 4; i++ {
		want, _ := ev(i, event.Ring)
		if e := recv(); e.ID != want.ID || !e.Late || !e.At.Equal(want.At) {
			t.Fatalf("after the cut: %+v, want %s late with its original at", e, want.ID)
		}
	}
	waitFor(t, "acks", func() bool { return ob.Len() == 0 })
	select {
	case e := <-got:
		t.Errorf("duplicate or extra event %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}
