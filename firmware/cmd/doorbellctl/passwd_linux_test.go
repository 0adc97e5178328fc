package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/account"
	"golang.org/x/sys/unix"
)

// lockedBuffer is a bytes.Buffer safe for a reader and a writer.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// openPTY returns a pseudo-terminal's master (a non-blocking fd: a read
// of nothing fails with EAGAIN) and slave.
func openPTY(t *testing.T) (master int, slave *os.File) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { unix.Close(m) })
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// On a terminal, passwd asks twice with echo off and restores the echo.
func TestPasswdTerminal(t *testing.T) {
	master, slave := openPTY(t)
	echo := func() bool {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		return err == nil && tio.Lflag&unix.ECHO != 0
	}
	if !echo() {
		t.Fatal("a new pty has echo off")
	}
	var out bytes.Buffer
	var errb lockedBuffer
	e := &env{ctx: context.Background(), stdin: slave, stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, now: time.Now}
	done := make(chan int, 1)
	go func() { done <- run(e, []string{"passwd", "bob"}) }()
	// Type each answer once its prompt is out and the echo is off.
	deadline := time.Now().Add(30 * time.Second)
	for _, prompt := range []string{"password for bob: ", "again: "} {
		for !strings.HasSuffix(errb.String(), prompt) || echo() {
			if time.Now().After(deadline) {
				t.Fatalf("no prompt %q with echo off; stderr %q", prompt, errb.String())
			}
			time.Sleep(time.Millisecond)
		}
		if _, err := unix.Write(master, []byte("terminal secret\n")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("passwd did not finish")
	}
	u := passwdEntry(t, out.String())
	if ok, _ := account.Verify(u.PasswordHash, "terminal secret"); !ok || u.Username != "bob" {
		t.Errorf("entry %+v does not verify", u)
	}
	if !echo() {
		t.Error("echo left off")
	}
	// Whatever the terminal echoed is in the master already: echo is
	// done as the line is written.
	b := make([]byte, 4096)
	n, err := unix.Read(master, b)
	if err != nil && err != unix.EAGAIN {
		t.Fatal(err)
	}
	if n > 0 && strings.Contains(string(b[:n]), "secret") {
		t.Errorf("the terminal echoed the password: %q", b[:n])
	}
}
