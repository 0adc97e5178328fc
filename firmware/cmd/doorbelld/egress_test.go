//go:build egress

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/install"
)

// Proof of no egress: the real doorbelld, in a network namespace of its
// own, through a session of rings, snapshots, motion, clips, live viewing
// over MJPEG and RTSP (TCP and UDP), refused update offers and a broker
// restart. nftables counts every packet the namespace sends; the only
// destinations allowed are the broker and, as answers, the LAN client.
// See egress_lab_test.go for the namespaces.
//
// Run as root: scripts/egress.sh (go test -tags egress -run TestEgress).
// Without root it skips, unless DOORBELL_EGRESS_REQUIRED=1.
// DOORBELL_EGRESS_BIN=DIR takes doorbelld and doorbellctl from DIR
// instead of building them.

const (
	brokerName = "broker.home.arpa"
	webUser    = "alice"
	base       = "doorbell/doorbell" // default topic_prefix/device.id
)

func TestEgress(t *testing.T) {
	requireLab(t, "ip", "nft", "tcpdump", "mosquitto", "ffmpeg", "ffprobe")
	bins := egressBinaries(t)
	t.Run("ip", func(t *testing.T) {
		s := newSession(t, bins, "ip", "tcp://"+brokerIP4Port())
		s.fullSession()
		c := s.finish()
		if q := s.dns.Queries(); len(q) > 0 {
			t.Errorf("the broker is an IP address, yet the DUT asked the lab's resolver %d times: %v", len(q), q)
		}
		for _, name := range []string{cntDNS, cntDNSElsewhere} {
			if c[name].Packets != 0 {
				t.Errorf("counter %s = %d packets: no DNS is allowed when the broker is an IP address", name, c[name].Packets)
			}
		}
	})
	t.Run("hostname", func(t *testing.T) {
		s := newSession(t, bins, "hostname", "tcp://"+brokerName+":1883")
		s.ring(1)
		// A refused URL offer naming a host must not even be looked up.
		s.refusedOffer("http://updates.example.net/doorbelld.bundle")
		s.restartBroker()
		s.ring(1)
		c := s.finish()
		q := s.dns.Queries()
		if len(q) == 0 || c[cntDNS].Packets == 0 {
			t.Errorf("broker %s is a hostname, yet no DNS query reached the lab's resolver (%d queries, %d packets)", brokerName, len(q), c[cntDNS].Packets)
		}
		if c[cntDNSElsewhere].Packets != 0 {
			t.Errorf("counter %s = %d: DNS went to a server other than the configured %s", cntDNSElsewhere, c[cntDNSElsewhere].Packets, brkIP4)
		}
		kinds := map[string]int{}
		for _, x := range q {
			kinds[strings.TrimPrefix(x.Type.String(), "Type")]++
			if !strings.EqualFold(x.Name, brokerName+".") || (x.Type != dnsmessage.TypeA && x.Type != dnsmessage.TypeAAAA) {
				t.Errorf("DNS query other than %s A/AAAA: %v", brokerName, x)
			}
		}
		t.Logf("DNS queries seen by the lab's resolver: %d (%v), for the session's connections to the broker (first, retries while it restarted, reconnect)", len(q), kinds)
	})
}

func brokerIP4Port() string { return net.JoinHostPort(brkIP4, "1883") }

// egressBinaries returns the directory holding doorbelld and doorbellctl:
// DOORBELL_EGRESS_BIN, or a fresh build of this checkout.
func egressBinaries(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("DOORBELL_EGRESS_BIN"); dir != "" {
		for _, b := range []string{"doorbelld", "doorbellctl"} {
			if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
				t.Fatalf("DOORBELL_EGRESS_BIN=%s: %v", dir, err)
			}
		}
		t.Logf("binaries from DOORBELL_EGRESS_BIN=%s", dir)
		return dir
	}
	dir := t.TempDir()
	for _, b := range []struct{ out, pkg string }{{"doorbelld", "."}, {"doorbellctl", "../doorbellctl"}} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return dir
}

// session is one run of the daemon in the lab.
type session struct {
	t       *testing.T
	l       *lab
	bins    string
	variant string
	dns     *dnsServer
	cap     *capture
	resetAt time.Time

	mosqConf string
	mosq     *proc
	box      *mailbox
	sub      paho.Client

	pass    string
	edges   uint64 // button edges the daemon has read
	storage string
	keys    string // trusted OTA public key file
	daemon  *proc
	web     *webClient
}

func newSession(t *testing.T, bins, variant, broker string) *session {
	s := &session{t: t, l: newLab(t, variant[:1]), bins: bins, variant: variant}
	l := s.l

	// The lab's resolver, named in the DUT's resolv.conf (ip netns exec
	// bind-mounts /etc/netns/<ns>/resolv.conf): every lookup, wanted or
	// not, is logged by name.
	var err error
	s.dns, err = startDNS(l.brk, brkIP4, brokerName, netip.MustParseAddr(brkIP4), netip.MustParseAddr(brkIP6))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.dns.Close)
	etc := filepath.Join("/etc/netns", l.dut)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver "+brkIP4+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	l.loadCounters()
	s.cap = l.startCapture()
	s.proveCounting()

	s.startMosquitto()
	s.subscribe()
	s.startDaemon(broker)
	s.web = newWebClient(t, l.lan, fmt.Sprintf("http://%s:%d", dutLAN4, httpPort))
	s.web.waitHealthy()
	s.web.login(webUser, s.pass)
	return s
}

// proveCounting shows the counters and the capture can fail: a UDP packet
// to an outside NTP address, v4 and v6, from inside the DUT lands in
// "other" and in the capture. Then the counters are reset.
func (s *session) proveCounting() {
	t := s.t
	for _, addr := range []string{"203.0.113.9:123", "[2001:db8::1]:123"} {
		err := nsDo(s.l.dut, func() error {
			c, err := net.Dial("udp", addr)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write(make([]byte, 48))
			return err
		})
		if err != nil {
			t.Fatalf("counter proof: send to %s from the DUT: %v", addr, err)
		}
	}
	c := s.l.waitCounter(cntOther, 2)
	// The capture must show them, and the listing printed on failure must
	// not filter them out.
	deadline := time.Now().Add(egressTimeout)
	for {
		lines := s.cap.read(unexpectedFilter)
		if len(lines) >= 2 && strings.Contains(strings.Join(lines, "\n"), "203.0.113.9.123") && strings.Contains(strings.Join(lines, "\n"), "2001:db8::1.123") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter proof: the capture's listing of unexpected packets does not show both packets to port 123:\n%s", strings.Join(lines, "\n"))
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
	t.Logf("counter proof: UDP to 203.0.113.9:123 and [2001:db8::1]:123 from the DUT: other = %d packets, both in the capture's listing of unexpected packets", c[cntOther].Packets)
	s.l.resetCounters()
	s.resetAt = time.Now()
	if c := s.l.counters(); c[cntOther].Packets != 0 || c[cntBroker].Packets != 0 || c[cntBroker6].Packets != 0 {
		t.Fatalf("counters after reset: %v", c)
	}
}

func (s *session) startMosquitto() {
	if s.mosqConf == "" {
		s.mosqConf = filepath.Join(s.l.dir, "mosquitto.conf")
		conf := fmt.Sprintf("per_listener_settings false\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type all\n"+
			"listener 1883 %s\nlistener 1883 %s\n", brkIP4, brkIP6)
		if err := os.WriteFile(s.mosqConf, []byte(conf), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	mosq, _ := lookTool("mosquitto")
	p := s.l.start(s.l.brk, mosq, "-c", s.mosqConf)
	s.mosq = p
	s.t.Cleanup(func() {
		if s.t.Failed() {
			s.t.Logf("mosquitto's log (tail):\n%s", p.out.tail(6000))
		}
	})
	waitDial(s.t, s.l.brk, brokerIP4Port())
}

// subscribe connects the test's own MQTT client, from the broker's
// namespace, to everything; it subscribes again after every reconnect.
func (s *session) subscribe() {
	s.box = newMailbox()
	o := paho.NewClientOptions().AddBroker("tcp://" + brokerIP4Port()).SetClientID("egress-watch").
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetMaxReconnectInterval(time.Second).
		SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			return dialIn(s.l.brk)(context.Background(), "tcp", u.Host)
		}).
		SetOnConnectHandler(func(c paho.Client) {
			c.Subscribe("#", 1, func(_ paho.Client, m paho.Message) {
				s.box.add(mqttMsg{m.Topic(), append([]byte(nil), m.Payload()...), m.Retained()})
			})
		})
	s.sub = paho.NewClient(o)
	if tok := s.sub.Connect(); !tok.WaitTimeout(egressTimeout) || tok.Error() != nil {
		s.t.Fatalf("watcher: connect to the broker: %v", tok.Error())
	}
	s.t.Cleanup(func() { s.sub.Disconnect(100) })
}

func (s *session) publish(topic string, payload []byte) {
	if tok := s.sub.Publish(topic, 1, false, payload); !tok.WaitTimeout(egressTimeout) || tok.Error() != nil {
		s.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// startDaemon writes the config and runs doorbelld from an OTA slot, so
// that over-the-air updates are really on (offers are judged, not refused
// for want of a layout).
func (s *session) startDaemon(broker string) {
	t, l := s.t, s.l
	s.pass = randomHex(t, 12)
	ctl := filepath.Join(s.bins, "doorbellctl")
	cmd := exec.Command(ctl, "passwd", webUser)
	cmd.Stdin = strings.NewReader(s.pass + "\n")
	users, err := cmd.Output()
	if err != nil {
		t.Fatalf("doorbellctl passwd: %v", err)
	}
	keyDir := filepath.Join(l.dir, "otakeys")
	if out, err := exec.Command(ctl, "ota", "keygen", "--out", keyDir).CombinedOutput(); err != nil {
		t.Fatalf("doorbellctl ota keygen: %v\n%s", err, out)
	}
	s.keys = filepath.Join(keyDir, "doorbell-ota.pub")
	s.storage = filepath.Join(l.dir, "state")
	seedOTA(t, filepath.Join(s.storage, "ota"), s.keys, filepath.Join(s.bins, "doorbelld"))

	cfg := filepath.Join(l.dir, "config.yaml")
	body := fmt.Sprintf(`device: {id: doorbell, name: Egress test}
mqtt: {broker: %q}
http: {listen: "%s:%d"}
rtsp: {listen: "%s:%d", udp_port: %d}
storage: {dir: %q}
camera: {device: sim, width: 320, height: 240, fps: 10}
capture: {pre_roll: 1s, post_roll: 1s, ring_bytes: 8MiB}
clip: {enabled: true, max_length: 10s}
gpio: {button: {debounce: 1ms, min_press: 0s}, pir: {hold: 1s}}
ota: {keys_file: %q}
log: {level: debug}
%s`, broker, dutLAN4, httpPort, dutLAN4, rtspPort, rtpPort, s.storage, s.keys, users)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	mark := s.box.mark()
	s.daemon = l.start(l.dut, filepath.Join(s.storage, "ota", install.CurrentLink, install.BinaryName), "--sim", "--config", cfg)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("doorbelld's log (tail):\n%s", s.daemon.out.tail(8000))
		}
	})
	s.waitStatus(mark, "online")
}

// seedOTA sets up the A/B layout as scripts/install.sh does: the binary
// in slot a, current pointing at it.
func seedOTA(t *testing.T, dir, keysFile, bin string) {
	t.Helper()
	keys, err := ota.LoadKeyring(keysFile)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := install.New(install.Options{Dir: dir, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := inst.Seed(f, "0.0.0"); err != nil {
		t.Fatal(err)
	}
}

func (s *session) waitStatus(mark int, want string) {
	s.t.Helper()
	s.box.wait(s.t, mark, "status "+want, func(m mqttMsg) bool {
		return m.topic == base+"/status" && string(m.payload) == want
	}, s.daemon)
}

// ring presses the simulated button n times; each ring must reach the
// broker as an event with a snapshot, and the snapshot as a JPEG.
func (s *session) ring(n int) {
	t := s.t
	t.Helper()
	for range n {
		mark := s.box.mark()
		s.web.post("/api/sim/ring", http.StatusAccepted)
		ev := s.event(mark, "ring")
		snap, _ := ev["snapshot"].(string)
		if snap == "" {
			t.Fatalf("ring event without a snapshot: %v", ev)
		}
		s.box.wait(t, mark, "snapshot/info "+snap, func(m mqttMsg) bool {
			return m.topic == base+"/snapshot/info" && bytes.Contains(m.payload, []byte(snap))
		}, s.daemon)
		jpg := s.box.wait(t, mark, "snapshot JPEG", func(m mqttMsg) bool { return m.topic == base+"/snapshot" && len(m.payload) > 0 }, s.daemon)
		if _, err := jpeg.Decode(bytes.NewReader(jpg.payload)); err != nil {
			t.Fatalf("snapshot of %d bytes does not decode: %v", len(jpg.payload), err)
		}
		s.waitReleased()
	}
}

// waitReleased waits until the daemon has read the simulated press's
// release edge. The hal debounces by edge timestamps: a press stamped
// within gpio.button.debounce (1ms here) of the release would be a bounce,
// not a ring. The release was stamped before it was seen, so waiting out
// 2ms from the moment it is seen makes the next press a new one.
func (s *session) waitReleased() {
	s.t.Helper()
	deadline := time.Now().Add(egressTimeout)
	for {
		var st struct {
			Inputs map[string]struct{ Edges uint64 }
		}
		s.web.getJSON("/api/status", &st)
		if e := st.Inputs["button"].Edges; e >= s.edges+2 && e%2 == 0 {
			s.edges = e
			seen := time.Now()
			time.Sleep(time.Until(seen.Add(2 * time.Millisecond))) // the debounce window, not an assertion delay
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the daemon read %d button edges within %v, want %d (press and release)", st.Inputs["button"].Edges, egressTimeout, s.edges+2)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// event waits for an event of kind after mark and returns its JSON.
func (s *session) event(mark int, kind string) map[string]any {
	s.t.Helper()
	var ev map[string]any
	s.box.wait(s.t, mark, "event "+kind, func(m mqttMsg) bool {
		if m.topic != base+"/event" {
			return false
		}
		var e map[string]any
		if json.Unmarshal(m.payload, &e) != nil || e["event_type"] != kind {
			return false
		}
		ev = e
		return true
	}, s.daemon)
	return ev
}

// fullSession is the IP variant's whole doorbell life.
func (s *session) fullSession() {
	t := s.t
	s.ring(3)

	mark := s.box.mark()
	s.web.post("/api/sim/motion?state=on", http.StatusAccepted)
	s.event(mark, "motion_start")
	s.web.post("/api/sim/motion?state=off", http.StatusAccepted)
	s.event(mark, "motion_end")

	// A clip, stored and pulled over the broker by the owner's tool.
	clip := s.box.wait(t, 0, "a stored clip", func(m mqttMsg) bool { return m.topic == base+"/clip" && len(m.payload) > 0 }, s.daemon)
	t.Logf("clip stored: %s", clip.payload)
	out := filepath.Join(s.l.dir, "pulled")
	s.l.run(s.l.brk, filepath.Join(s.bins, "doorbellctl"), "clips", "pull", "--broker", "tcp://"+brokerIP4Port(), "--out", out)
	mp4s, _ := filepath.Glob(filepath.Join(out, "*.mp4"))
	if len(mp4s) == 0 {
		t.Fatalf("clips pull wrote no .mp4 into %s", out)
	}
	probe, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,nb_frames", "-of", "csv=p=0", mp4s[0]).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(probe), "mjpeg") {
		t.Fatalf("ffprobe %s: %v %q", mp4s[0], err, probe)
	}
	t.Logf("pulled %d clip(s) over MQTT; ffprobe: %s", len(mp4s), strings.TrimSpace(string(probe)))

	// Live viewing from the LAN: MJPEG, then RTSP over TCP and over UDP.
	s.web.mjpegParts(3)
	for _, transport := range []string{"tcp", "udp"} {
		rtspURL := fmt.Sprintf("rtsp://%s:%s@%s:%d/doorbell", webUser, s.pass, dutLAN4, rtspPort)
		if out, err := s.l.try(s.l.lan, "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport, "-i", rtspURL, "-frames:v", "3", "-f", "null", "-"); err != nil {
			t.Fatalf("ffmpeg RTSP over %s from the LAN: %v\n%s", transport, err, strings.ReplaceAll(out, s.pass, "***"))
		}
	}
	t.Logf("live view: 3 MJPEG parts; ffmpeg read 3 frames over RTSP/TCP and over RTSP/UDP")

	// Update offers pointing outside, and a bundle signed by a key the
	// doorbell does not trust: all refused, nothing fetched.
	s.refusedOffer("http://203.0.113.7/x.bundle")
	s.refusedOffer("https://updates.example.net/doorbelld-9.9.9.bundle")
	s.untrustedPush()

	s.restartBroker()
	s.ring(1)
}

// refusedOffer offers an update from rawURL over MQTT: the device must
// refuse it (ota.url_hosts is empty) and say so on update/status.
func (s *session) refusedOffer(rawURL string) {
	t := s.t
	t.Helper()
	mark := s.box.mark()
	s.publish(base+"/cmd/update", fmt.Appendf(nil, `{"version":"9.9.9","url":%q}`, rawURL))
	st := s.box.wait(t, mark, "update/status refusing "+rawURL, func(m mqttMsg) bool {
		var st struct{ Status, Error string }
		return m.topic == base+"/update/status" && json.Unmarshal(m.payload, &st) == nil && strings.Contains(st.Error, rawURL)
	}, s.daemon)
	t.Logf("offer %s refused: %s", rawURL, st.payload)
}

// untrustedPush pushes, with the owner's tool, a well-formed bundle signed
// by an untrusted key: the device refuses it after the first chunk.
func (s *session) untrustedPush() {
	t := s.t
	ctl := filepath.Join(s.bins, "doorbellctl")
	dir := filepath.Join(s.l.dir, "rogue")
	if out, err := exec.Command(ctl, "ota", "keygen", "--out", dir).CombinedOutput(); err != nil {
		t.Fatalf("ota keygen: %v\n%s", err, out)
	}
	payload := filepath.Join(dir, "payload")
	if err := os.WriteFile(payload, bytes.Repeat([]byte("not a doorbelld "), 1<<14), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "rogue.bundle")
	if out, err := exec.Command(ctl, "ota", "sign", "--key", filepath.Join(dir, "doorbell-ota.key"), "--version", "9.9.9",
		"--in", payload, "--out", bundle, "--goos", "linux", "--goarch", "amd64").CombinedOutput(); err != nil {
		t.Fatalf("ota sign: %v\n%s", err, out)
	}
	mark := s.box.mark()
	out, err := s.l.try(s.l.brk, ctl, "ota", "push", "--broker", "tcp://"+brokerIP4Port(), "--wait", "0", bundle)
	if err == nil {
		t.Fatalf("ota push of a bundle signed by an untrusted key succeeded:\n%s", out)
	}
	st := s.box.wait(t, mark, "update/status refusing the untrusted bundle", func(m mqttMsg) bool {
		var st struct{ Status, Error string }
		return m.topic == base+"/update/status" && json.Unmarshal(m.payload, &st) == nil && strings.Contains(st.Error, "untrusted")
	}, s.daemon)
	t.Logf("ota push of an untrusted bundle refused (%v): %s", err, st.payload)
}

// restartBroker stops Mosquitto and starts it again; the daemon must come
// back online by itself.
func (s *session) restartBroker() {
	mark := s.box.mark()
	if err := s.mosq.stop(syscall.SIGTERM); err != nil {
		s.t.Logf("mosquitto exit: %v", err)
	}
	s.startMosquitto()
	s.waitStatus(mark, "online")
	s.t.Logf("broker restarted; the daemon is online again")
}

// finish stops the daemon (its last words go to the broker), reads the
// counters and checks them.
func (s *session) finish() map[string]counter {
	t := s.t
	mark := s.box.mark()
	if err := s.daemon.stop(syscall.SIGTERM); err != nil {
		t.Errorf("doorbelld: exit after SIGTERM: %v", err)
	}
	s.box.wait(t, mark, "status offline", func(m mqttMsg) bool {
		return m.topic == base+"/status" && string(m.payload) == "offline"
	}, nil)
	c := s.l.counters()
	markAt := s.cap.stop()
	t.Log("\n" + counterTable(s.variant, c))
	if c[cntOther].Packets != 0 {
		lines := between(s.cap.read(unexpectedFilter), s.resetAt, markAt)
		t.Errorf("counter other = %d packets (%d bytes): the DUT sent packets to neither the broker nor the LAN client. Captured:\n%s",
			c[cntOther].Packets, c[cntOther].Bytes, strings.Join(lines, "\n"))
	}
	if c[cntBroker].Packets+c[cntBroker6].Packets == 0 {
		t.Errorf("counters broker_v4 and broker_v6 = 0: the rules do not see the daemon's broker traffic")
	}
	if c[cntLAN].Packets == 0 {
		t.Errorf("counter %s = 0: the rules do not see the answers to the LAN client", cntLAN)
	}
	return c
}

// mqttMsg is one MQTT message the watcher received.
type mqttMsg struct {
	topic    string
	payload  []byte
	retained bool
}

// mailbox keeps every mqttMsg, so a step waits for its answer among the
// messages after a mark taken before it acted.
type mailbox struct {
	mu      sync.Mutex
	msgs    []mqttMsg
	changed chan struct{}
}

func newMailbox() *mailbox { return &mailbox{changed: make(chan struct{}, 1)} }

func (b *mailbox) add(m mqttMsg) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

func (b *mailbox) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// wait returns the first mqttMsg from index from on that matches; it
// fails the test after egressTimeout, or at once when p (the daemon) exits.
func (b *mailbox) wait(t *testing.T, from int, what string, match func(mqttMsg) bool, p *proc) mqttMsg {
	t.Helper()
	deadline := time.After(egressTimeout)
	var exited <-chan struct{}
	if p != nil {
		exited = p.done
	}
	for i := from; ; {
		b.mu.Lock()
		msgs := b.msgs[i:]
		b.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				return m
			}
		}
		i += len(msgs)
		select {
		case <-b.changed:
		case <-exited:
			t.Fatalf("waiting for %s: doorbelld exited: %v", what, p.err)
		case <-deadline:
			b.mu.Lock()
			var topics []string
			for _, m := range b.msgs[from:] {
				topics = append(topics, fmt.Sprintf("%s (%d bytes)", m.topic, len(m.payload)))
			}
			b.mu.Unlock()
			t.Fatalf("waiting for %s: nothing within %v; the %d messages since: %s", what, egressTimeout, len(topics), strings.Join(topics, ", "))
		}
	}
}

// webClient is a browser in the LAN namespace.
type webClient struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func newWebClient(t *testing.T, ns, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: dialIn(ns)}
	t.Cleanup(tr.CloseIdleConnections)
	return &webClient{t: t, base: base, c: &http.Client{Transport: tr, Jar: jar, Timeout: egressTimeout}}
}

func (w *webClient) waitHealthy() {
	w.t.Helper()
	deadline := time.Now().Add(egressTimeout)
	for {
		resp, err := w.c.Get(w.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("web: %s/healthz not answering within %v: %v", w.base, egressTimeout, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

func (w *webClient) login(user, pass string) {
	w.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	resp, err := w.c.Post(w.base+"/api/login", "application/json", bytes.NewReader(body))
	if err != nil {
		w.t.Fatalf("web: login: %v", err)
	}
	defer resp.Body.Close()
	var sess struct{ CSRF string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&sess) != nil || sess.CSRF == "" {
		w.t.Fatalf("web: login: %s", resp.Status)
	}
	w.csrf = sess.CSRF
}

func (w *webClient) post(path string, want int) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.base+path, nil)
	req.Header.Set("X-CSRF-Token", w.csrf)
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatalf("web: POST %s: %v", path, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != want {
		w.t.Fatalf("web: POST %s = %s, want %d: %s", path, resp.Status, want, b)
	}
}

func (w *webClient) getJSON(path string, v any) {
	w.t.Helper()
	resp, err := w.c.Get(w.base + path)
	if err != nil {
		w.t.Fatalf("web: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("web: GET %s = %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		w.t.Fatalf("web: GET %s: %v", path, err)
	}
}

// mjpegParts reads n JPEG parts of the live stream.
func (w *webClient) mjpegParts(n int) {
	w.t.Helper()
	resp, err := w.c.Get(w.base + "/api/live.mjpeg")
	if err != nil {
		w.t.Fatalf("web: live.mjpeg: %v", err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || err != nil || !strings.HasPrefix(mt, "multipart/") {
		w.t.Fatalf("web: live.mjpeg: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for i := range n {
		p, err := mr.NextPart()
		if err != nil {
			w.t.Fatalf("web: live.mjpeg part %d: %v", i, err)
		}
		if _, err := jpeg.Decode(p); err != nil {
			w.t.Fatalf("web: live.mjpeg part %d: not a JPEG: %v", i, err)
		}
	}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
