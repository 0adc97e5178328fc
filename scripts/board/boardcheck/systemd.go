package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func ptr[T any](v T) *T { return &v }

// mosquitto is the house's broker, on the host: the board reaches it as
// 10.0.2.2. Stopping it is the broker (or the Wi-Fi) going away.
type mosquitto struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func (m *mosquitto) start() error {
	conf := filepath.Join(m.dir, "mosquitto.conf")
	// Persistence keeps boardcheck's session (CleanSession false, QoS 1)
	// across an outage: what doorbelld replays before boardcheck is back
	// is queued for it, not missed.
	if err := os.WriteFile(conf, fmt.Appendf(nil, "listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nuser root\n",
		m.port, m.dir), 0o644); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(m.dir, "mosquitto.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	m.cmd = exec.Command(m.bin, "-c", conf)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", m.bin, err)
	}
	return nil
}

func (m *mosquitto) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		m.cmd.Process.Signal(syscall.SIGTERM) // saves the sessions
		m.cmd.Wait()
		m.cmd = nil
	}
}

type checks struct {
	run func(string, time.Duration) (string, int)
	st  *store
	mq  *mosquitto
	cp  *campaign
}

// mainPID is doorbelld's main process and systemd's restart count.
func (c *checks) mainPID() (pid, restarts int) {
	out, _ := c.run("systemctl show -p MainPID -p NRestarts doorbelld", 30*time.Second)
	for _, l := range strings.Fields(out) {
		k, v, _ := strings.Cut(l, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "MainPID":
			pid = n
		case "NRestarts":
			restarts = n
		}
	}
	return pid, restarts
}

func (c *checks) online() bool {
	s, h, _ := c.st.get()
	return s == "online" && h != nil && h["status"] == "ok"
}

// watchdog: a doorbelld that stops answering (SIGSTOP: its event loop
// no longer pings) is killed by systemd's watchdog (WatchdogSec) and
// started again (Restart=on-failure). Measured: from the SIGSTOP to a new
// process, and to "online" on the broker again.
func (c *checks) watchdog() {
	pid0, r0 := c.mainPID()
	c.st.mu.Lock()
	c.st.status = ""
	c.st.mu.Unlock()
	t0 := time.Now()
	c.run("systemctl kill -s SIGSTOP doorbelld", 30*time.Second)
	var pid, r int
	restarted := waitFor(3*time.Minute, func() bool {
		pid, r = c.mainPID()
		return pid != 0 && pid != pid0 && r > r0
	})
	tNew := time.Since(t0)
	back := restarted && waitFor(2*time.Minute, c.online)
	out, _ := c.run("journalctl -u doorbelld --no-pager -o cat | grep -iE 'watchdog timeout|Watchdog' | tail -2", 30*time.Second)
	result("watchdog-restart", back && strings.Contains(out, "atchdog"),
		"SIGSTOP → new process %d (was %d, restarts %d→%d) after %v, online again after %v (WatchdogSec=30, RestartSec=2); journal: %s",
		pid, pid0, r0, r, tNew.Round(100*time.Millisecond), time.Since(t0).Round(100*time.Millisecond), lastLines(out, 2))
}

var eventID = regexp.MustCompile(`msg=event type=ring id=([0-9a-v]{20})`)

// crashReplay: with the broker gone, a press is journaled in the outbox;
// doorbelld then crashes (SIGKILL); systemd starts it again; when the
// broker is back the event arrives, once.
func (c *checks) crashReplay() {
	c.mq.stop()
	defer func() {
		if c.mq.cmd == nil {
			c.mq.start()
		}
	}()
	before, _ := c.run("journalctl -u doorbelld --no-pager -o cat | grep -c 'msg=event type=ring'", 30*time.Second)
	c.run(pressCmd("0.3"), time.Minute)
	var id string
	waitFor(time.Minute, func() bool {
		out, _ := c.run("journalctl -u doorbelld --no-pager -o cat | grep 'msg=event type=ring' | tail -1", 30*time.Second)
		n, _ := c.run("journalctl -u doorbelld --no-pager -o cat | grep -c 'msg=event type=ring'", 30*time.Second)
		if m := eventID.FindStringSubmatch(out); m != nil && strings.TrimSpace(n) != strings.TrimSpace(before) {
			id = m[1]
			return true
		}
		return false
	})
	if id == "" {
		result("crash-replay", false, "no ring in doorbelld's journal after a press with the broker down")
		return
	}
	journaled := waitFor(time.Minute, func() bool {
		out, _ := c.run("cat /var/lib/doorbell/outbox/* 2>/dev/null | grep -ac "+id, 30*time.Second)
		return strings.TrimSpace(out) != "0"
	})
	pid0, r0 := c.mainPID()
	c.run("systemctl kill -s SIGKILL doorbelld", 30*time.Second)
	var pid, r int
	restarted := waitFor(2*time.Minute, func() bool { pid, r = c.mainPID(); return pid != 0 && pid != pid0 && r > r0 })
	if err := c.mq.start(); err != nil {
		result("crash-replay", false, "restart the broker: %v", err)
		return
	}
	count := func() int {
		c.st.mu.Lock()
		defer c.st.mu.Unlock()
		n := 0
		for _, e := range c.st.events {
			if e["id"] == id {
				n++
			}
		}
		return n
	}
	arrived := waitFor(2*time.Minute, func() bool { return count() > 0 })
	// Once: wait until doorbelld is online again and then a little (a
	// second delivery would come with the replay, before "online").
	waitFor(time.Minute, c.online)
	if !arrived {
		out, _ := c.run("journalctl -u doorbelld --no-pager -o cat | grep -E 'outbox|mqtt|event|stopping|running' | tail -25", time.Minute)
		fmt.Println(out)
	}
	result("crash-replay", journaled && restarted && arrived && count() == 1,
		"ring %s journaled=%v; SIGKILL → restarted=%v (pid %d→%d, restarts %d→%d); delivered after the broker came back: %d time(s)",
		id, journaled, restarted, pid0, pid, r0, r, count())
}

// otaUpdate: README's update path. A bundle of version 1.0.1 signed with
// the owner's key, pushed over MQTT by doorbellctl; doorbelld installs it
// in the other slot and exits 75; systemd starts the launcher again,
// which runs the new slot; the new version confirms its health.
func (c *checks) otaUpdate() {
	b, _, err := c.cp.bundle("1.0.1")
	if err != nil {
		result("ota-update", false, "%v", err)
		return
	}
	pid0, r0 := c.mainPID()
	t0 := time.Now()
	out, err := c.cp.push(b, 3*time.Minute).CombinedOutput()
	took := time.Since(t0)
	pid, r := c.mainPID()
	v, trial, verr := c.cp.otaRunning()
	exit, _ := c.run("journalctl -u doorbelld --no-pager -o cat | grep -E 'update installed|code=exited, status=75|version confirmed' | tail -3", 30*time.Second)
	result("ota-update", err == nil && verr == nil && v == "1.0.1" && !trial && pid != pid0,
		"doorbellctl ota push: %v (%s) in %v; running %q (trial pending %v, %v), pid %d→%d, systemd restarts %d→%d (exit 75 is a forced restart, not counted as a failure); journal: %s",
		err, lastLines(string(out), 1), took.Round(100*time.Millisecond), v, trial, verr, pid0, pid, r0, r, lastLines(exit, 3))
	os.Remove(b)
	c.cp.version = v
}

// otaRollback: an update whose binary cannot start (exits 1 at once) is
// installed; systemd restarts it (Restart=on-failure), the launcher
// counts the starts and, after the third without a health confirmation,
// puts the previous slot back; the previous version runs and says
// rolled_back.
func (c *checks) otaRollback() {
	bin := filepath.Join(c.cp.keyDir, "crashing")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'doorbelld 1.0.2: cannot start (a broken build)' >&2\nexit 1\n"), 0o755); err != nil {
		result("ota-rollback", false, "%v", err)
		return
	}
	b := bin + ".bundle"
	if err := c.cp.sign(bin, "1.0.2", b, goFlags(c.cp.goarch)...); err != nil {
		result("ota-rollback", false, "%v", err)
		return
	}
	defer os.Remove(b)
	_, r0 := c.mainPID()
	since, _ := c.run("date +%s", 30*time.Second)
	t0 := time.Now()
	out, err := c.cp.push(b, 0).CombinedOutput()
	if err != nil {
		result("ota-rollback", false, "push: %v %s", err, lastLines(string(out), 3))
		return
	}
	var state any
	back := waitFor(3*time.Minute, func() bool {
		c.st.mu.Lock()
		state = c.st.update["status"]
		c.st.mu.Unlock()
		return state == "rolled_back" && c.online()
	})
	took := time.Since(t0)
	v, trial, verr := c.cp.otaRunning()
	_, r := c.mainPID()
	log, _ := c.run("journalctl -u doorbelld --no-pager -o cat | grep -E 'cannot start|rolling back|confirmed' | tail -4", 30*time.Second)
	c.st.mu.Lock()
	why := c.st.update["error"]
	c.st.mu.Unlock()
	// ExecStopPost after each failed start: 1.0.2's --release-outputs
	// fails, so doorbelld-boot --or-good runs 1.0.1's, and the unit's
	// stop-post step must never fail (the relays are released).
	stopPost, _ := c.run(fmt.Sprintf("j=$(journalctl -u doorbelld --since @%s --no-pager -o cat); echo \"or-good=$(echo \"$j\" | grep -c 'running the known-good') control-failed=$(echo \"$j\" | grep -c 'Control process exited')\"", strings.TrimSpace(since)), 30*time.Second)
	stopPost = strings.TrimSpace(stopPost)
	result("ota-rollback", back && v == "1.0.1" && verr == nil && strings.Contains(stopPost, "control-failed=0") && !strings.Contains(stopPost, "or-good=0"),
		"a 1.0.2 that exits 1 at start: update/status %v (%v) after %v; running %q (trial pending %v, %v); systemd restarts %d→%d; ExecStopPost: %s (want or-good>0: the known-good binary released the outputs, control-failed=0); journal: %s",
		state, why, took.Round(100*time.Millisecond), v, trial, verr, r0, r, stopPost, lastLines(log, 4))
}

// stop: systemctl stop while the chime relay is pulled in (a press's
// pulse): "offline" is published and the relay is released.
func (c *checks) stop() {
	c.st.mu.Lock()
	c.st.status = ""
	c.st.mu.Unlock()
	out, rc := c.run(strings.NewReplacer("BUTTON", buttonPull, "CHIME", chimeValue).Replace(
		`echo pull-down > BUTTON; i=0; while [ "$(cat CHIME)" != 1 ] && [ $i -lt 100 ]; do sleep 0.01; i=$((i+1)); done; echo "chime at stop: $(cat CHIME)"; systemctl stop doorbelld; echo "chime after stop: $(cat CHIME)"; echo pull-up > BUTTON`), 2*time.Minute)
	off := rc == 0 && waitFor(time.Minute, func() bool { s, _, _ := c.st.get(); return s == "offline" })
	result("service-stop", off && strings.Contains(out, "chime after stop: 0"), "rc=%d; status %q; %s",
		rc, func() string { s, _, _ := c.st.get(); return s }(), strings.Join(strings.Fields(out), " "))
}

// sectorsWritten flushes the guest's dirty pages (sync) and returns the
// sectors (512 bytes) written to its disk so far (/sys/block/vda/stat,
// field 7): what reached the SD card, the journal's commits included.
func (c *checks) sectorsWritten() (int64, error) {
	out, rc := c.run("sync; cat /sys/block/vda/stat", time.Minute)
	f := strings.Fields(out)
	if rc != 0 || len(f) < 7 {
		return 0, fmt.Errorf("read /sys/block/vda/stat: rc=%d %q", rc, out)
	}
	return strconv.ParseInt(f[6], 10, 64)
}

// ioByProcess is what each process has caused to be written to storage
// (/proc/PID/io write_bytes: charged to whoever dirtied the pages), by
// command name.
func (c *checks) ioByProcess() map[string]int64 {
	out, _ := c.run(`for p in /proc/[0-9]*; do w=$(sed -n 's/^write_bytes: //p' $p/io 2>/dev/null); [ -n "$w" ] && [ "$w" != 0 ] && echo "$(cat $p/comm 2>/dev/null | tr ' ' _) $w"; done`, time.Minute)
	m := map[string]int64{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			m[f[0]] += n
		}
	}
	return m
}

// written returns the bytes do() made the guest write to its disk, and
// the files it changed (a marker file's mtime against find -newer) and
// which processes dirtied what.
func (c *checks) written(do func() bool) (int64, []string, bool) {
	c.run("touch /run/wear-mark", 30*time.Second)
	s0, err := c.sectorsWritten()
	if err != nil {
		return 0, []string{err.Error()}, false
	}
	p0 := c.ioByProcess()
	ok := do()
	s1, err := c.sectorsWritten()
	if err != nil {
		return 0, []string{err.Error()}, false
	}
	var procs []string
	for name, n := range c.ioByProcess() {
		if d := n - p0[name]; d > 0 {
			procs = append(procs, fmt.Sprintf("%s %s", name, mib(float64(d))))
		}
	}
	sort.Strings(procs)
	// Files and directories (a temporary file created and removed shows
	// as its directory), and the journal's entries at every level.
	out, _ := c.run("find / -xdev -newer /run/wear-mark \\( -type f -o -type d \\) -printf '%s %p\\n' 2>/dev/null | sort -k2 | head -40; "+
		"journalctl -q --since \"@$(stat -c %Y /run/wear-mark)\" -o short-monotonic | tail -8 | sed 's/^/journal: /'", time.Minute)
	files := []string{"dirtied by: " + strings.Join(procs, ", ")}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			files = append(files, l)
		}
	}
	return (s1 - s0) * 512, files, ok
}

// wear measures what doorbelld costs the SD card: bytes written per hour
// at idle, per ring (with a clip, and in privacy mode: no camera, no
// clip), per motion event (with its clip), and per day at 20 rings and
// 100 motion events. Every figure brackets the work between two syncs.
func (c *checks) wear(idle time.Duration) {
	// Idle: the broker connected, nothing happening (the clip of the ring
	// before is stored).
	waitFor(time.Minute, func() bool { c.st.mu.Lock(); defer c.st.mu.Unlock(); return c.st.manifestsSeen > 0 })
	// Two idle spans, a short one and a long one: the measurement's own
	// cost (the harness's commands, the syncs) is in both and cancels in
	// their difference, which is the idle rate.
	// A span in which the guest's kernel logged (a starved emulator:
	// soft-lockup and stall reports with their stack traces, which
	// journald writes) measures the host's load, not the board: it is
	// measured again, at most twice.
	short := idle / 4
	var n1, n2 int64
	var f1, f2 []string
	starved := 0
	for try := 0; try < 3; try++ {
		n1, f1, _ = c.written(func() bool { time.Sleep(short); return true }) // the idle span is what is measured
		n2, f2, _ = c.written(func() bool { time.Sleep(idle); return true })
		fmt.Printf("BOARD-WEAR: idle %v: %d bytes; files written: %s\n", short, n1, strings.Join(f1, ", "))
		fmt.Printf("BOARD-WEAR: idle %v: %d bytes; files written: %s\n", idle, n2, strings.Join(f2, ", "))
		if !kernelLogged(f1) && !kernelLogged(f2) {
			break
		}
		starved++
	}
	perHour := max(0, float64(n2-n1)) * float64(time.Hour) / float64(idle-short)
	result("wear-idle", perHour <= 1<<20, "%s/hour at idle (%d bytes over %v, %d over %v: the difference; goal ≤ 1 MiB/hour; spans measured again after the guest kernel logged: %d)",
		mib(perHour), n1, short, n2, idle, starved)

	// The button (line 0) is active low, the PIR (line 1) active high.
	pulls := map[string][2]string{"0": {"pull-down", "pull-up"}, "1": {"pull-up", "pull-down"}}
	event := func(line, kind string, clip bool) (int64, []string, bool) {
		c.st.mu.Lock()
		n0, gone0 := len(c.st.events), c.st.manifestsSeen
		c.st.mu.Unlock()
		return c.written(func() bool {
			c.run(fmt.Sprintf("echo %s > /run/gpiosim/sim_gpio%s/pull; sleep 0.3; echo %s > /run/gpiosim/sim_gpio%s/pull",
				pulls[line][0], line, pulls[line][1], line), time.Minute)
			return waitFor(time.Minute, func() bool {
				c.st.mu.Lock()
				defer c.st.mu.Unlock()
				got := false
				for _, e := range c.st.events[n0:] {
					got = got || e["event_type"] == kind
				}
				return got && (!clip || c.st.manifestsSeen > gone0)
			})
		})
	}
	ring, rf, ok1 := event("0", "ring", true)
	fmt.Printf("BOARD-WEAR: ring with clip: %d bytes; files: %s\n", ring, strings.Join(rf, ", "))
	// PIR: motion_start (with its clip), then motion_end after gpio.pir.hold.
	motion, mf, ok2 := event("1", "motion_end", true)
	fmt.Printf("BOARD-WEAR: motion event with clip: %d bytes; files: %s\n", motion, strings.Join(mf, ", "))
	// Privacy mode: the camera closed, a ring is an event only.
	c.cp.publish(c.cp.prefix+"/cmd/privacy", "ON")
	waitFor(time.Minute, func() bool {
		c.st.mu.Lock()
		defer c.st.mu.Unlock()
		return len(c.st.privacy) > 0 && c.st.privacy[len(c.st.privacy)-1] == "ON"
	})
	bare, bf, ok3 := event("0", "ring", false)
	c.cp.publish(c.cp.prefix+"/cmd/privacy", "OFF")
	waitFor(time.Minute, func() bool {
		c.st.mu.Lock()
		defer c.st.mu.Unlock()
		return c.st.privacy[len(c.st.privacy)-1] == "OFF"
	})
	fmt.Printf("BOARD-WEAR: ring without clip (privacy mode): %d bytes; files: %s\n", bare, strings.Join(bf, ", "))
	day := 24*perHour + 20*float64(ring) + 100*float64(motion)
	result("wear", ok1 && ok2 && ok3, "idle %s/hour; a ring with its clip %s, without (privacy mode) %s; a motion event with its clip %s; a day of 20 rings and 100 motion events %s",
		mib(perHour), mib(float64(ring)), mib(float64(bare)), mib(float64(motion)), mib(day))
	c.wearRAM(event, perHour)
}

// wearRAM measures a ring and a motion event with storage.mode: ram
// (clips kept in RAM until a receiver confirms them; README "SD-card
// wear"): the owner key it needs, the config changed, doorbelld
// restarted; afterwards the config is put back and doorbelld restarted
// again.
func (c *checks) wearRAM(event func(line, kind string, clip bool) (int64, []string, bool), perHour float64) {
	const cfg = "/etc/doorbell/config.yaml"
	restart := func() bool {
		n0 := c.cp.onlines()
		_, rc := c.run("systemctl restart doorbelld", 2*time.Minute)
		return rc == 0 && waitFor(2*time.Minute, func() bool { return c.cp.onlines() > n0 })
	}
	out, rc := c.run("cp -p "+cfg+" /root/config.disk.yaml && "+
		"head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > /tmp/owner.key && install -m 0640 -o root -g doorbell /tmp/owner.key /etc/doorbell/owner.key && "+
		"printf 'storage:\\n  mode: ram\\n' >> "+cfg+" && sed -i 's|^mqtt:$|mqtt:\\n  owner_key_file: /etc/doorbell/owner.key|' "+cfg+" && "+
		"sync && doorbelld --check-config --config "+cfg, time.Minute)
	if rc != 0 || !restart() {
		result("wear-ram", false, "storage.mode: ram: rc=%d %s", rc, lastLines(out, 4))
		c.run("cp -p /root/config.disk.yaml "+cfg+" && systemctl restart doorbelld", 2*time.Minute)
		return
	}
	ring, rf, ok1 := event("0", "ring", true)
	fmt.Printf("BOARD-WEAR: storage.mode ram, ring with clip: %d bytes; files: %s\n", ring, strings.Join(rf, ", "))
	motion, mf, ok2 := event("1", "motion_end", true)
	fmt.Printf("BOARD-WEAR: storage.mode ram, motion event with clip: %d bytes; files: %s\n", motion, strings.Join(mf, ", "))
	out, rc = c.run("cp -p /root/config.disk.yaml "+cfg+" && sync", time.Minute)
	back := rc == 0 && restart()
	day := 24*perHour + 20*float64(ring) + 100*float64(motion)
	result("wear-ram", ok1 && ok2 && back, "storage.mode: ram: a ring with its clip %s, a motion event with its clip %s; a day of 20 rings and 100 motion events %s; config put back and restarted: %v %s",
		mib(float64(ring)), mib(float64(motion)), mib(day), back, lastLines(out, 2))
}

// kernelLogged reports whether the journal lines written() lists
// include the kernel's.
func kernelLogged(files []string) bool {
	return slices.ContainsFunc(files, func(l string) bool {
		return strings.HasPrefix(l, "journal: ") && strings.Contains(l, " kernel: ")
	})
}

func mib(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
}

// bench runs the clip recorder's JPEG encode benchmark in the guest when
// the image has it (BOARD_BENCH=1 puts capture/clip's test binary in
// /root): what a YUYV camera's clip frames cost this board's CPU.
// Informational: no goal to pass.
func (c *checks) bench() {
	// No exit in a command: the board's shell is one long-lived sh.
	if out, _ := c.run("[ -x /root/clip.test ] && echo bench", time.Minute); strings.TrimSpace(out) != "bench" {
		return
	}
	out, rc := c.run("cd /tmp && /root/clip.test -test.run '^$' -test.bench 'EncodeJPEG' -test.benchtime 20x", 15*time.Minute)
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "cpu:") || strings.HasPrefix(l, "goarch:") {
			fmt.Printf("BOARD-BENCH: %s\n", strings.TrimSpace(l))
		}
	}
	result("bench-encode", rc == 0, "BenchmarkEncodeJPEG in the guest: rc=%d", rc)
}
