package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// killMidPulse starts doorbelld again (after the SIGTERM check), opens
// the door and SIGKILLs the daemon while the relay is closed. No code of
// doorbelld runs after SIGKILL: the kernel releases its lines (gpio-sim
// then reads the line's pull, low), and the unit's ExecStopPost,
// `doorbelld --release-outputs`, drives it inactive for GPIO drivers that
// keep a dead process's last level (the Pi's makes the pin an input). Both are
// checked: the line falls before the pulse would have ended, and
// --release-outputs exits 0 naming the door line, which then reads low.
func (c *checker) killMidPulse(broker, prefix string, argv []string, logPath string) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		result("door-released-after-sigkill", false, "open log: %v", err)
		return
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n---- hilcheck: doorbelld started again for the SIGKILL check\n")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		result("door-released-after-sigkill", false, "start %v: %v", argv, err)
		return
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	}()

	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID("hilcheck-kill").
		SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).SetAutoReconnect(false)
	opts.OnConnect = func(cl mqtt.Client) {
		cl.Subscribe(prefix+"/#", 1, func(_ mqtt.Client, m mqtt.Message) { c.s.handle(m, prefix) })
	}
	cl := mqtt.NewClient(opts)
	tok := cl.Connect()
	online := tok.WaitTimeout(60*time.Second) && tok.Error() == nil &&
		waitFor(60*time.Second, func() bool { return c.s.lastStatus() == "online" })
	if !online {
		result("door-released-after-sigkill", false, "doorbelld did not come online again (err %v)", tok.Error())
		return
	}
	defer cl.Disconnect(100)

	stop := make(chan struct{})
	relay, seen := watchN(c.door, stop)
	c.openDoor(cl, c.doorPIN)
	high := waitFor(15*time.Second, func() bool { return seen.Load() >= 1 })
	highAt := time.Now()
	if !high {
		close(stop)
		<-relay
		result("door-released-after-sigkill", false, "the door relay never closed: %s", c.door.describe())
		return
	}
	t0 := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		close(stop)
		<-relay
		result("door-released-after-sigkill", false, "kill: %v", err)
		return
	}
	fell := waitFor(c.doorPulse+10*time.Second, func() bool { return c.door.value() == 0 })
	close(stop)
	tr := <-relay
	ok := fell && len(tr) == 2 && tr[0].value == 1 && tr[1].value == 0 && tr[1].at.Before(highAt.Add(c.doorPulse))
	detail := fmt.Sprintf("transitions %d", len(tr))
	if len(tr) == 2 {
		detail += fmt.Sprintf(", released %v after SIGKILL (pulse %v)", tr[1].at.Sub(t0).Round(time.Millisecond), c.doorPulse)
	}
	if !ok {
		detail += ", " + c.door.describe()
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		ok = false
		detail += ", the process did not die"
	}

	// The unit's ExecStopPost.
	rel := exec.Command(argv[0], append(configArgs(argv), "--release-outputs")...)
	out, err := rel.CombinedOutput()
	released := err == nil && strings.Contains(string(out), "released gpio.door.line") && c.door.value() == 0
	detail += fmt.Sprintf("; --release-outputs: err=%v, %q, line now %d", err, strings.TrimSpace(string(out)), c.door.value())
	result("door-released-after-sigkill", ok && released, "%s", detail)
}

// configArgs picks "--config FILE" out of doorbelld's command line.
func configArgs(argv []string) []string {
	for i, a := range argv {
		if (a == "--config" || a == "-config") && i+1 < len(argv) {
			return []string{"--config", argv[i+1]}
		}
	}
	return nil
}
