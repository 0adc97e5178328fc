//go:build integration && unix

package outbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// The crash test: a child process presses the doorbell through
// Sender.Post and mqttpub, and is killed -9 at random moments, while the
// broker (a Mosquitto of the test's own, keeping sessions across its
// restarts) goes down and up; the next child opens the same outbox. A
// subscriber with a persistent session checks what arrives.
//
// The child reports on stdout, one line per write:
//
//	P id      posted (after Post returned)
//	D id      durable (OnDurable: the add record is synced)
//	A id      the broker acknowledged a publish of id (PUBACK)
//	G id,...  the publishes awaiting their PUBACK when the connection was
//	          lost: paho resends them after reconnecting, in any order
//	          (mqttpub's paho store is an unordered map)
const (
	crashTopic = "outbox-crash/event"
	crashPress = 5 * time.Millisecond // the child's press interval
	// A child lives up to crashMaxLife (uniformly): long enough to press
	// live after mqttpub's 300ms settle, or killed while it opens the
	// outbox, connects or replays.
	crashMaxLife = 1200 * time.Millisecond
)

// TestCrashChild is the process TestCrashKill9 kills, not a test itself.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("OUTBOX_CRASH_DIR")
	if dir == "" {
		t.Skip("helper process of TestCrashKill9")
	}
	run, _ := strconv.Atoi(os.Getenv("OUTBOX_CRASH_RUN"))
	press := os.Getenv("OUTBOX_CRASH_PRESS") == "1"
	slow, _ := time.ParseDuration(os.Getenv("OUTBOX_CRASH_SLOW"))
	report := func(kind, what string) { fmt.Fprintf(os.Stdout, "%s %s\n", kind, what) } // one write each

	ob, err := Open(dir, Options{Logger: quiet(), OnDurable: func(id string) { report("D", id) },
		Sync: func(f *os.File) error { time.Sleep(slow); return datasync(f) }})
	if err != nil {
		t.Fatal(err)
	}
	var snd *Sender
	mq := mqttpub.New(mqttpub.Options{
		Broker: os.Getenv("OUTBOX_CRASH_BROKER"), ClientID: "outbox-crash", StatusTopic: "outbox-crash/status",
		OnConnect: func() { snd.Kick() }, Logger: quiet(), MaxReconnectInterval: 100 * time.Millisecond,
	})
	pub := &trackingPub{Client: mq, pending: map[string]int{}, report: report}
	snd = NewSender(ob, SenderOptions{Topic: crashTopic, Publisher: pub, Logger: quiet()})
	go snd.Run(t.Context())
	go pub.watch()
	mq.Connect()
	if press {
		tick := time.NewTicker(crashPress)
		for seq := 1; ; seq++ {
			<-tick.C
			e := event.Event{ID: fmt.Sprintf("r%03d-%06d", run, seq), Seq: uint64(seq), Device: "front", Type: event.Ring, At: time.Now()}
			payload, _ := json.Marshal(e)
			if err := snd.Post(e, payload); err != nil {
				t.Fatal(err)
			}
			report("P", e.ID)
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
}

// trackingPub is the child's mqttpub client, reporting PUBACKs and what
// paho holds when the connection is lost.
type trackingPub struct {
	*mqttpub.Client
	mu      sync.Mutex
	pending map[string]int // id → publishes awaiting their PUBACK
	report  func(kind, what string)
}

func (p *trackingPub) Publish(topic string, qos byte, retained bool, payload []byte) paho.Token {
	var e event.Event
	json.Unmarshal(payload, &e)
	p.mu.Lock()
	p.pending[e.ID]++
	p.mu.Unlock()
	tok := p.Client.Publish(topic, qos, retained, payload)
	go func() {
		<-tok.Done()
		p.mu.Lock()
		if p.pending[e.ID]--; p.pending[e.ID] == 0 {
			delete(p.pending, e.ID)
		}
		p.mu.Unlock()
		if tok.Error() == nil {
			p.report("A", e.ID)
		}
	}()
	return tok
}

// watch reports the publishes awaiting their PUBACK each time the
// connection goes down. Connected stays false for at least mqttpub's
// settle time (300ms) after a reconnect, so polling it does not miss a
// loss; what is published between the loss and this report is pending
// at the report too (nothing is acknowledged on a lost connection).
func (p *trackingPub) watch() {
	was := false
	for range time.Tick(time.Millisecond) {
		now := p.Connected()
		if was && !now {
			p.mu.Lock()
			ids := make([]string, 0, len(p.pending))
			for id := range p.pending {
				ids = append(ids, id)
			}
			p.mu.Unlock()
			if len(ids) > 0 {
				p.report("G", strings.Join(ids, ","))
			}
		}
		was = now
	}
}

// crashLedger is what the children reported and the subscriber got.
type crashLedger struct {
	mu       sync.Mutex
	posted   map[string]bool
	durable  map[string]bool
	acked    map[string]int // id → the child that saw the first PUBACK
	groups   [][]string
	arrivals []arrival
	seen     map[string]int // id → arrivals
}

type arrival struct {
	id       string
	run, seq int
	late     bool
	dup      bool // MQTT DUP: the broker delivered it again
}

func (l *crashLedger) line(run int, s string) {
	kind, what, _ := strings.Cut(s, " ")
	l.mu.Lock()
	defer l.mu.Unlock()
	switch kind {
	case "P":
		l.posted[what] = true
	case "D":
		l.durable[what] = true
	case "A":
		if l.acked[what] == 0 {
			l.acked[what] = run
		}
	case "G":
		l.groups = append(l.groups, strings.Split(what, ","))
	}
}

func (l *crashLedger) receive(m paho.Message) {
	var e event.Event
	if err := json.Unmarshal(m.Payload(), &e); err != nil {
		return // checked below: every expected id must arrive
	}
	var run, seq int
	fmt.Sscanf(e.ID, "r%03d-%06d", &run, &seq)
	l.mu.Lock()
	l.arrivals = append(l.arrivals, arrival{id: e.ID, run: run, seq: seq, late: e.Late, dup: m.Duplicate()})
	l.seen[e.ID]++
	l.mu.Unlock()
}

// missing returns the ids reported durable or acknowledged that have not
// arrived.
func (l *crashLedger) missing() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for id := range l.durable {
		if l.seen[id] == 0 {
			out = append(out, id)
		}
	}
	for id := range l.acked {
		if l.seen[id] == 0 && !l.durable[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// child is one run of TestCrashChild.
type child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	eof    chan struct{} // stdout read to its end
}

// startChild starts child run, pressing or not, with each journal sync
// slow longer.
func startChild(t *testing.T, l *crashLedger, dir, broker string, run int, press bool, slow time.Duration) *child {
	t.Helper()
	c := &child{eof: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	c.cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "OUTBOX_CRASH_DIR="+dir, "OUTBOX_CRASH_BROKER="+broker,
		fmt.Sprint("OUTBOX_CRASH_RUN=", run), fmt.Sprint("OUTBOX_CRASH_PRESS=", map[bool]int{false: 0, true: 1}[press]),
		fmt.Sprint("OUTBOX_CRASH_SLOW=", slow))
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.eof)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l.line(run, sc.Text())
		}
	}()
	return c
}

// kill ends the child with SIGKILL and fails t if it had ended on its own.
func (c *child) kill(t *testing.T) {
	t.Helper()
	c.cmd.Process.Kill()
	<-c.eof
	c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended before it was killed: %v\n%s", c.cmd.ProcessState, c.stderr.Bytes())
	}
}

// TestCrashKill9 presses at least OUTBOX_CRASH_PRESSES times (default
// 1000) over at least one child killed -9 per 50 presses (and 20), with the broker going
// down and up at random moments too, and checks that every event a child
// reported durable (or acknowledged by the broker) arrives; that an event
// arriving twice is marked late (or is the broker's own redelivery, MQTT
// DUP); that an event published again by a later child is late; and that
// each child's events first arrive in seq order, except among publishes
// paho resent together after a reconnect. The random moments change only
// where the kills land, not what must hold; the one time limit is a
// generous deadline for the last events to arrive.
func TestCrashKill9(t *testing.T) {
	target := 1000
	if s := os.Getenv("OUTBOX_CRASH_PRESSES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("OUTBOX_CRASH_PRESSES=%q: %v", s, err)
		}
		target = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OUTBOX_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (OUTBOX_CRASH_SEED repeats the kill moments)", seed)
	rng := rand.New(rand.NewPCG(seed, 2026))

	m := mosquittotest.New(t, "persistence true\npersistence_location $DIR/\nmax_queued_messages 0\n")
	l := &crashLedger{posted: map[string]bool{}, durable: map[string]bool{}, acked: map[string]int{}, seen: map[string]int{}}
	subscribeDurably(t, m.URL(), l)
	dir := t.TempDir()

	up, outages := true, 0
	toggle := func() {
		if up {
			m.Stop()
			outages++
		} else {
			m.Start()
		}
		up = !up
	}
	run := 0
	for {
		l.mu.Lock()
		n := len(l.posted)
		l.mu.Unlock()
		if n >= target && run >= max(20, target/50) {
			break
		}
		run++
		// Half the children have a journal as slow as a cheap SD card:
		// kills land between publish, write and sync, and PUBACKs come
		// before the writes.
		var slow time.Duration
		if rng.IntN(2) == 0 {
			slow = time.Duration(rng.Int64N(int64(30 * time.Millisecond)))
		}
		c := startChild(t, l, dir, m.URL(), run, true, slow)
		life := time.Duration(rng.Int64N(int64(crashMaxLife)))
		// Down with a chance of a third while up, up with one of a half
		// while down: at a random moment of this child's life.
		if up && rng.IntN(3) == 0 || !up && rng.IntN(2) == 0 {
			at := time.Duration(rng.Int64N(int64(life) + 1))
			time.Sleep(at)
			toggle()
			life -= at
		}
		time.Sleep(life)
		c.kill(t)
	}
	kills := run

	// The last child presses nothing: it replays what the others left.
	if !up {
		toggle()
	}
	run++
	c := startChild(t, l, dir, m.URL(), run, false, 0)
	defer c.kill(t)
	for deadline := time.Now().Add(3 * time.Minute); ; {
		miss := l.missing()
		if len(miss) == 0 {
			break
		}
		if time.Now().After(deadline) {
			l.mu.Lock()
			for _, id := range miss[:min(20, len(miss))] {
				t.Errorf("%s never arrived (posted %v, durable %v, acknowledged by child %d)", id, l.posted[id], l.durable[id], l.acked[id])
			}
			l.mu.Unlock()
			t.Fatalf("%d events reported durable or acknowledged never arrived; child stderr:\n%s", len(miss), c.stderr.Bytes())
		}
		time.Sleep(10 * time.Millisecond)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	late, dupLate, dupMQTT, excused := checkArrivals(t, l)
	replayed, notJournaled := 0, 0
	for id := range l.durable {
		var r, seq int
		fmt.Sscanf(id, "r%03d-%06d", &r, &seq)
		if l.acked[id] != r {
			replayed++
		}
	}
	for id := range l.acked {
		if !l.durable[id] {
			notJournaled++
		}
	}
	t.Logf("%d presses in %d children killed -9, %d broker outages; %d events durable, %d of them acknowledged only by a later child; "+
		"%d acknowledged before their journal write (never written, or killed first); "+
		"%d arrivals: %d late, %d duplicates marked late, %d MQTT redeliveries, %d resend groups, %d reorderings within them",
		len(l.posted), kills, outages, len(l.durable), replayed, notJournaled,
		len(l.arrivals), late, dupLate, dupMQTT, len(l.groups), excused)
}

// checkArrivals checks the subscriber's arrivals against the rules of
// TestCrashKill9 and returns what it counted.
func checkArrivals(t *testing.T, l *crashLedger) (late, dupLate, dupMQTT, excused int) {
	t.Helper()
	together := func(a, b string) bool {
		for _, g := range l.groups {
			if slices.Contains(g, a) && slices.Contains(g, b) {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	maxRun := 0                   // the latest child whose own event arrived
	firsts := map[int][]arrival{} // run → first arrivals, in order
	for _, a := range l.arrivals {
		if a.late {
			late++
		}
		if seen[a.id] {
			switch {
			case a.late:
				dupLate++
			case a.dup:
				dupMQTT++
			default:
				t.Errorf("%s arrived again, neither late nor an MQTT redelivery", a.id)
			}
			continue
		}
		seen[a.id] = true
		if !a.late && !a.dup && a.run < maxRun {
			t.Errorf("%s of child %d arrived live after events of child %d: a replay must be late", a.id, a.run, maxRun)
		}
		maxRun = max(maxRun, a.run)
		for _, b := range firsts[a.run] {
			if b.seq > a.seq {
				if !together(a.id, b.id) {
					t.Errorf("%s arrived after %s: out of order", a.id, b.id)
				} else {
					excused++
				}
			}
		}
		firsts[a.run] = append(firsts[a.run], a)
	}
	return late, dupLate, dupMQTT, excused
}

// subscribeDurably subscribes to the crash topic with a persistent
// session, so that what is published while the subscriber reconnects
// after a broker restart waits for it.
func subscribeDurably(t *testing.T, broker string, l *crashLedger) {
	t.Helper()
	subscribed := make(chan error, 1)
	o := paho.NewClientOptions().AddBroker(broker).SetClientID("outbox-crash-sub").SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetMaxReconnectInterval(100 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) {
			tok := c.Subscribe(crashTopic, 1, func(_ paho.Client, m paho.Message) { l.receive(m) })
			err := errors.New("no SUBACK")
			if tok.WaitTimeout(patience) {
				err = tok.Error()
			}
			select {
			case subscribed <- err:
			default:
			}
		})
	c := paho.NewClient(o)
	t.Cleanup(func() { c.Disconnect(50) })
	if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("subscriber: %v", tok.Error())
	}
	if err := <-subscribed; err != nil {
		t.Fatalf("subscribe: %v", err)
	}
}
