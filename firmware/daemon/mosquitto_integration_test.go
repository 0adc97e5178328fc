//go:build integration

package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/firmware/outbox"
)

// newMosquitto starts a Mosquitto of the test's own (extra: more config
// lines) that keeps sessions across its restarts.
func newMosquitto(t *testing.T, extra string) *mosquittotest.Broker {
	return mosquittotest.New(t, "persistence true\npersistence_location $DIR/\nautosave_interval 1\n"+extra)
}

// durableSub is a subscriber with a persistent session: what is published
// while it (or the broker) is away waits for it.
func durableSub(t *testing.T, broker, id, filter string) (*inbox, paho.Client) {
	ib := newInbox(10000)
	// paho runs OnConnect on a goroutine of its own: it can wait for the
	// SUBACK there. Only the first subscription is reported; the session
	// keeps it, and every reconnect subscribes again.
	subscribed := make(chan error, 1)
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetMaxReconnectInterval(time.Second).
		SetOnConnectHandler(func(c paho.Client) {
			tok := c.Subscribe(filter, 1, ib.handle)
			err := errors.New("no SUBACK within 10s")
			if tok.WaitTimeout(10 * time.Second) {
				err = tok.Error()
			}
			select {
			case subscribed <- err:
			default:
			}
		})
	c := paho.NewClient(o)
	t.Cleanup(func() { c.Disconnect(50) })
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case err := <-subscribed:
		if err != nil {
			t.Fatalf("subscribe %s: %v", filter, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("subscribe %s: OnConnect did not run", filter)
	}
	return ib, c
}

// waitOpen waits until a client's connection is up again.
func waitOpen(t *testing.T, c paho.Client) {
	for i := 0; !c.IsConnectionOpen(); i++ {
		if i > 300 {
			t.Fatal("subscriber did not reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func outageLength() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("DOORBELL_OUTAGE")); err == nil {
		return d
	}
	return 60 * time.Second
}

// The broker is stopped for 60s while 100 presses happen: afterwards 100
// distinct events arrive, in order, flagged late, with their press times.
func TestBrokerOutageLosesNoPress(t *testing.T) {
	const presses = 100
	m := newMosquitto(t, "")
	c := simConfig(t, m.URL())
	c.Camera.Device = ""
	r := start(t, c)
	tp := r.d.Topics()
	sub, _ := durableSub(t, m.URL(), "outage-sub", tp.Event)
	for !r.d.MQTTConnected() {
		time.Sleep(10 * time.Millisecond)
	}

	outage := outageLength()
	m.Stop()
	down := time.Now()
	for r.d.MQTTConnected() {
		time.Sleep(10 * time.Millisecond)
	}
	// The test drives the line itself (Board.Press releases from a timer,
	// which a stall can delay into the next press's debounce): a stall can
	// only lengthen a phase. Each press's edge is stamped between from and
	// to.
	type stamp struct{ from, to time.Time }
	pressedAt := make([]stamp, 0, presses)
	for i := 0; i < presses; i++ {
		from, to := setButton(r, true)
		pressedAt = append(pressedAt, stamp{from, to})
		time.Sleep(20 * time.Millisecond) // held longer than min_press
		setButton(r, false)
		time.Sleep(90 * time.Millisecond) // released longer than debounce
	}
	time.Sleep(outage - time.Since(down))
	up := time.Now()
	m.Start()

	var got []event.Event
	seen := map[string]bool{}
	for len(got) < presses {
		e, _ := nextEvent(t, sub, tp, 60*time.Second)
		if seen[e.ID] {
			continue // at-least-once: a duplicate is allowed, and deduped by id
		}
		seen[e.ID] = true
		got = append(got, e)
	}
	t.Logf("broker down %v; %d presses; all %d events arrived %v after it came back", up.Sub(down).Round(time.Second), presses, len(got), time.Since(up).Round(time.Millisecond))
	for i, e := range got {
		if !e.Late || e.Type != "ring" {
			t.Errorf("event %d: %+v, want a late ring", i, e)
		}
		if i > 0 && e.Seq <= got[i-1].Seq {
			t.Errorf("event %d seq %d after %d: out of order", i, e.Seq, got[i-1].Seq)
		}
		if p := pressedAt[i]; !between(e.At, p.from, p.to) {
			t.Errorf("event %d at %v, want its press time (%v to %v)", i, e.At, p.from, p.to)
		}
	}
	noEvent(t, sub, tp, 500*time.Millisecond)
}

// The daemon is killed with SIGKILL during a burst: every event in its
// outbox arrives after it restarts.
func TestSIGKILLKeepsJournaledEvents(t *testing.T) {
	m := newMosquitto(t, "")
	dir := t.TempDir()
	bin := filepath.Join(dir, "doorbelld")
	if out, err := exec.Command("go", "build", "-race", "-o", bin, "../cmd/doorbelld").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	prefix := fmt.Sprintf("kill%d", os.Getpid())
	state := filepath.Join(dir, "state")
	httpPort := mosquittotest.FreePort(t)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("mqtt: {broker: %q, topic_prefix: %s}\nhttp: {listen: 127.0.0.1:%d}\nstorage: {dir: %q}\ncamera: {device: \"\"}\ngpio: {button: {debounce: 5ms, min_press: 0s}}\n",
		m.URL(), prefix, httpPort, state)), 0o644)
	tp := prefix + "/doorbell/event"
	sub, sc := durableSub(t, m.URL(), "kill-sub", tp)

	run := func() *exec.Cmd {
		cmd := exec.Command(bin, "--sim", "--config", cfg)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(httpPort)); err == nil {
				c.Close()
				return cmd
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("daemon HTTP did not come up")
		return nil
	}
	cmd := run()
	// The broker goes away so that the burst stays in the outbox, then the
	// daemon is killed in the middle of the burst.
	m.Stop()
	// Presses 200ms apart (a sim press holds 150ms); the kill lands in
	// the middle of the burst, while presses are still being handled.
	go func() {
		for i := 0; i < 40; i++ {
			if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(httpPort)); err == nil {
				fmt.Fprintf(c, "POST /api/sim/ring HTTP/1.0\r\n\r\n")
				c.Close()
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	time.Sleep(3 * time.Second)
	cmd.Process.Kill()
	cmd.Wait()

	ob, err := outbox.Open(filepath.Join(state, "outbox"), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	journaled := ob.Pending()
	ob.Close()
	if len(journaled) == 0 {
		t.Fatal("nothing journaled: the burst did not reach the outbox")
	}
	m.Start()
	waitOpen(t, sc)
	cmd = run()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	want := map[string]bool{}
	for _, e := range journaled {
		want[e.ID] = true
	}
	for len(want) > 0 {
		e, _ := nextEvent(t, sub, Topics{Topics: mqttapi.Topics{Event: tp}}, 30*time.Second)
		if want[e.ID] && !e.Late {
			t.Errorf("replayed event %s not marked late", e.ID)
		}
		delete(want, e.ID)
	}
	t.Logf("%d events journaled at SIGKILL, all arrived after the restart", len(journaled))
}

// An account limited by an ACL to its own topics works.
func TestACLRestrictedAccount(t *testing.T) {
	m := mosquittotest.Prepare(t)
	dir := m.Dir
	pw := filepath.Join(dir, "passwd")
	if out, err := exec.Command("mosquitto_passwd", "-b", "-c", pw, "bell", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	prefix := fmt.Sprintf("acl%d", os.Getpid())
	acl := filepath.Join(dir, "acl")
	os.WriteFile(acl, []byte(fmt.Sprintf("user bell\ntopic readwrite %s/#\ntopic readwrite homeassistant/#\n\nuser watcher\ntopic read %s/#\n", prefix, prefix)), 0o644)
	if out, err := exec.Command("mosquitto_passwd", "-b", pw, "watcher", "w").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	os.Chmod(pw, 0o644)
	os.Chmod(acl, 0o644)
	m.Configure(fmt.Sprintf("allow_anonymous false\npassword_file %s\nacl_file %s\n", pw, acl))
	m.Start()
	c := simConfig(t, m.URL())
	c.MQTT.TopicPrefix = prefix
	c.MQTT.Username, c.MQTT.Password = "bell", "s3cret"
	c.Camera.Device = ""
	r := start(t, c)
	tp := r.d.Topics()

	ib := subscribeWith(t, paho.NewClientOptions().AddBroker(m.URL()).SetUsername("watcher").SetPassword("w"), prefix+"/#")
	if m := next(t, ib, tp.Status, 5*time.Second); string(m.payload) != "online" {
		t.Fatalf("status %q", m.payload)
	}
	r.board.Press(30 * time.Millisecond)
	if e, _ := nextEvent(t, ib, tp, 5*time.Second); e.Type != "ring" {
		t.Errorf("event %+v", e)
	}
	// A wrong password is refused.
	bad := paho.NewClient(paho.NewClientOptions().AddBroker(m.URL()).SetClientID("bad").SetUsername("bell").SetPassword("nope"))
	if tok := bad.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		t.Error("mosquitto accepted a wrong password: the ACL test proves nothing")
	}
}

// A retained command waiting on the broker is not acted on when the daemon
// subscribes: it would fire again on every reconnect.
func TestRetainedCommandIgnoredOnSubscribe(t *testing.T) {
	m := mosquittotest.New(t, "")
	c := simConfig(t, m.URL())
	c.Camera.Device = ""
	publish(t, m.URL(), c.MQTT.TopicPrefix+"/"+c.Device.ID+"/cmd/privacy", true, "ON")
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, m.URL(), tp.PrivacyState)
	if m := next(t, ch, tp.PrivacyState, 5*time.Second); string(m.payload) != "OFF" {
		t.Errorf("privacy state %q after a retained ON, want OFF", m.payload)
	}
	// The daemon got the retained ON when it subscribed, and refused it.
	waitFor(t, "the retained command to be refused", func() bool { return r.d.rejected.Load() > 0 })
	if privacy, _ := r.d.sw.get(); privacy {
		t.Error("privacy turned on by a retained command")
	}
}
