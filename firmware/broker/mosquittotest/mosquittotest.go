// Package mosquittotest runs a real Mosquitto of a test's own on a free
// loopback port, so a test can give it its own limits, accounts or TLS,
// and stop and start it. The mosquitto binary must be installed
// (scripts/test.sh installs it); New skips the test when it is not.
package mosquittotest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Broker is a Mosquitto run by a test.
type Broker struct {
	// Dir holds mosquitto.conf, mosquitto.log and whatever the test puts
	// there (password files, certificates, persistence). It is open to
	// every user: mosquitto drops root for its own user.
	Dir  string
	Port int

	t   testing.TB
	cmd *exec.Cmd
}

// New writes a config of a loopback listener and conf (more mosquitto.conf
// lines, in which $DIR stands for Dir; anonymous clients are allowed unless
// conf says otherwise), starts the broker and stops it when the test ends.
// Write files conf names into Dir first with Prepare.
func New(t testing.TB, conf string) *Broker {
	t.Helper()
	b := Prepare(t)
	b.Configure(conf)
	b.Start()
	return b
}

// Prepare makes the directory and picks the port, starting nothing, for a
// test that has files to write into Dir before Configure and Start.
func Prepare(t testing.TB) *Broker {
	t.Helper()
	if _, err := binary(); err != nil {
		t.Skip("no mosquitto installed (scripts/test.sh installs it)")
	}
	dir, err := os.MkdirTemp("", "doorbelld-mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	b := &Broker{Dir: dir, Port: FreePort(t), t: t}
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "mosquitto.log"))
			t.Logf("mosquitto log:\n%s", log)
		}
		os.RemoveAll(dir)
	})
	return b
}

// Configure writes mosquitto.conf (see New).
func (b *Broker) Configure(conf string) {
	b.t.Helper()
	conf = strings.ReplaceAll(conf, "$DIR", b.Dir)
	full := fmt.Sprintf("listener %d 127.0.0.1\n", b.Port)
	if !strings.Contains(conf, "allow_anonymous") {
		full += "allow_anonymous true\n"
	}
	full += conf + "\n"
	if err := os.WriteFile(filepath.Join(b.Dir, "mosquitto.conf"), []byte(full), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// URL is the broker's address for MQTT clients.
func (b *Broker) URL() string { return "tcp://127.0.0.1:" + strconv.Itoa(b.Port) }

// Start starts the broker (again) and returns once it takes connections.
func (b *Broker) Start() {
	b.t.Helper()
	bin, err := binary()
	if err != nil {
		b.t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(b.Dir, "mosquitto.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	defer logf.Close()
	b.cmd = exec.Command(bin, "-c", filepath.Join(b.Dir, "mosquitto.conf"))
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(b.Port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(b.Dir, "mosquitto.log"))
	b.t.Fatalf("mosquitto did not start: %s", log)
}

// Stop ends the broker with SIGTERM (it saves its sessions when
// persistence is on). Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.cmd.Wait()
	b.cmd = nil
}

func binary() (string, error) {
	if bin, err := exec.LookPath("mosquitto"); err == nil {
		return bin, nil
	}
	const sbin = "/usr/sbin/mosquitto" // not on a non-root PATH
	_, err := os.Stat(sbin)
	return sbin, err
}

// FreePort returns a TCP port free on 127.0.0.1 just now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is FreePort as a listen address, 127.0.0.1:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}
