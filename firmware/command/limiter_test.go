package command

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

func newTestLimiter(max int) (*Limiter, *clockwork.FakeClock, *logBuf) {
	buf := &logBuf{}
	clk := clockwork.NewFakeClock()
	l := NewLimiter(LimiterOptions{
		Logger:  slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:   clk,
		MaxKeys: max,
	})
	return l, clk, buf
}

func TestLimiterOncePerMinute(t *testing.T) {
	l, clk, buf := newTestLimiter(0)
	topic := base + "/cmd/privacy"
	bad := func(p string) error { _, err := Parse(topic, []byte(p), false, base); return err }

	if !l.Log(topic, bad("a")) {
		t.Fatal("first error not logged")
	}
	for i := 0; i < 100; i++ { // varying payloads are the same kind of error
		if l.Log(topic, bad(fmt.Sprint(i))) {
			t.Fatalf("repeat %d logged within the minute", i)
		}
	}
	// Another kind of error, or another topic, is logged.
	if _, err := Parse(topic, []byte("ON"), true, base); !l.Log(topic, err) {
		t.Error("retained error on the same topic not logged")
	}
	if !l.Log(base+"/cmd/chime", bad("x")) {
		t.Error("other topic not logged")
	}
	clk.Advance(59 * time.Second)
	if l.Log(topic, bad("b")) {
		t.Error("logged again after 59s")
	}
	clk.Advance(time.Second)
	if !l.Log(topic, bad("c")) {
		t.Error("not logged again after a minute")
	}
	lines := buf.lines()
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[3], "suppressed=101") || !strings.Contains(lines[3], "level=WARN") {
		t.Errorf("last line does not count the suppressed ones: %s", lines[3])
	}
	if !strings.Contains(lines[1], "level=INFO") {
		t.Errorf("retained should be INFO: %s", lines[1])
	}
	if l.Log(topic, nil) {
		t.Error("nil error logged")
	}
}

func TestLimiterBoundedKeys(t *testing.T) {
	l, clk, buf := newTestLimiter(4)
	for i := 0; i < 10; i++ {
		topic := fmt.Sprintf("%s/cmd/x%d", base, i)
		_, err := Parse(topic, nil, false, base)
		l.Log(topic, err)
	}
	if n := l.keys.Len(); n != 4 {
		t.Fatalf("%d keys remembered, want 4", n)
	}
	clk.Advance(time.Minute)
	_, err := Parse(base+"/cmd/y", nil, false, base)
	if !l.Log(base+"/cmd/y", err) {
		t.Fatal("not logged after the old keys expired")
	}
	lines := buf.lines()
	if last := lines[len(lines)-1]; !strings.Contains(last, "suppressed_other_topics=6") {
		t.Errorf("overflow not reported: %s", last)
	}
}
