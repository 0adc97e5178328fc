package mqttpub_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

func startBroker(t *testing.T, addr, user, pass string) context.CancelFunc {
	t.Helper()
	b := broker.New(broker.Options{Listen: addr, Username: user, Password: pass})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func sub(t *testing.T, addr, user, pass, filter string) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 10)
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetUsername(user).SetPassword(pass).SetClientID("sub-" + filter))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { ch <- m }).Wait()
	return ch
}

func recv(t *testing.T, ch <-chan paho.Message, topic string) paho.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-ch:
			if m.Topic() == topic {
				return m
			}
		case <-deadline:
			t.Fatalf("nothing on %s", topic)
			return nil
		}
	}
}

// A message published before the broker is reachable must arrive once it
// is: paho drops such messages with a clean session.
func TestPublishBeforeBrokerIsUp(t *testing.T) {
	addr := mosquittotest.FreeAddr(t)
	c := mqttpub.New(mqttpub.Options{Broker: "tcp://" + addr, ClientID: "early", StatusTopic: "t/status"})
	c.Connect()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	tok := c.Publish("t/event", 1, false, []byte("early press"))

	time.Sleep(300 * time.Millisecond) // the first connect attempt fails
	startBroker(t, addr, "", "")
	ch := sub(t, addr, "", "", "t/#")
	if m := recv(t, ch, "t/event"); string(m.Payload()) != "early press" {
		t.Errorf("got %q", m.Payload())
	}
	if err := mqttpub.Wait(tok, 5*time.Second, "early publish"); err != nil {
		t.Error(err)
	}
	// "online" once paho's resend has passed; Connected turns true with it,
	// not before, so nothing else is published into the resend.
	if m := recv(t, ch, "t/status"); string(m.Payload()) != mqttpub.Online {
		t.Fatalf("status = %q, want online", m.Payload())
	}
	if !c.Connected() {
		t.Error("Connected() = false after online")
	}
	cancel()
	<-done
	if m := recv(t, ch, "t/status"); string(m.Payload()) != mqttpub.Offline {
		t.Errorf("status after Run returned = %q, want offline", m.Payload())
	}
}

func TestOnlineAndBrokerAuth(t *testing.T) {
	addr := mosquittotest.FreeAddr(t)
	startBroker(t, addr, "u", "secret")
	ch := sub(t, addr, "u", "secret", "w/#")
	c := mqttpub.New(mqttpub.Options{Broker: "tcp://" + addr, ClientID: "will", Username: "u", Password: "secret", StatusTopic: "w/status"})
	c.Connect()
	if m := recv(t, ch, "w/status"); string(m.Payload()) != mqttpub.Online {
		t.Fatalf("status = %q, want online", m.Payload())
	}
	// A wrong password is refused by the embedded broker.
	bad := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetUsername("u").SetPassword("wrong").SetClientID("bad"))
	if tok := bad.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		t.Error("embedded broker accepted a wrong password")
	}
}

// A wrong password is said: logged (once, with a hint) and kept as
// LastError until a connection succeeds; the password never appears.
func TestWrongPasswordIsReported(t *testing.T) {
	addr := mosquittotest.FreeAddr(t)
	startBroker(t, addr, "u", "secret")
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c := mqttpub.New(mqttpub.Options{Broker: "tcp://" + addr, ClientID: "wrongpw", Username: "u", Password: "hunter2-wrong",
		StatusTopic: "w/status", Logger: log})
	c.Connect()
	t.Cleanup(func() { c.Run(canceled()) })
	deadline := time.Now().Add(30 * time.Second)
	for c.Failures() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no failed connection attempt recorded in 30s; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond) // polling a counter
	}
	if c.LastError() == "" || c.Connected() {
		t.Fatalf("LastError %q, connected %v; want the refusal", c.LastError(), c.Connected())
	}
	out := logs.String()
	if n := strings.Count(out, "cannot connect to the broker"); n != 1 {
		t.Errorf("%d log lines for %d failures, want 1 (rate-limited):\n%s", n, c.Failures(), out)
	}
	if !strings.Contains(out, "refused the login") {
		t.Errorf("log does not say the login was refused:\n%s", out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("the password is in the log:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestStaleMessagesDoNotBlockTheSession: what the broker kept for this
// client id while the daemon was down comes at connect, before OnConnect
// subscribes. Unacknowledged (paho's way with a message no handler is
// routed for), each such message stayed in flight at the broker, and
// once max_inflight_messages of them were stuck Mosquitto sent the daemon
// nothing more: the emulated board's power cuts found commands and
// updates stopping after ~10 cuts. Here the broker allows 2 in flight and
// 4 restarts each leave one behind; a command after the last start must
// still arrive.
func TestStaleMessagesDoNotBlockTheSession(t *testing.T) {
	b := mosquittotest.New(t, "max_inflight_messages 2\npersistence false")
	status := subURL(t, b.URL(), "d/status")
	type proc struct {
		c      *mqttpub.Client
		got    chan paho.Message
		cancel context.CancelFunc
		done   chan error
	}
	start := func() *proc {
		t.Helper()
		p := &proc{got: make(chan paho.Message, 10), done: make(chan error, 1)}
		p.c = mqttpub.New(mqttpub.Options{Broker: b.URL(), ClientID: "dev", StatusTopic: "d/status",
			OnConnect: func() {
				p.c.Subscribe("d/cmd", 1, func(_ paho.Client, m paho.Message) { p.got <- m })
			}})
		p.c.Connect()
		var ctx context.Context
		ctx, p.cancel = context.WithCancel(context.Background())
		go func() { p.done <- p.c.Run(ctx) }()
		for m := recv(t, status, "d/status"); string(m.Payload()) != mqttpub.Online; m = recv(t, status, "d/status") {
		}
		return p
	}
	stop := func(p *proc) {
		t.Helper()
		p.cancel()
		<-p.done
		for m := recv(t, status, "d/status"); string(m.Payload()) != mqttpub.Offline; m = recv(t, status, "d/status") {
		}
	}
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("owner"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(50)
	send := func(payload string) {
		t.Helper()
		if tok := pub.Publish("d/cmd", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", payload, tok.Error())
		}
	}
	stop(start()) // the session and its subscription exist at the broker
	dropped := uint64(0)
	for i := range 4 {
		send(fmt.Sprintf("stale %d", i)) // while the daemon is down
		p := start()
		stop(p)
		dropped += p.c.Dropped()
	}
	p := start()
	defer stop(p)
	send("fresh")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-p.got:
			if string(m.Payload()) == "fresh" {
				t.Logf("%d stale messages acknowledged and dropped at the 4 starts", dropped)
				return
			}
		case <-deadline:
			t.Fatalf("a command after 4 restarts with stale messages did not arrive (%d dropped)", dropped)
		}
	}
}

func subURL(t *testing.T, url, filter string) <-chan paho.Message {
	t.Helper()
	return sub(t, strings.TrimPrefix(url, "tcp://"), "", "", filter)
}
