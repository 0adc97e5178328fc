//go:build egress

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The lab: three network namespaces joined by two veth pairs.
//
//	  brk (Mosquitto, DNS)                dut (doorbelld, nftables counters, tcpdump)              lan (browser, ffmpeg)
//	10.77.1.1  fd77:1::1  brk0 ◀──veth──▶ dut0 10.77.1.2 fd77:1::2 │ dut1 10.77.2.2 ◀──veth──▶ lan0 10.77.2.3
//	                                      default routes (v4, v6) ─┘   via the brk side, so an
//	                                      attempt to reach any other address leaves and is counted
//
// The test process stays in the root namespace: it runs tools with `ip
// netns exec` and opens its own sockets on a thread switched into a
// namespace (nsDo).

const (
	brkIP4  = "10.77.1.1"
	brkIP6  = "fd77:1::1"
	dutIP4  = "10.77.1.2"
	dutIP6  = "fd77:1::2"
	dutLAN4 = "10.77.2.2"
	lanIP4  = "10.77.2.3"
	lanIP6  = "fd77:2::3"
	dutLAN6 = "fd77:2::2"

	httpPort = 8080
	rtspPort = 8554
	rtpPort  = 8000 // rtsp.udp_port; RTCP on the next
)

// egressTimeout bounds every wait for a condition: generous, so a loaded
// 2-core machine never fails a correct run.
const egressTimeout = 30 * time.Second

type lab struct {
	t             *testing.T
	dut, brk, lan string
	dir           string

	mu    sync.Mutex
	procs []*proc
}

// requireLab skips the test unless it can build namespaces, or fails it
// when DOORBELL_EGRESS_REQUIRED=1 (scripts/egress.sh, CI).
func requireLab(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, fmt.Sprintf("root (running as uid %d)", os.Geteuid()))
	}
	for _, tool := range tools {
		if _, err := lookTool(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "egress test needs " + strings.Join(missing, ", ") + ": run it as root with scripts/egress.sh (apt-get install nftables tcpdump iproute2 mosquitto ffmpeg)"
	if os.Getenv("DOORBELL_EGRESS_REQUIRED") == "1" {
		t.Fatal(msg + " [DOORBELL_EGRESS_REQUIRED=1]")
	}
	t.Skip(msg)
}

func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or /usr/sbin", name)
}

// newLab makes the namespaces, links and routes. Everything, processes
// included, is removed when the test ends, also when it fails.
func newLab(t *testing.T, tag string) *lab {
	t.Helper()
	base := fmt.Sprintf("db-eg-%d-%s", os.Getpid(), tag)
	l := &lab{t: t, dut: base + "-dut", brk: base + "-brk", lan: base + "-lan", dir: t.TempDir()}
	t.Cleanup(l.teardown)
	for _, ns := range []string{l.dut, l.brk, l.lan} {
		l.ip("netns", "add", ns)
	}
	l.ip("link", "add", "dut0", "netns", l.dut, "type", "veth", "peer", "name", "brk0", "netns", l.brk)
	l.ip("link", "add", "dut1", "netns", l.dut, "type", "veth", "peer", "name", "lan0", "netns", l.lan)
	for _, a := range []struct{ ns, dev, v4, v6 string }{
		{l.brk, "brk0", brkIP4 + "/24", brkIP6 + "/64"},
		{l.dut, "dut0", dutIP4 + "/24", dutIP6 + "/64"},
		{l.dut, "dut1", dutLAN4 + "/24", dutLAN6 + "/64"},
		{l.lan, "lan0", lanIP4 + "/24", lanIP6 + "/64"},
	} {
		l.ip("-n", a.ns, "addr", "add", a.v4, "dev", a.dev)
		l.ip("-n", a.ns, "-6", "addr", "add", a.v6, "dev", a.dev, "nodad")
		l.ip("-n", a.ns, "link", "set", a.dev, "up")
	}
	for _, ns := range []string{l.dut, l.brk, l.lan} {
		l.ip("-n", ns, "link", "set", "lo", "up")
	}
	// Without a default route an attempt to reach the internet would fail
	// in the DUT before any hook saw a packet: give it one, towards the
	// broker's namespace, which does not forward.
	l.ip("-n", l.dut, "route", "add", "default", "via", brkIP4)
	l.ip("-n", l.dut, "-6", "route", "add", "default", "via", brkIP6)
	return l
}

func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("lab: ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// teardown kills what the test started, then every process still in the
// lab's namespaces (started by this test: the names are this run's), and
// removes the namespaces and their /etc/netns files.
func (l *lab) teardown() {
	l.mu.Lock()
	procs := slices.Clone(l.procs)
	l.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	for _, ns := range []string{l.dut, l.brk, l.lan} {
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
					l.t.Logf("lab: killing leftover pid %d in %s", pid, ns)
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			l.t.Logf("lab: ip netns del %s: %v %s", ns, err, out)
		}
		os.RemoveAll(filepath.Join("/etc/netns", ns))
	}
}

// nsCmd is name args run in namespace ns (`ip netns exec`, which also
// bind-mounts /etc/netns/<ns>/* over /etc).
func (l *lab) nsCmd(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// run runs a tool in ns to its end and returns its combined output; a
// failure fails the test.
func (l *lab) run(ns, name string, args ...string) string {
	l.t.Helper()
	out, err := l.try(ns, name, args...)
	if err != nil {
		l.t.Fatalf("lab: %s in %s: %v\n%s", name, ns, err, out)
	}
	return out
}

// try runs a tool in ns to its end (at most egressTimeout).
func (l *lab) try(ns, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), egressTimeout)
	defer cancel()
	out, err := l.nsCmd(ctx, ns, name, args...).CombinedOutput()
	return string(out), err
}

// proc is a long-lived process in a namespace. `ip netns exec` execs the
// tool, so the pid is the tool's own.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *logBuffer
	done chan struct{}
	err  error
}

func (l *lab) start(ns, name string, args ...string) *proc {
	l.t.Helper()
	p := &proc{name: name, out: newLogBuffer(), done: make(chan struct{})}
	p.cmd = l.nsCmd(context.Background(), ns, name, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		l.t.Fatalf("lab: start %s in %s: %v", name, ns, err)
	}
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
		p.out.wake()
	}()
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig and waits for the exit; after egressTimeout it kills.
func (p *proc) stop(sig syscall.Signal) error {
	if p.exited() {
		return p.err
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(egressTimeout):
		p.kill()
		return fmt.Errorf("%s did not exit within %v of %v: killed", p.name, egressTimeout, sig)
	}
}

func (p *proc) kill() {
	if !p.exited() {
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitOutput waits until the process has written s.
func (p *proc) waitOutput(t *testing.T, s string) {
	t.Helper()
	if !p.out.waitFor(func(b []byte) bool { return bytes.Contains(b, []byte(s)) }, p.done) {
		t.Fatalf("%s: no %q within %v (exited: %v %v); output:\n%s", p.name, s, egressTimeout, p.exited(), p.err, p.out.tail(4000))
	}
}

// logBuffer collects a process's output and wakes waiters on each write.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{}, 1)} }

func (lb *logBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	lb.b.Write(p)
	lb.mu.Unlock()
	lb.wake()
	return len(p), nil
}

func (lb *logBuffer) wake() {
	select {
	case lb.changed <- struct{}{}:
	default:
	}
}

func (lb *logBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.String()
}

func (lb *logBuffer) tail(n int) string {
	s := lb.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// waitFor waits until ok holds for the output, the process ends (done)
// or egressTimeout passes.
func (lb *logBuffer) waitFor(ok func([]byte) bool, done <-chan struct{}) bool {
	deadline := time.After(egressTimeout)
	for {
		lb.mu.Lock()
		hit := ok(lb.b.Bytes())
		lb.mu.Unlock()
		if hit {
			return true
		}
		select {
		case <-lb.changed:
		case <-done:
			lb.mu.Lock()
			hit := ok(lb.b.Bytes())
			lb.mu.Unlock()
			return hit
		case <-deadline:
			return false
		}
	}
}

// nsDo runs f on an OS thread switched into namespace ns, and switches
// the thread back before it is unlocked. Sockets f opens stay in ns for
// their whole life. Should the switch back fail, the thread stays locked
// and the runtime ends it with the goroutine (or, for the main thread,
// parks it forever), so no other goroutine ever runs in ns.
func nsDo(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		fd, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: setns %s: %w", ns, err)
			return
		}
		err = f()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// dialIn returns a DialContext that opens connections from namespace ns.
func dialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := nsDo(ns, func() (err error) {
			c, err = (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// waitDial waits until addr accepts a TCP connection from ns.
func waitDial(t *testing.T, ns, addr string) {
	t.Helper()
	deadline := time.Now().Add(egressTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := dialIn(ns)(ctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab: %s does not accept connections from %s within %v: %v", addr, ns, egressTimeout, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not an assertion delay
	}
}

// The nftables table in the DUT: every packet the namespace sends (hook
// output: locally generated, so the daemon's and its kernel's) lands in
// exactly one named counter.
const (
	cntBroker       = "broker_v4"     // to the broker, 10.77.1.1 tcp dport 1883
	cntBroker6      = "broker_v6"     // to the broker, fd77:1::1 tcp dport 1883
	cntLAN          = "lan_replies"   // from the web/RTSP/RTP ports to the LAN client
	cntDNS          = "dns_lab"       // port 53 to the lab's resolver (10.77.1.1)
	cntDNSElsewhere = "dns_elsewhere" // port 53 to any other address
	cntND           = "kernel_nd"     // ICMPv6 neighbour discovery and MLD: the kernel's, not the daemon's
	cntLoopback     = "loopback"      // oif lo: the namespace talking to itself, never leaves
	cntOther        = "other"         // everything else: must stay 0
)

var counterOrder = []string{cntBroker, cntBroker6, cntLAN, cntDNS, cntDNSElsewhere, cntND, cntLoopback, cntOther}

func nftRuleset() string {
	var b strings.Builder
	b.WriteString("table inet egress {\n")
	for _, c := range counterOrder {
		fmt.Fprintf(&b, "\tcounter %s { }\n", c)
	}
	fmt.Fprintf(&b, `	chain output {
		type filter hook output priority 0; policy accept;
		oif "lo" counter name %[1]q accept
		ip daddr %[2]s tcp dport 1883 counter name %[3]q accept
		ip6 daddr %[4]s tcp dport 1883 counter name %[15]q accept
		ip daddr %[5]s tcp sport { %[6]d, %[7]d } counter name %[8]q accept
		ip daddr %[5]s udp sport { %[9]d, %[10]d } counter name %[8]q accept
		ip daddr %[2]s meta l4proto { tcp, udp } th dport 53 counter name %[11]q accept
		meta l4proto { tcp, udp } th dport 53 counter name %[12]q accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, mld-listener-report, mld2-listener-report } counter name %[13]q accept
		counter name %[14]q accept
	}
}
`, cntLoopback, brkIP4, cntBroker, brkIP6, lanIP4, httpPort, rtspPort, cntLAN, rtpPort, rtpPort+1, cntDNS, cntDNSElsewhere, cntND, cntOther, cntBroker6)
	return b.String()
}

type counter struct{ Packets, Bytes uint64 }

// loadCounters installs the egress table in the DUT.
func (l *lab) loadCounters() {
	l.t.Helper()
	path := filepath.Join(l.dir, "egress.nft")
	if err := os.WriteFile(path, []byte(nftRuleset()), 0o644); err != nil {
		l.t.Fatal(err)
	}
	l.run(l.dut, "nft", "-f", path)
}

// counters reads the DUT's counters.
func (l *lab) counters() map[string]counter {
	l.t.Helper()
	out := l.run(l.dut, "nft", "-j", "list", "counters", "table", "inet", "egress")
	var doc struct {
		Nftables []struct {
			Counter *struct {
				Name    string `json:"name"`
				Packets uint64 `json:"packets"`
				Bytes   uint64 `json:"bytes"`
			} `json:"counter"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		l.t.Fatalf("lab: nft -j list counters: %v\n%s", err, out)
	}
	m := map[string]counter{}
	for _, e := range doc.Nftables {
		if e.Counter != nil {
			m[e.Counter.Name] = counter{e.Counter.Packets, e.Counter.Bytes}
		}
	}
	for _, c := range counterOrder {
		if _, ok := m[c]; !ok {
			l.t.Fatalf("lab: counter %s missing from nft's answer:\n%s", c, out)
		}
	}
	return m
}

func (l *lab) resetCounters() {
	l.t.Helper()
	l.run(l.dut, "nft", "reset", "counters", "table", "inet", "egress")
}

// waitCounter waits until counter name has at least n packets.
func (l *lab) waitCounter(name string, n uint64) map[string]counter {
	l.t.Helper()
	deadline := time.Now().Add(egressTimeout)
	for {
		c := l.counters()
		if c[name].Packets >= n {
			return c
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("lab: counter %s has %d packets after %v, want at least %d", name, c[name].Packets, egressTimeout, n)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

func counterTable(variant string, c map[string]counter) string {
	var b strings.Builder
	fmt.Fprintf(&b, "egress counters, variant %s (DUT namespace, nftables hook output):\n", variant)
	fmt.Fprintf(&b, "| %-14s | %8s | %10s |\n|---|---:|---:|\n", "counter", "packets", "bytes")
	for _, name := range counterOrder {
		fmt.Fprintf(&b, "| %-14s | %8d | %10d |\n", name, c[name].Packets, c[name].Bytes)
	}
	return b.String()
}

// capture is tcpdump on every interface of the DUT.
type capture struct {
	l    *lab
	path string
	p    *proc
}

func (l *lab) startCapture() *capture {
	l.t.Helper()
	c := &capture{l: l, path: filepath.Join(l.dir, "dut.pcap")}
	// --immediate-mode: packets reach tcpdump at once, not when a ring
	// block fills; -U: each is written to the file at once.
	c.p = l.start(l.dut, "tcpdump", "-i", "any", "-n", "--immediate-mode", "-U", "-s", "262", "-w", c.path)
	c.p.waitOutput(l.t, "listening on")
	return c
}

// read prints the captured packets that match filter (tcpdump syntax),
// one line each, with epoch timestamps. It reads in the DUT's namespace,
// so interface names are the DUT's.
func (c *capture) read(filter string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), egressTimeout)
	defer cancel()
	out, err := c.l.nsCmd(ctx, c.l.dut, "tcpdump", "-r", c.path, "-n", "-tt", filter).Output()
	if err != nil && len(out) == 0 {
		return []string{fmt.Sprintf("(tcpdump -r %s: %v)", c.path, err)}
	}
	var lines []string
	for _, ln := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if ln != "" {
			lines = append(lines, ln)
		}
	}
	return lines
}

// waitFor waits until the capture holds a packet matching filter.
func (c *capture) waitFor(filter string) {
	c.l.t.Helper()
	deadline := time.Now().Add(egressTimeout)
	for len(c.read(filter)) == 0 || strings.HasPrefix(c.read(filter)[0], "(tcpdump") {
		if time.Now().After(deadline) {
			c.l.t.Fatalf("capture: nothing matching %q within %v", filter, egressTimeout)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// stop ends the capture once everything sent before it is in the file: it
// sends a marker packet (UDP to the broker's discard port, after the
// counters were read) and waits for it. It returns the marker's time.
func (c *capture) stop() time.Time {
	c.l.t.Helper()
	at := time.Now()
	err := nsDo(c.l.dut, func() error {
		u, err := net.Dial("udp", net.JoinHostPort(brkIP4, "9"))
		if err != nil {
			return err
		}
		defer u.Close()
		_, err = u.Write([]byte("egress-capture-marker"))
		return err
	})
	if err != nil {
		c.l.t.Fatalf("capture: marker: %v", err)
	}
	c.waitFor("udp and dst host " + brkIP4 + " and dst port 9")
	c.p.stop(syscall.SIGINT)
	return at
}

// between keeps the lines of read stamped in [from, to).
func between(lines []string, from, to time.Time) []string {
	var keep []string
	for _, ln := range lines {
		f, _, _ := strings.Cut(ln, " ")
		if ts, err := strconv.ParseFloat(f, 64); err == nil && (ts < float64(from.UnixMicro())/1e6 || ts >= float64(to.UnixMicro())/1e6) {
			continue
		}
		keep = append(keep, ln)
	}
	return keep
}

// unexpectedFilter matches what none of the allowed counters explains
// (both directions: a reply shows what asked for it).
const unexpectedFilter = "not arp and not (host " + brkIP4 + " and tcp port 1883) and not (host " + brkIP6 + " and tcp port 1883)" +
	" and not (host " + lanIP4 + " and (tcp port 8080 or tcp port 8554 or udp port 8000 or udp port 8001))" +
	" and not (host " + brkIP4 + " and port 53)" +
	" and not ((icmp6 or ip6[6] == 0) and (dst net ff02::/16 or src net fe80::/10))" + // link-local ND and MLD
	" and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)" + // ND between global addresses
	" and not host 127.0.0.1 and not host ::1"
