package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	c.run("echo pull-down > /run/gpiosim/sim_gpio0/pull; sleep 0.3; echo pull-up > /run/gpiosim/sim_gpio0/pull", time.Minute)
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
