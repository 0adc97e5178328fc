package sdnotify

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen makes a real unixgram socket and points NOTIFY_SOCKET at it.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", p)
	return c
}

func read(t *testing.T, c *net.UnixConn, d time.Duration) string {
	t.Helper()
	buf := make([]byte, 256)
	c.SetReadDeadline(time.Now().Add(d))
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func TestReadyAndStopping(t *testing.T) {
	c := listen(t)
	Ready(slog.Default())
	if got := read(t, c, time.Second); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
	Stopping(slog.Default())
	if got := read(t, c, time.Second); got != "STOPPING=1" {
		t.Errorf("got %q, want STOPPING=1", got)
	}
}

func TestNoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	Ready(slog.Default()) // must not panic or block
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	if err := Watchdog(ctx, slog.Default(), func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("Watchdog without WATCHDOG_USEC waited for ctx")
	}
}

func TestWatchdogPingsOnlyWhenHealthy(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(100000)) // 100ms: pings every 50ms
	t.Setenv("WATCHDOG_PID", "")
	var healthy, sawUnhealthy atomic.Bool
	healthy.Store(true)
	check := func() bool {
		if healthy.Load() {
			return true
		}
		sawUnhealthy.Store(true)
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Watchdog(ctx, slog.Default(), check) }()
	if got := read(t, c, time.Second); !strings.Contains(got, "WATCHDOG=1") {
		t.Fatalf("got %q, want a WATCHDOG=1 ping", got)
	}
	healthy.Store(false)
	// Once the watchdog has seen the daemon unhealthy, every ping it sent
	// before is in the socket: drain them, then none may follow.
	for deadline := time.Now().Add(5 * time.Second); !sawUnhealthy.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the watchdog never checked health again")
		}
	}
	for read(t, c, time.Millisecond) != "" {
	}
	if got := read(t, c, 300*time.Millisecond); got != "" {
		t.Errorf("unhealthy daemon still pinged: %q", got)
	}
	cancel()
	<-done
}
