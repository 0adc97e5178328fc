package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/daemon"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
	"github.com/doorbelld/doorbelld/firmware/sim"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// doorDevice runs a real sim doorbell (device "front", prefix "p") with
// a door opener and the owner key in keyFile, on an embedded broker; it
// returns the broker URL.
func doorDevice(t *testing.T, keyFile string) string {
	t.Helper()
	url := embeddedBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	c := config.SimDefault()
	c.Storage.Dir = t.TempDir()
	c.MQTT.Broker = url
	c.MQTT.TopicPrefix = "p"
	c.Device.ID = "front"
	c.HTTP.Listen, c.RTSP.Listen, c.Camera.Device = "", "", ""
	c.MQTT.OwnerKeyFile = keyFile
	c.GPIO.Door.Line = "SIM_DOOR"
	c.GPIO.Door.Pulse = config.Dur(100 * time.Millisecond)
	if err := c.Validate(true); err != nil {
		t.Fatal(err)
	}
	board := sim.New(c, sim.Options{Pins: true, Logger: quietLog})
	ready := make(chan *daemon.Daemon, 1)
	d, err := daemon.New(daemon.Options{Config: c, Sim: true, Version: "test", Logger: quietLog, Pins: board.Pins(),
		Ready: func(d *daemon.Daemon) { ready <- d }})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); d.Run(ctx) }()
	<-ready
	// The doorbell hears commands once its door/state is out: it
	// subscribes before it publishes its states, on the same connection.
	locked := make(chan struct{}, 1)
	c2 := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("door-test-watch"))
	if tok := c2.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("watch connect: %v", tok.Error())
	}
	t.Cleanup(func() { c2.Disconnect(50) })
	c2.Subscribe("p/front/door/state", 1, func(_ paho.Client, m paho.Message) {
		if string(m.Payload()) == "LOCKED" {
			select {
			case locked <- struct{}{}:
			default:
			}
		}
	}).WaitTimeout(30 * time.Second)
	select {
	case <-locked:
	case <-time.After(90 * time.Second):
		t.Fatal("the doorbell published no door/state in 90s")
	}
	return url
}

func writeKey(t *testing.T, k ownerkey.Key) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "owner.key")
	if err := os.WriteFile(path, k.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDoorOpen: doorbellctl door open signs with the owner key and tells
// what the real doorbell answered; with another key it is refused, and
// says why.
func TestDoorOpen(t *testing.T) {
	keyFile := writeKey(t, ownerkey.Generate())
	url := doorDevice(t, keyFile)
	// A generous wait: under qemu-user (cross-test.sh) the doorbell's
	// answer has been seen to take over 10 s.
	conn := []string{"--broker", url, "--prefix", "p", "--device", "front", "--wait", "90s"}

	code, out, errs := runCLI(t, nil, append([]string{"door", "open", "--owner-key", keyFile}, conn...)...)
	if code != 0 || !strings.Contains(out, "door opened") {
		t.Fatalf("door open: %d %s %s", code, out, errs)
	}
	code, _, errs = runCLI(t, nil, append([]string{"door", "open", "--owner-key", writeKey(t, ownerkey.Generate())}, conn...)...)
	if code != 1 || !strings.Contains(errs, "refused by the doorbell") || !strings.Contains(errs, "mac") {
		t.Fatalf("door open with another key: %d %s", code, errs)
	}
	code, _, errs = runCLI(t, nil, append([]string{"door", "open"}, conn...)...)
	if code != 2 || !strings.Contains(errs, "--owner-key") {
		t.Fatalf("door open without a key: %d %s", code, errs)
	}
}

// TestDoorPIN: door pin prints a hash of the PIN that account verifies,
// and refuses what is not 4-12 digits.
func TestDoorPIN(t *testing.T) {
	pin := func(stdin string) (int, string, string) {
		var out, errb bytes.Buffer
		e := &env{ctx: context.Background(), stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
			getenv: func(string) string { return "" }, now: time.Now}
		return run(e, []string{"door", "pin"}), out.String(), errb.String()
	}
	code, out, errs := pin("482916\n")
	if code != 0 || !strings.Contains(out, "pin_hash: ") {
		t.Fatalf("door pin: %d %s %s", code, out, errs)
	}
	hash := strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "pin_hash:")), `"`)
	if ok, err := account.Verify(hash, "482916"); !ok || err != nil {
		t.Fatalf("the printed hash %q does not verify the PIN: %v", hash, err)
	}
	for _, bad := range []string{"123\n", "12345678901234\n", "12a4\n", "\n"} {
		if code, out, errs := pin(bad); code != 1 || out != "" || !strings.Contains(errs, "4 to 12 digits") {
			t.Errorf("door pin %q: %d %q %s", bad, code, out, errs)
		}
	}
}
