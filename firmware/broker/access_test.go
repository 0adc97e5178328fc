package broker

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	pahopk "github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/jonboulle/clockwork"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

func TestLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:1883", true},
		{"127.0.0.53:1883", true},
		{"[::1]:1883", true},
		{"localhost:1883", true},
		{"LOCALHOST.:1883", true},
		{"[::ffff:127.0.0.1]:1883", true},
		{"127.0.0.1", true},
		{"[::1]", true},
		{"::1", true},
		{":1883", false},
		{"0.0.0.0:1883", false},
		{"[::]:1883", false},
		{"192.168.1.10:1883", false},
		{"doorbell.lan:1883", false},
		{"localhost.example:1883", false},
		{"[fe80::1%eth0]:1883", false},
		{"", false},
	} {
		if got := Loopback(tc.addr); got != tc.want {
			t.Errorf("Loopback(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestRoleAndAccountStrings(t *testing.T) {
	for _, s := range []string{"owner", "reader"} {
		r, err := ParseRole(s)
		if err != nil || r.String() != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := ParseRole("admin"); err == nil {
		t.Error("ParseRole(admin): no error")
	}
	a := Account{Username: "dash", Password: "hunter2", Role: RoleReader}
	for _, s := range []string{a.String(), fmt.Sprintf("%v %+v %#v", a, a, a)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password shown: %s", s)
		}
	}
}

func TestStartChecksAccounts(t *testing.T) {
	for name, accs := range map[string][]Account{
		"empty username": {{Password: "x", Role: RoleOwner}},
		"empty password": {{Username: "a", Role: RoleOwner}},
		"no role":        {{Username: "a", Password: "x"}},
		"duplicate":      {{Username: "a", Password: "x", Role: RoleOwner}, {Username: "a", Password: "y", Role: RoleReader}},
		"same as device": {{Username: "bell", Password: "x", Role: RoleReader}},
	} {
		b := New(Options{Listen: "127.0.0.1:0", Username: "bell", Accounts: accs, Logger: slog.New(slog.DiscardHandler)})
		if err := b.Start(); err == nil {
			t.Errorf("%s: Start accepted %v", name, accs)
		}
	}
}

// TestLogin: with any login configured, only known users with their
// password get in, on loopback too; with none, loopback clients do.
func TestLogin(t *testing.T) {
	open := start(t, Options{})
	accounts := start(t, withAccounts(Options{}))
	deviceOnly := start(t, Options{Username: device.Username, Password: device.Password})
	for _, tc := range []struct {
		name string
		b    *Broker
		acc  Account
		want string // error substring; "" = connected
	}{
		{"open: anonymous loopback", open, Account{}, ""},
		{"open: any login on loopback", open, Account{Username: "x", Password: "y"}, ""},
		{"accounts: anonymous loopback", accounts, Account{}, "not Authorized"},
		{"accounts: owner", accounts, owner, ""},
		{"accounts: reader", accounts, reader, ""},
		{"accounts: device", accounts, device, ""},
		{"accounts: wrong password", accounts, Account{Username: owner.Username, Password: "nope"}, "not Authorized"},
		{"accounts: unknown user", accounts, Account{Username: "mallory", Password: owner.Password}, "not Authorized"},
		{"accounts: password of another", accounts, Account{Username: reader.Username, Password: owner.Password}, "not Authorized"},
		{"device only: anonymous loopback", deviceOnly, Account{}, "not Authorized"},
		{"device only: device", deviceOnly, device, ""},
		{"device only: owner", deviceOnly, owner, "not Authorized"},
	} {
		_, err := dial(t, tc.b, tc.acc, "login-test")
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if s := accounts.Stats(); s.AuthFailures != 4 {
		t.Errorf("accounts broker: %+v, want 4 auth failures", s)
	}
}

// TestRemoteAnonymousRefused: an open broker (no accounts) lets in
// loopback clients only, whatever they send; mochi's client is faked
// here, as a test cannot connect from another machine.
func TestRemoteAnonymousRefused(t *testing.T) {
	for _, tc := range []struct {
		opts   Options
		remote string
		user   string
		want   bool
	}{
		{Options{}, "127.0.0.1:40000", "", true},
		{Options{}, "[::1]:40000", "", true},
		{Options{}, "[::ffff:127.0.0.1]:40000", "", true},
		{Options{}, "192.168.1.7:40000", "", false},
		{Options{}, "192.168.1.7:40000", "bell", false},
		{Options{}, "[fe80::1]:40000", "", false},
		{withAccounts(Options{}), "127.0.0.1:40000", "", false},
		{withAccounts(Options{}), "192.168.1.7:40000", "", false},
	} {
		b := New(tc.opts)
		a, err := newAccess(b)
		if err != nil {
			t.Fatal(err)
		}
		b.opts.Logger = slog.New(slog.DiscardHandler)
		b.warn = newLogLimiter(b.opts.Logger, nil)
		cl := &mqtt.Client{Net: mqtt.ClientConnection{Remote: tc.remote}}
		var pk packets.Packet
		pk.Connect.Username = []byte(tc.user)
		if got := a.OnConnectAuthenticate(cl, pk); got != tc.want {
			t.Errorf("accounts %d, %s, user %q: %v, want %v", len(tc.opts.Accounts), tc.remote, tc.user, got, tc.want)
		}
	}
}

// TestReaderCannotPublish: whatever a reader sends (QoS 0, QoS 1, a will)
// never reaches a subscriber. Each attempt is followed, on the same
// topic, by an owner's marker, published once the broker has processed
// the attempt; the subscriber's first message must be the marker.
func TestReaderCannotPublish(t *testing.T) {
	b := start(t, withAccounts(Options{}))
	gone := watch(t, b)
	sub := mustDial(t, b, reader, "watcher")
	own := mustDial(t, b, owner, "owner")
	rec := subscribe(t, sub, "doorbell/#", 1)

	marker := func(topic string) {
		t.Helper()
		done(t, own.Publish(topic, 1, false, "marker"), "owner publish")
		if !rec.until(wait, rec.has(topic)) {
			t.Fatalf("%s: the owner's marker never arrived", topic)
		}
	}

	// QoS 0: mochi drops it silently; the reader stays connected.
	rd := mustDial(t, b, reader, "reader0")
	done(t, rd.Publish("doorbell/cmd/q0", 0, false, "ring"), "reader publish")
	roundTrip(t, rd) // the broker has handled the publish
	marker("doorbell/cmd/q0")
	if !rd.IsConnectionOpen() {
		t.Error("reader disconnected for a QoS 0 publish")
	}

	// QoS 1: mochi disconnects a 3.1.1 client it refuses a publish.
	lost := make(chan error, 1)
	rd1 := mustDial(t, b, reader, "reader1", func(o *paho.ClientOptions) {
		o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	})
	rd1.Publish("doorbell/cmd/q1", 1, false, "ring")
	waitGone(t, gone, "reader1")
	marker("doorbell/cmd/q1")

	// A will would be a publish at disconnect: it is dropped at login.
	will := &pahopk.ConnectPacket{WillTopic: "doorbell/cmd/will", WillMessage: []byte("ring"), WillQos: 1}
	rw, err := rawConnect(t, b.Addr(), reader, "reader-will", will)
	if err != nil {
		t.Fatal(err)
	}
	rw.Close() // no DISCONNECT: mochi would publish the will
	waitGone(t, gone, "reader-will")
	marker("doorbell/cmd/will")

	for _, m := range rec.all() {
		if m.head != "marker" {
			t.Errorf("subscriber got %s %q from a reader", m.topic, m.head)
		}
	}
	if s := b.Stats(); s.Denied != 3 {
		t.Errorf("stats %+v, want 3 denied", s)
	}
}

// TestOwnerPublishes: owners and doorbelld's own login write, with will.
func TestOwnerPublishes(t *testing.T) {
	b := start(t, withAccounts(Options{}))
	gone := watch(t, b)
	rec := subscribe(t, mustDial(t, b, reader, "watcher"), "doorbell/#", 1)
	done(t, mustDial(t, b, owner, "owner").Publish("doorbell/cmd/restart", 1, false, "owner"), "owner publish")
	done(t, mustDial(t, b, device, "device").Publish("doorbell/ring", 0, false, "device"), "device publish")
	will := &pahopk.ConnectPacket{WillTopic: "doorbell/status", WillMessage: []byte("offline")}
	rw, err := rawConnect(t, b.Addr(), owner, "owner-will", will)
	if err != nil {
		t.Fatal(err)
	}
	rw.Close()
	waitGone(t, gone, "owner-will")
	if !rec.until(wait, func(ms []msg) bool { return len(ms) == 3 }) {
		t.Fatalf("got %v, want the owner's, the device's and the will", rec.all())
	}
}

// TestBusy: MaxClients counts connected clients and kept sessions; a
// returning client gets its session back.
func TestBusy(t *testing.T) {
	b := start(t, withAccounts(Options{MaxClients: 2}))
	away := mustDial(t, b, reader, "away", func(o *paho.ClientOptions) { o.SetCleanSession(false) })
	gone := watch(t, b)
	away.Disconnect(0)
	waitGone(t, gone, "away")
	mustDial(t, b, owner, "one")
	if _, err := dial(t, b, owner, "two"); err == nil || !strings.Contains(err.Error(), "server Unavailable") {
		t.Errorf("third client: %v, want server unavailable", err)
	}
	mustDial(t, b, reader, "away", func(o *paho.ClientOptions) { o.SetCleanSession(false) })
	if s := b.Stats(); s.Busy != 1 {
		t.Errorf("stats %+v, want 1 busy", s)
	}
}

// TestRefusalLog: refusals are logged at Warn once a minute per address,
// the next line counting those suppressed; the password never appears.
func TestRefusalLog(t *testing.T) {
	var out lockedBuffer // the broker logs from its own goroutines
	logger := slog.New(slog.NewTextHandler(&out, nil))
	b := start(t, withAccounts(Options{Logger: logger}))
	for range 5 {
		if _, err := dial(t, b, Account{Username: owner.Username, Password: "wrong-pw-1234"}, "x"); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	waitStats(t, b, "5 auth failures", func(s Stats) bool { return s.AuthFailures == 5 })
	// The line may be written just after the count: wait for it.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "mqtt login refused") && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := strings.Count(out.String(), "mqtt login refused"); n != 1 {
		t.Errorf("%d refusal lines, want 1:\n%s", n, out.String())
	}
	if strings.Contains(out.String(), "wrong-pw-1234") || strings.Contains(out.String(), owner.Password) {
		t.Errorf("a password is logged:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "level=WARN") || !strings.Contains(out.String(), `reason="wrong password"`) {
		t.Errorf("want a WARN line with the reason:\n%s", out.String())
	}

	clk := clockwork.NewFakeClock()
	out.Reset()
	l := newLogLimiter(logger, clk)
	for range 4 {
		l.log("10.0.0.9", "auth", "refused")
	}
	l.log("10.0.0.8", "auth", "refused")
	clk.Advance(time.Minute)
	l.log("10.0.0.9", "auth", "refused")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "suppressed=3") {
		t.Errorf("got %d lines, want 3, the last with suppressed=3:\n%s", len(lines), out.String())
	}
	out.Reset()
	for i := range logMaxKeys + 10 {
		l.log(fmt.Sprintf("10.1.%d.%d", i/256, i%256), "auth", "refused")
	}
	if n := l.keys.Len(); n > logMaxKeys {
		t.Errorf("%d addresses remembered, want at most %d", n, logMaxKeys)
	}
}

// TestV5MaximumPacketSize: an MQTT 5 client learns the largest packet it
// may send from the CONNACK.
func TestV5MaximumPacketSize(t *testing.T) {
	b := start(t, withAccounts(Options{MaxPacketSize: 64 << 10}))
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var buf bytes.Buffer
	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5}
	connect.Connect = packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: "v5", Keepalive: 60,
		UsernameFlag: true, Username: []byte(owner.Username), PasswordFlag: true, Password: []byte(owner.Password)}
	if err := connect.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	r := bufio.NewReader(c)
	first, err := r.ReadByte()
	if err != nil {
		t.Fatal(err)
	}
	ack := packets.Packet{ProtocolVersion: 5}
	if err := ack.FixedHeader.Decode(first); err != nil {
		t.Fatal(err)
	}
	if ack.FixedHeader.Remaining, _, err = packets.DecodeLength(r); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, ack.FixedHeader.Remaining)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	if err := ack.ConnackDecode(body); err != nil {
		t.Fatal(err)
	}
	if ack.ReasonCode != 0 || ack.Properties.MaximumPacketSize != 64<<10 {
		t.Errorf("CONNACK reason %#x, maximum packet size %d, want 0 and %d", ack.ReasonCode, ack.Properties.MaximumPacketSize, 64<<10)
	}
}
