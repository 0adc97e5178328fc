package outbox

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// fakeToken is a paho token the test completes.
type fakeToken struct {
	done chan struct{}
	once sync.Once
	err  error
}

func newToken() *fakeToken { return &fakeToken{done: make(chan struct{})} }

func (t *fakeToken) complete(err error) {
	t.once.Do(func() { t.err = err; close(t.done) })
}
func (t *fakeToken) Wait() bool { <-t.done; return true }
func (t *fakeToken) WaitTimeout(d time.Duration) bool {
	select {
	case <-t.done:
		return true
	case <-time.After(d):
		return false
	}
}
func (t *fakeToken) Done() <-chan struct{} { return t.done }
func (t *fakeToken) Error() error {
	select {
	case <-t.done:
		return t.err
	default:
		return nil
	}
}

var _ paho.Token = (*fakeToken)(nil)

type published struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	tok     *fakeToken
}

// fakePub is a broker connection the test controls: connected or not,
// PUBACKs automatic or by hand.
type fakePub struct {
	connected atomic.Bool
	autoAck   atomic.Bool
	mu        sync.Mutex
	msgs      []published
	notify    chan struct{}
}

func newFakePub(connected, autoAck bool) *fakePub {
	p := &fakePub{notify: make(chan struct{}, 1000)}
	p.connected.Store(connected)
	p.autoAck.Store(autoAck)
	return p
}

func (p *fakePub) Connected() bool { return p.connected.Load() }

func (p *fakePub) Publish(topic string, qos byte, retained bool, payload []byte) paho.Token {
	tok := newToken()
	p.mu.Lock()
	p.msgs = append(p.msgs, published{topic, payload, qos, retained, tok})
	p.mu.Unlock()
	if p.autoAck.Load() {
		tok.complete(nil)
	}
	// A wake-up for waiters, who check p.msgs again: when they are
	// behind, wake-ups are already queued, so none is needed (a blocking
	// send here hung TestJournalUnderLoad once more publishes than
	// wake-ups read had filled the channel).
	select {
	case p.notify <- struct{}{}:
	default:
	}
	return tok
}

func (p *fakePub) all() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// waitMsgs waits until n messages were published.
func (p *fakePub) waitMsgs(t *testing.T, n int) []published {
	t.Helper()
	timeout := deadline(t)
	for {
		if m := p.all(); len(m) >= n {
			return m
		}
		select {
		case <-p.notify:
		case <-timeout:
			t.Fatalf("%d messages published, want %d", len(p.all()), n)
		}
	}
}

func eventOf(t *testing.T, m published) event.Event {
	t.Helper()
	var e event.Event
	if err := json.Unmarshal(m.payload, &e); err != nil {
		t.Fatalf("payload %s: %v", m.payload, err)
	}
	if m.topic != "doorbell/front/event" || m.qos != 1 || m.retain {
		t.Errorf("published on %s qos %d retain %v", m.topic, m.qos, m.retain)
	}
	return e
}

// runSender runs a Sender until the test ends.
func runSender(t *testing.T, ob *Outbox, pub Publisher, clk clockwork.Clock) *Sender {
	t.Helper()
	s := NewSender(ob, SenderOptions{Topic: "doorbell/front/event", Publisher: pub, Logger: quiet(), Clock: clk, Window: 4})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if pub.Connected() {
		settle(t, s)
	}
	return s
}

// settle waits until the replay Run starts with (or a Kick asked for) is
// done, so the next Send is live.
func settle(t testing.TB, s *Sender) {
	t.Helper()
	waitFor(t, "the replay", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return !s.needReplay })
}

// patience bounds every wait of these tests for something that must
// happen: only a failure takes that long, so it is generous enough for a
// loaded machine running -race.
const patience = 30 * time.Second

// deadline is a channel that fires after patience.
func deadline(t testing.TB) <-chan time.Time {
	t.Helper()
	return time.After(patience)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSenderLive(t *testing.T) {
	ob := open(t, t.TempDir(), Options{})
	pub := newFakePub(true, true)
	s := runSender(t, ob, pub, nil)
	s.Send(add(t, ob, 1, event.Ring))
	m := pub.waitMsgs(t, 1)
	if e := eventOf(t, m[0]); e.ID != "ev0001" || e.Late {
		t.Errorf("live event %+v", e)
	}
	waitFor(t, "ack", func() bool { return ob.Len() == 0 })
}

func TestSenderReplaysAfterOutageInOrder(t *testing.T) {
	ob := open(t, t.TempDir(), Options{})
	pub := newFakePub(false, true)
	s := runSender(t, ob, pub, nil)
	for i := 0; i < 10; i++ {
		post(t, s, i, types[i%len(types)])
	}
	time.Sleep(20 * time.Millisecond)
	if n := len(pub.all()); n != 0 {
		t.Fatalf("%d published while disconnected", n)
	}
	pub.connected.Store(true)
	// A new event while older ones wait queues behind them.
	post(t, s, 10, event.Ring)
	s.Kick() // what OnConnect does
	msgs := pub.waitMsgs(t, 11)
	for i, m := range msgs {
		e := eventOf(t, m)
		want, _ := ev(i, types[i%len(types)])
		if i == 10 {
			want, _ = ev(10, event.Ring)
		}
		if e.ID != want.ID || !e.Late || !e.At.Equal(want.At) || e.Seq != want.Seq {
			t.Errorf("message %d: %+v, want %s late with the original at", i, e, want.ID)
		}
	}
	waitFor(t, "acks", func() bool { return ob.Len() == 0 })
	settle(t, s)
	// Caught up: the next event is live again.
	post(t, s, 11, event.Ring)
	if e := eventOf(t, pub.waitMsgs(t, 12)[11]); e.ID != "ev0011" || e.Late {
		t.Errorf("after catching up: %+v", e)
	}
	if n := len(pub.all()); n != 12 {
		t.Errorf("%d messages, want 12 (no duplicates)", n)
	}
}

func TestSenderReplaysAfterRestart(t *testing.T) {
	dir := t.TempDir()
	ob := open(t, dir, Options{})
	add(t, ob, 1, event.Ring)
	add(t, ob, 2, event.MotionStart)
	ob.Close()

	ob = open(t, dir, Options{})
	pub := newFakePub(true, true)
	runSender(t, ob, pub, nil)
	msgs := pub.waitMsgs(t, 2)
	if a, b := eventOf(t, msgs[0]), eventOf(t, msgs[1]); a.ID != "ev0001" || b.ID != "ev0002" || !a.Late || !b.Late {
		t.Errorf("replayed %+v, %+v", a, b)
	}
	waitFor(t, "acks", func() bool { return ob.Len() == 0 })
}

// A failed publish is replayed, late; an event whose publish still waits
// for its PUBACK is never published a second time meanwhile.
func TestSenderFailureAndNoDuplicates(t *testing.T) {
	ob := open(t, t.TempDir(), Options{})
	pub := newFakePub(true, false)
	s := runSender(t, ob, pub, nil)
	post(t, s, 1, event.Ring)
	post(t, s, 2, event.Ring)
	msgs := pub.waitMsgs(t, 2)
	msgs[1].tok.complete(paho.ErrNotConnected) // ev0002 fails, ev0001 still waits
	waitFor(t, "the replay", func() bool { s.Kick(); return len(pub.all()) >= 3 })
	msgs = pub.all()
	if e := eventOf(t, msgs[2]); e.ID != "ev0002" || !e.Late {
		t.Fatalf("replayed %+v, want ev0002 late", e)
	}
	s.Kick()
	time.Sleep(30 * time.Millisecond)
	if n := len(pub.all()); n != 3 {
		t.Fatalf("%d messages: an event in flight was published again", n)
	}
	msgs[0].tok.complete(nil)
	msgs[2].tok.complete(nil)
	waitFor(t, "acks", func() bool { return ob.Len() == 0 })
}

func TestSenderAckTimeout(t *testing.T) {
	ob := open(t, t.TempDir(), Options{})
	pub := newFakePub(true, false)
	clk := clockwork.NewFakeClock()
	s := runSender(t, ob, pub, clk)
	s.Send(add(t, ob, 1, event.Ring))
	pub.waitMsgs(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := clk.BlockUntilContext(ctx, 2); err != nil { // Run's ticker, the PUBACK timer
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute) // the ticker may replay it first, or the Kick
	waitFor(t, "the replay", func() bool { s.Kick(); return len(pub.all()) >= 2 })
	if e := eventOf(t, pub.waitMsgs(t, 2)[1]); e.ID != "ev0001" || !e.Late {
		t.Errorf("after the timeout: %+v", e)
	}
}

func TestSenderStopsWithPending(t *testing.T) {
	dir := t.TempDir()
	ob := open(t, dir, Options{})
	pub := newFakePub(true, false)
	s := NewSender(ob, SenderOptions{Topic: "doorbell/front/event", Publisher: pub, Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	post(t, s, 1, event.Ring)
	pub.waitMsgs(t, 1)
	cancel()
	select {
	case <-done:
	case <-deadline(t):
		t.Fatal("Run did not return with a PUBACK outstanding")
	}
	if ob.Len() != 1 {
		t.Error("unacknowledged event removed")
	}
	post(t, s, 2, event.Ring) // after Run: kept for the next start, not published
	if n := len(pub.all()); n != 1 {
		t.Errorf("%d published after Run returned", n)
	}
	ob.Close() // writes what the journal holds
	if got := ids(open(t, dir, Options{}).Pending()); !slices.Equal(got, []string{"ev0001", "ev0002"}) {
		t.Errorf("after a restart: %v", got)
	}
}

// Acked reports each acknowledged event once, live or replayed, with a
// time taken after the publish.
func TestSenderAckedHook(t *testing.T) {
	ob := open(t, t.TempDir(), Options{})
	pub := newFakePub(false, true)
	type ack struct {
		id       string
		at       time.Time
		replayed bool
	}
	acks := make(chan ack, 8)
	s := NewSender(ob, SenderOptions{Topic: "doorbell/front/event", Publisher: pub, Logger: quiet(), Window: 4,
		Acked: func(e Entry, at time.Time, replayed bool) { acks <- ack{e.ID, at, replayed} }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	post(t, s, 0, event.Ring) // waits in the journal: not connected
	pub.connected.Store(true)
	s.Kick()
	got := <-acks
	if got.id != "ev0000" || !got.replayed {
		t.Errorf("ack %+v, want ev0000 replayed", got)
	}
	settle(t, s)
	before := time.Now()
	s.Send(add(t, ob, 1, event.Ring))
	select {
	case got = <-acks:
	case <-deadline(t):
		t.Fatal("no ack for the live event")
	}
	if got.id != "ev0001" || got.replayed || got.at.Before(before) {
		t.Errorf("ack %+v, want ev0001 live, at or after %v", got, before)
	}
}
