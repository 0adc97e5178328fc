// Command boardcheck checks the emulated board (scripts/board.sh) from the
// host: it drives the guest through the root shell on its virtio console
// (install, configure, press the button, ask systemd) and watches what
// doorbelld publishes on the host's Mosquitto. One BOARD-RESULT line per
// check: name PASS|FAIL detail.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

var passed, failed int

func result(name string, ok bool, format string, args ...any) {
	s := "FAIL"
	if ok {
		s, passed = "PASS", passed+1
	} else {
		failed++
	}
	fmt.Printf("BOARD-RESULT: %s %s %s\n", name, s, fmt.Sprintf(format, args...))
}

// shell is the guest's root shell on /dev/hvc0.
type shell struct {
	c  net.Conn
	r  *bufio.Reader
	mu sync.Mutex
	n  int
}

func dialShell(path string, deadline time.Time) (*shell, error) {
	var c net.Conn
	var err error
	for time.Now().Before(deadline) {
		if c, err = net.Dial("unix", path); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if c == nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	s := &shell{c: c, r: bufio.NewReader(c)}
	// The shell starts when systemd reaches board-ctl.service: ask until it
	// answers.
	answered := make(chan struct{})
	go func() {
		for {
			select {
			case <-answered:
				return
			case <-time.After(2 * time.Second):
				fmt.Fprintf(c, "\nstty -echo; export PS1= PS2=; echo __UP__\n")
			}
		}
	}()
	defer close(answered)
	c.SetReadDeadline(deadline)
	fmt.Fprintf(c, "\nstty -echo; export PS1= PS2=; echo __UP__\n")
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("waiting for the board's shell: %w", err)
		}
		if strings.TrimSpace(line) == "__UP__" {
			return s, nil
		}
	}
}

var rcLine = regexp.MustCompile(`__RC(\d+)_(\d+)__`)

// run runs cmd in the guest and returns its output and exit status.
func (s *shell) run(cmd string, timeout time.Duration) (string, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	id := s.n
	// Drain what an earlier command left (late output, prompts).
	s.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	for {
		if _, err := s.r.ReadString('\n'); err != nil {
			break
		}
	}
	s.c.SetReadDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(s.c, "{ %s\n} 2>&1; echo __RC%d_$?__\n", cmd, id); err != nil {
		return "", -1, err
	}
	var out strings.Builder
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return out.String(), -1, fmt.Errorf("%q: %w", cmd, err)
		}
		if m := rcLine.FindStringSubmatch(line); m != nil && m[1] == strconv.Itoa(id) {
			rc, _ := strconv.Atoi(m[2])
			return out.String(), rc, nil
		}
		if strings.TrimSpace(line) == "__UP__" { // a late answer to dialShell's pings
			continue
		}
		out.WriteString(line)
	}
}

// store keeps what doorbelld publishes.
type store struct {
	mu            sync.Mutex
	status        string
	onlines       int // "online" published live (not a retained copy on subscribe)
	health        map[string]any
	events        []map[string]any
	seen          map[string]int    // event id → deliveries
	manifests     map[string]string // clip id → sha256: the clips offered (retained)
	manifestsSeen int               // manifests published (not withdrawals)
	privacy       []string          // privacy/state messages, in order
	update        map[string]any    // update/status
}

func (s *store) handle(prefix string, m mqtt.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	topic := strings.TrimPrefix(m.Topic(), prefix+"/")
	switch topic {
	case "status":
		s.status = string(m.Payload())
		if s.status == "online" && !m.Retained() {
			s.onlines++
		}
	case "health":
		var h map[string]any
		if json.Unmarshal(m.Payload(), &h) == nil {
			s.health = h
		}
	case "event":
		var e map[string]any
		if json.Unmarshal(m.Payload(), &e) == nil {
			s.events = append(s.events, e)
			if s.seen == nil {
				s.seen = map[string]int{}
			}
			if id, _ := e["id"].(string); id != "" {
				s.seen[id]++
			}
		}
	case "privacy/state":
		s.privacy = append(s.privacy, string(m.Payload()))
	case "update/status":
		var u map[string]any
		if json.Unmarshal(m.Payload(), &u) == nil {
			s.update = u
		}
	default:
		if id, ok := strings.CutPrefix(topic, "clips/"); ok && strings.HasSuffix(id, "/manifest") {
			id = strings.TrimSuffix(id, "/manifest")
			if s.manifests == nil {
				s.manifests = map[string]string{}
			}
			var man struct {
				SHA256 string `json:"sha256"`
			}
			if len(m.Payload()) == 0 {
				delete(s.manifests, id)
			} else if json.Unmarshal(m.Payload(), &man) == nil {
				s.manifests[id] = man.SHA256
				s.manifestsSeen++
			}
		}
	}
}

func (s *store) get() (string, map[string]any, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status, s.health, len(s.events)
}

func waitFor(d time.Duration, cond func() bool) bool { return poll(d, 50*time.Millisecond, cond) }

// poll checks cond every interval until it holds or d has passed.
func poll(d, every time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(every)
	}
}

func main() {
	mosqBin := flag.String("mosquitto", "mosquitto", "the Mosquitto binary to run on the host")
	workDir := flag.String("dir", os.TempDir(), "for Mosquitto's config and log")
	ctl := flag.String("ctl", "", "the unix socket of the guest's control console (qemu's -chardev socket)")
	port := flag.Int("port", 0, "the Mosquitto port the guest reaches as 10.0.2.2")
	prefix := flag.String("prefix", "doorbell/board", "<topic_prefix>/<device.id>")
	timeout := flag.Duration("timeout", 15*time.Minute, "for the whole run")
	image := flag.String("image", "", "the board's disk image (e2fsck after each power cut)")
	ctlBin := flag.String("doorbellctl", "doorbellctl", "doorbellctl on the host (OTA keys, bundles, push)")
	repo := flag.String("repo", ".", "the source tree (update binaries are built from it)")
	cuts := flag.Int("cuts", 0, "power cuts per scenario (0: no campaign)")
	scenarios := flag.String("scenarios", "outbox,clips,ota,config", "power-cut scenarios, in order")
	goarch := flag.String("goarch", "amd64", "the board's release arch as scripts/build.sh names it: amd64, arm64, armv7 or armv6 (update bundles)")
	wearIdle := flag.Duration("wear-idle", time.Minute, "how long the idle writes are measured")
	seed := flag.Uint64("seed", 0, "random seed of the cut moments (0: from the clock)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: boardcheck [flags] -- qemu-system-... args\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	defer func() {
		fmt.Printf("BOARD-SUMMARY: %d passed, %d failed\n", passed, failed)
		if failed > 0 {
			os.Exit(1)
		}
	}()
	if flag.NArg() == 0 {
		result("usage", false, "no qemu command line after --")
		return
	}
	t0 := time.Now()
	deadline := t0.Add(*timeout)

	mq := &mosquitto{bin: *mosqBin, dir: *workDir, port: *port}
	if err := mq.start(); err != nil {
		result("host-broker", false, "%v", err)
		return
	}
	defer mq.stop()
	broker := ptr(fmt.Sprintf("tcp://127.0.0.1:%d", *port))
	st := &store{}
	opts := mqtt.NewClientOptions().AddBroker(*broker).SetClientID("boardcheck").SetCleanSession(false).
		SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetAutoReconnect(true).SetMaxReconnectInterval(time.Second)
	opts.OnConnect = func(c mqtt.Client) {
		c.Subscribe(*prefix+"/#", 1, func(_ mqtt.Client, m mqtt.Message) { st.handle(*prefix, m) })
	}
	cl := mqtt.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		result("host-broker", false, "connect %s: %v", *broker, tok.Error())
		return
	}
	defer cl.Disconnect(100)

	b := &board{argv: flag.Args(), dir: *workDir, ctl: *ctl}
	defer b.cut()
	if err := b.powerOn(deadline); err != nil {
		result("boot", false, "%v", err)
		return
	}
	result("boot", true, "the board's shell answered %v after qemu started", time.Since(t0).Round(time.Second))
	run := b.run
	rng := rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))
	if *seed == 0 {
		s := uint64(time.Now().UnixNano())
		rng = rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
		fmt.Printf("BOARD: power-cut seed %d\n", s)
	}
	cp := &campaign{b: b, st: st, mq: mq, img: *image, port: *port, prefix: *prefix, rng: rng, ctl: *ctlBin, repo: *repo,
		keyDir: filepath.Join(*workDir, "ota"), goarch: *goarch, deadline: deadline, journaled: map[string]bool{},
		publish: func(topic, payload string) error {
			tok := cl.Publish(topic, 1, false, payload)
			tok.WaitTimeout(10 * time.Second)
			return tok.Error()
		}}

	out, _ := run("systemctl is-system-running --wait; systemctl --failed --no-legend --plain | head; uname -r; cat /proc/1/comm", 5*time.Minute)
	state := strings.Fields(out)
	result("systemd-pid1", len(state) > 0 && (state[0] == "running" || state[0] == "degraded") && strings.Contains(out, "systemd"),
		"%s", strings.Join(strings.Fields(out), " "))
	out, rc := run("ls /dev/video0 /dev/gpiochip* /dev/snd/pcmC*D1c && systemctl is-active board-gpio.service", time.Minute)
	result("board-hardware", rc == 0, "%s", strings.Join(strings.Fields(out), " "))

	// As a user does: unpack the release, run the installer, edit the config, start.
	// An armv6 board (Pi Zero, uname armv6l) gets the armv6 build from
	// uname alone; the emulated one has an ARMv7 CPU, so it is named.
	env := ""
	if *goarch == "armv6" {
		env = "DOORBELL_ARCH=armv6 "
	}
	out, rc = run("cd /root && tar xzf doorbelld-*.tar.gz && cd doorbelld-*/ && "+env+"scripts/install.sh", 5*time.Minute)
	result("install", rc == 0, "rc=%d: %s", rc, lastLines(out, 6))
	// The owner's update key (README "Updates"): made on the host, the
	// public half in the default ota.keys_file.
	pub, err := cp.keygen()
	if err != nil {
		result("config", false, "%v", err)
		return
	}
	out, rc = run(fmt.Sprintf("sed 's/@PORT@/%d/' /root/board.yaml > /tmp/c.yaml && install -m 0640 -o root -g doorbell /tmp/c.yaml /etc/doorbell/config.yaml && doorbelld --check-config --config /etc/doorbell/config.yaml && cat > /etc/doorbell/ota-keys.pub <<'__KEY__'\n%s__KEY__\n", *port, pub), time.Minute)
	result("config", rc == 0, "rc=%d: %s", rc, lastLines(out, 3))
	s0 := time.Now()
	out, rc = run("systemctl start doorbelld", 2*time.Minute)
	online := rc == 0 && waitFor(3*time.Minute, func() bool {
		s, h, _ := st.get()
		return s == "online" && h != nil && h["status"] == "ok"
	})
	s, h, _ := st.get()
	result("service-start", online, "systemctl start rc=%d %s; status %q, health %v after %v", rc, strings.TrimSpace(out), s, h, time.Since(s0).Round(100*time.Millisecond))
	if !online {
		out, _ = run("systemctl status doorbelld --no-pager -l | tail -30; journalctl -u doorbelld --no-pager | tail -30", time.Minute)
		fmt.Println(out)
		return
	}

	// A press through the wiring: gpio-sim's pull.
	_, _, n0 := st.get()
	_, rc = run(pressCmd("0.3"), time.Minute)
	rang := rc == 0 && waitFor(time.Minute, func() bool { _, _, n := st.get(); return n > n0 })
	st.mu.Lock()
	var ev map[string]any
	if rang {
		ev = st.events[n0]
	}
	st.mu.Unlock()
	result("ring", rang && ev["event_type"] == "ring" && ev["snapshot"] != nil, "event %v", ev)

	out, _ = run("systemd-analyze security doorbelld.service --no-pager", 2*time.Minute)
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "✗") || strings.HasPrefix(l, "→") {
			fmt.Printf("BOARD-SECURITY: %s\n", l)
		}
	}
	out = lastLines(out, 1)
	score := -1.0
	if m := regexp.MustCompile(`exposure level for doorbelld.service:\s*([0-9.]+)\s*(\S+)`).FindStringSubmatch(out); m != nil {
		score, _ = strconv.ParseFloat(m[1], 64)
	}
	result("security-exposure", score >= 0 && score <= 2.0, "systemd-analyze security: %s (goal ≤ 2.0)", strings.TrimSpace(out))

	out, _ = run("journalctl -u doorbelld --no-pager -o cat | grep -c 'doorbelld running'", time.Minute)
	result("journal", strings.TrimSpace(out) != "0" && strings.TrimSpace(out) != "", "journalctl -u doorbelld: %s line(s) 'doorbelld running'", strings.TrimSpace(out))

	c := &checks{run: run, st: st, mq: mq, cp: cp}
	c.bench()
	c.wear(*wearIdle)
	c.watchdog()
	c.crashReplay()
	c.otaUpdate()
	c.otaRollback()
	c.stop()
	if *cuts <= 0 {
		b.powerOff()
		return
	}
	if !cp.setup() {
		return
	}
	for _, sc := range strings.Split(*scenarios, ",") {
		var r row
		switch sc {
		case "outbox":
			r = cp.outbox(*cuts)
		case "clips":
			r = cp.clips(*cuts)
		case "ota":
			r = cp.ota(*cuts)
		case "config":
			r = cp.config(*cuts)
		default:
			result("powercut", false, "unknown scenario %q", sc)
			continue
		}
		cp.rows = append(cp.rows, r)
		fmt.Printf("BOARD: power cuts, %s: %d cuts in %v: %d boots (%d emulator hangs), ext4 clean %d, journal replays %d, online %d, journaled/offered/acked %d, delivered/taken %d, twice %d, lost %d, corrupt %d\n",
			sc, r.cuts, r.total.Round(time.Second), r.boots, r.hung, r.fsClean, r.replays, r.started, r.journaled, r.delivered, r.dup, r.lost, r.corrupt)
	}
	cp.report()
	b.powerOff()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
