package broker

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	pahopk "github.com/eclipse/paho.mqtt.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
)

// wait bounds every wait of these tests: reaching it is a failure, never
// a pace. Nothing here sleeps to let something happen.
const wait = 60 * time.Second

var legacy = flag.Bool("broker.legacy", false,
	"run the defence tests (staller, oversize, session) against the broker as it was before them "+
		"(mochi's TCP listener and default capabilities): they are expected to fail, and log the figures")

var discard = slog.New(slog.DiscardHandler)

// defended marks o as the broker under test: as it is, or as it was with
// -broker.legacy.
func defended(o Options) Options {
	o.legacy = *legacy
	return o
}

var (
	owner  = Account{Username: "ha", Password: "ha-secret", Role: RoleOwner}
	reader = Account{Username: "dash", Password: "dash-secret", Role: RoleReader}
	device = Account{Username: "bell", Password: "bell-secret", Role: RoleOwner}
)

// withAccounts gives o doorbelld's own login and the two test accounts.
func withAccounts(o Options) Options {
	o.Username, o.Password = device.Username, device.Password
	o.Accounts = []Account{owner, reader}
	return o
}

// start runs a broker on a free loopback port until the test ends.
func start(t testing.TB, o Options) *Broker {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = discard
	}
	b := New(o)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(wait):
			t.Error("broker Run did not return")
		}
	})
	return b
}

// waitStats waits until cond holds for b's Stats.
func waitStats(t testing.TB, b *Broker, what string, cond func(Stats) bool) {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		ch := b.stats.changed()
		if cond(b.Stats()) {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("timed out waiting for %s; stats %+v", what, b.Stats())
		}
	}
}

// dial connects a paho client as acc (anonymous when acc is zero).
func dial(t testing.TB, b *Broker, acc Account, id string, opts ...func(*paho.ClientOptions)) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + b.Addr()).SetClientID(id).
		SetUsername(acc.Username).SetPassword(acc.Password).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(wait).SetKeepAlive(time.Minute)
	for _, f := range opts {
		f(o)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func mustDial(t testing.TB, b *Broker, acc Account, id string, opts ...func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	c, err := dial(t, b, acc, id, opts...)
	if err != nil {
		t.Fatalf("%s as %v: %v", id, acc, err)
	}
	return c
}

func done(t testing.TB, tok paho.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(wait) {
		t.Fatalf("%s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// msg is what a recorder keeps of a message: the payload's head only.
type msg struct {
	topic string
	head  string
	size  int
	at    time.Time
}

// recorder collects the messages a paho client receives and wakes
// whoever waits in until.
type recorder struct {
	mu   sync.Mutex
	msgs []msg
	ch   chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{})} }

func (r *recorder) handle(_ paho.Client, m paho.Message) {
	p := m.Payload()
	r.mu.Lock()
	r.msgs = append(r.msgs, msg{m.Topic(), string(p[:min(len(p), 32)]), len(p), time.Now()})
	close(r.ch)
	r.ch = make(chan struct{})
	r.mu.Unlock()
}

// until waits up to d for cond to hold for the messages so far (cond must
// not keep the slice).
func (r *recorder) until(d time.Duration, cond func([]msg) bool) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		r.mu.Lock()
		ok, ch := cond(r.msgs), r.ch
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		}
	}
}

func (r *recorder) all() []msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]msg(nil), r.msgs...)
}

func (r *recorder) has(topic string) func([]msg) bool {
	return func(ms []msg) bool {
		for _, m := range ms {
			if m.topic == topic {
				return true
			}
		}
		return false
	}
}

// subscribe subscribes c to filter into a new recorder.
func subscribe(t testing.TB, c paho.Client, filter string, qos byte) *recorder {
	t.Helper()
	r := newRecorder()
	done(t, c.Subscribe(filter, qos, r.handle), "subscribe "+filter)
	return r
}

// roundTrip returns once the broker has processed everything c sent
// before: it handles a client's packets in order, and answers a
// SUBSCRIBE only after the packets before it.
func roundTrip(t testing.TB, c paho.Client) {
	t.Helper()
	done(t, c.Subscribe("sync/never", 0, func(paho.Client, paho.Message) {}), "round trip")
}

// watcher is a mochi hook that reports disconnects.
type watcher struct {
	mqtt.HookBase
	ch chan string
}

func (w *watcher) ID() string           { return "test-watcher" }
func (w *watcher) Provides(b byte) bool { return b == mqtt.OnDisconnect }
func (w *watcher) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	select {
	case w.ch <- cl.ID:
	default:
	}
}

// watch reports the client ids that disconnect from b.
func watch(t testing.TB, b *Broker) <-chan string {
	t.Helper()
	w := &watcher{ch: make(chan string, 1024)}
	if err := b.srv.AddHook(w, nil); err != nil {
		t.Fatal(err)
	}
	return w.ch
}

func waitGone(t testing.TB, ch <-chan string, id string) {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case got := <-ch:
			if got == id {
				return
			}
		case <-timer.C:
			t.Fatalf("timed out waiting for %s to disconnect", id)
		}
	}
}

// raw is a hand-driven MQTT 3.1.1 client: it reads only what it is told.
type raw struct{ net.Conn }

// rawConnect connects and reads the CONNACK, nothing more.
func rawConnect(t testing.TB, addr string, acc Account, id string, will *pahopk.ConnectPacket) (*raw, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cp := pahopk.NewControlPacket(pahopk.Connect).(*pahopk.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.ClientIdentifier, cp.Keepalive, cp.CleanSession = id, 60, true
	if acc.Username != "" {
		cp.UsernameFlag, cp.Username = true, acc.Username
		cp.PasswordFlag, cp.Password = true, []byte(acc.Password)
	}
	if will != nil {
		cp.WillFlag, cp.WillTopic, cp.WillMessage, cp.WillQos = true, will.WillTopic, will.WillMessage, will.WillQos
	}
	if err := cp.Write(c); err != nil {
		t.Fatal(err)
	}
	r := &raw{c}
	p := r.read(t)
	ack, ok := p.(*pahopk.ConnackPacket)
	if !ok {
		t.Fatalf("want CONNACK, got %v", p)
	}
	if ack.ReturnCode != 0 {
		return nil, fmt.Errorf("refused: %d %s", ack.ReturnCode, pahopk.ConnackReturnCodes[ack.ReturnCode])
	}
	return r, nil
}

func (r *raw) read(t testing.TB) pahopk.ControlPacket {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(wait))
	defer r.SetReadDeadline(time.Time{})
	p, err := pahopk.ReadPacket(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// subscribe subscribes and reads the SUBACK (mochi sends it before any
// retained message), then leaves the socket alone.
func (r *raw) subscribe(t testing.TB, filter string, qos byte) {
	t.Helper()
	sp := pahopk.NewControlPacket(pahopk.Subscribe).(*pahopk.SubscribePacket)
	sp.Topics, sp.Qoss, sp.MessageID = []string{filter}, []byte{qos}, 1
	if err := sp.Write(r); err != nil {
		t.Fatal(err)
	}
	if p, ok := r.read(t).(*pahopk.SubackPacket); !ok || p.ReturnCodes[0] != qos {
		t.Fatalf("subscribe %s: %v", filter, p)
	}
}

// publishHeader is the start of a QoS 0 PUBLISH with a payload of size
// bytes, to be streamed after it.
func publishHeader(topic string, size int) []byte {
	var b bytes.Buffer
	b.WriteByte(0x30)
	n := 2 + len(topic) + size
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b.WriteByte(d)
		if n == 0 {
			break
		}
	}
	b.WriteByte(byte(len(topic) >> 8))
	b.WriteByte(byte(len(topic)))
	b.WriteString(topic)
	return b.Bytes()
}

// lockedBuffer is a log destination the broker's goroutines write while
// the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}
