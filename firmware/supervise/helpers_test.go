package supervise_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/supervise"
)

// guard bounds every wait in the tests so that a bug fails the test with a
// message instead of hanging it. Nothing waits for it to pass.
const guard = 30 * time.Second

var errBoom = errors.New("boom")

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	t.Cleanup(cancel)
	return ctx
}

// recorder keeps every state OnChange reports and lets a test read each
// part's changes in order.
type recorder struct {
	mu      sync.Mutex
	states  []supervise.State
	changed chan struct{} // closed and replaced on every change
	cursor  map[string]int
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}), cursor: make(map[string]int)}
}

func (r *recorder) record(st supervise.State) {
	r.mu.Lock()
	r.states = append(r.states, st)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// next returns the part's next state change, waiting for it.
func (r *recorder) next(t *testing.T, name string) supervise.State {
	t.Helper()
	ctx := waitCtx(t)
	for {
		r.mu.Lock()
		for i := r.cursor[name]; i < len(r.states); i++ {
			if r.states[i].Name == name {
				r.cursor[name] = i + 1
				st := r.states[i]
				r.mu.Unlock()
				return st
			}
		}
		r.cursor[name] = len(r.states)
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%s: no state change within %v", name, guard)
		}
	}
}

// expect reads the part's next state change and checks its status.
func (r *recorder) expect(t *testing.T, name string, want supervise.Status) supervise.State {
	t.Helper()
	st := r.next(t, name)
	if st.Status != want {
		t.Fatalf("%s: status %q (last error %q), want %q", name, st.Status, st.LastError, want)
	}
	return st
}

// pending returns the part's state changes not read yet, without waiting.
func (r *recorder) pending(name string) []supervise.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []supervise.State
	for _, st := range r.states[r.cursor[name]:] {
		if st.Name == name {
			out = append(out, st)
		}
	}
	return out
}

// all returns every change of the part, read or not.
func (r *recorder) all(name string) []supervise.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []supervise.State
	for _, st := range r.states {
		if st.Name == name {
			out = append(out, st)
		}
	}
	return out
}

// fake is a part the test drives: each run waits for ctx to be done or for
// the test to hand it what to return (or panic with).
type fake struct {
	do   chan func() error
	runs atomic.Int32
}

func newFake() *fake { return &fake{do: make(chan func() error)} }

func (f *fake) run(ctx context.Context) error {
	f.runs.Add(1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case fn := <-f.do:
		return fn()
	}
}

// exit makes the running fake part return what fn returns.
func (f *fake) exit(t *testing.T, fn func() error) {
	t.Helper()
	select {
	case f.do <- fn:
	case <-waitCtx(t).Done():
		t.Fatalf("part not running within %v", guard)
	}
}

func fail(err error) func() error { return func() error { return err } }

// slow is a part that, once its ctx is done, says so and returns only when
// released.
type slow struct {
	cancelled chan struct{}
	release   chan struct{}
	err       error // returned when released
}

func newSlow() *slow { return &slow{cancelled: make(chan struct{}), release: make(chan struct{})} }

func (s *slow) run(ctx context.Context) error {
	<-ctx.Done()
	close(s.cancelled)
	<-s.release
	return s.err
}

// logs captures log records.
type logs struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logs) WithGroup(string) slog.Handler            { return l }

func (l *logs) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: make(map[string]any)}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Any()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}

func (l *logs) at(level slog.Level) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
	for _, r := range l.recs {
		if r.level == level {
			out = append(out, r)
		}
	}
	return out
}

// harness is a Supervisor on a fake clock, running.
type harness struct {
	clock  *clockwork.FakeClock
	rec    *recorder
	logs   *logs
	sup    *supervise.Supervisor
	cancel context.CancelFunc
	done   chan error
}

// newHarness builds a Supervisor with opts (Clock, Logger and OnChange
// replaced) and adds parts, without running it.
func newHarness(t *testing.T, opts supervise.Options, parts ...supervise.Part) *harness {
	t.Helper()
	h := &harness{clock: clockwork.NewFakeClock(), rec: newRecorder(), logs: &logs{}, done: make(chan error, 1)}
	opts.Clock, opts.Logger, opts.OnChange = h.clock, slog.New(h.logs), h.rec.record
	h.sup = supervise.New(opts)
	for _, p := range parts {
		h.sup.Add(p)
		h.rec.expect(t, p.Name, supervise.Starting)
	}
	return h
}

// start runs the Supervisor; the test's cleanup stops it and waits.
func (h *harness) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(guard):
			t.Errorf("Run did not return within %v of the end of the test", guard)
		}
	})
}

func startHarness(t *testing.T, opts supervise.Options, parts ...supervise.Part) *harness {
	t.Helper()
	h := newHarness(t, opts, parts...)
	h.start(t)
	return h
}

// result waits for Run to return.
func (h *harness) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup, and a second look
		return err
	case <-waitCtx(t).Done():
		t.Fatalf("Run did not return within %v", guard)
		return nil
	}
}

// returned says, without waiting, whether Run has returned.
func (h *harness) returned() bool {
	select {
	case err := <-h.done:
		h.done <- err
		return true
	default:
		return false
	}
}

// armed says, without waiting, whether a timer is set on the clock.
func armed(c *clockwork.FakeClock) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return c.BlockUntilContext(ctx, 1) == nil
}

// waitArmed waits until n timers are set on the clock.
func waitArmed(t *testing.T, c *clockwork.FakeClock, n int) {
	t.Helper()
	if err := c.BlockUntilContext(waitCtx(t), n); err != nil {
		t.Fatalf("%d timers not armed within %v", n, guard)
	}
}

func state(t *testing.T, sup *supervise.Supervisor, name string) supervise.State {
	t.Helper()
	for _, st := range sup.States() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no part %s in States", name)
	return supervise.State{}
}
