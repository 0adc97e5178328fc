package supervise_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/supervise"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name   string
		opts   supervise.Options
		ranFor []time.Duration // how long each run lasts before it fails
		want   []time.Duration // the backoff after each failure
	}{
		{
			name:   "defaults double up to a minute",
			ranFor: make([]time.Duration, 8),
			want:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute},
		},
		{
			name:   "doubles up to max",
			opts:   supervise.Options{MinBackoff: time.Second, MaxBackoff: 5 * time.Second},
			ranFor: make([]time.Duration, 5),
			want:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second},
		},
		{
			name:   "stable run starts again from min",
			opts:   supervise.Options{MinBackoff: time.Second, MaxBackoff: time.Minute, StableAfter: 10 * time.Second},
			ranFor: []time.Duration{0, 0, 3 * time.Second, 10 * time.Second, 0, time.Hour},
			want:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, time.Second, 2 * time.Second, time.Second},
		},
		{
			name:   "just short of stable keeps doubling",
			opts:   supervise.Options{MinBackoff: time.Second, StableAfter: 10 * time.Second},
			ranFor: []time.Duration{0, 10*time.Second - time.Nanosecond},
			want:   []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name:   "max below min is min",
			opts:   supervise.Options{MinBackoff: 5 * time.Second, MaxBackoff: time.Second},
			ranFor: make([]time.Duration, 3),
			want:   []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			h := startHarness(t, tc.opts, supervise.Part{Name: "flaky", Run: f.run})
			h.rec.expect(t, "flaky", supervise.Running)
			for i, want := range tc.want {
				h.clock.Advance(tc.ranFor[i]) // no timer is set: the part just runs that long
				f.exit(t, fail(errBoom))
				st := h.rec.expect(t, "flaky", supervise.Restarting)
				if st.Restarts != i+1 || st.LastError != "boom" {
					t.Fatalf("failure %d: restarts %d, last error %q; want %d, boom", i+1, st.Restarts, st.LastError, i+1)
				}
				waitArmed(t, h.clock, 1)
				h.clock.Advance(want - time.Nanosecond)
				if !armed(h.clock) {
					t.Fatalf("failure %d: restarted before its backoff of %v", i+1, want)
				}
				h.clock.Advance(time.Nanosecond)
				run := h.rec.expect(t, "flaky", supervise.Running)
				if got := run.Since.Sub(st.Since); got != want {
					t.Fatalf("failure %d: restarted after %v, want %v", i+1, got, want)
				}
				if run.Restarts != i+1 || run.LastError != "boom" {
					t.Fatalf("failure %d: running again with restarts %d, last error %q", i+1, run.Restarts, run.LastError)
				}
			}
			if got := int(f.runs.Load()); got != len(tc.want)+1 {
				t.Errorf("runs = %d, want %d", got, len(tc.want)+1)
			}
			errs := h.logs.at(slog.LevelError)
			if len(errs) != len(tc.want) {
				t.Fatalf("%d error logs, want one per failure (%d)", len(errs), len(tc.want))
			}
			for i, r := range errs {
				if r.attrs["part"] != "flaky" || r.attrs["backoff"] != tc.want[i] || !errors.Is(r.attrs["err"].(error), errBoom) {
					t.Errorf("error log %d: %v, want part=flaky backoff=%v err=boom", i, r.attrs, tc.want[i])
				}
			}
			h.cancel()
			if err := h.result(t); err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
			h.rec.expect(t, "flaky", supervise.Stopped)
		})
	}
}

// TestFailure covers what each way of returning does to one part, while a
// second part keeps running beside it.
func TestFailure(t *testing.T) {
	tests := []struct {
		name      string
		critical  bool
		exit      func() error
		want      supervise.Status
		lastError string
		stack     bool   // the failure is logged with a stack
		runErr    string // what Run returns, for a critical part
	}{
		{name: "error is restarted", exit: fail(errBoom), want: supervise.Restarting, lastError: "boom"},
		{name: "panic is restarted", exit: func() error { panic("kaboom") }, want: supervise.Restarting, lastError: "panic: kaboom", stack: true},
		{name: "panic with an error", exit: func() error { panic(errBoom) }, want: supervise.Restarting, lastError: "panic: boom", stack: true},
		{name: "nil is done", exit: fail(nil), want: supervise.Stopped},
		{name: "critical nil is done", critical: true, exit: fail(nil), want: supervise.Stopped},
		{name: "critical error stops everything", critical: true, exit: fail(errBoom), want: supervise.Failed,
			lastError: "boom", runErr: "supervise: part: boom"},
		{name: "critical panic stops everything", critical: true, exit: func() error { panic(errBoom) }, want: supervise.Failed,
			lastError: "panic: boom", stack: true, runErr: "supervise: part: panic: boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, other := newFake(), newFake()
			h := startHarness(t, supervise.Options{},
				supervise.Part{Name: "part", Critical: tc.critical, Run: f.run},
				supervise.Part{Name: "other", Run: other.run})
			h.rec.expect(t, "part", supervise.Running)
			h.rec.expect(t, "other", supervise.Running)

			f.exit(t, tc.exit)
			st := h.rec.expect(t, "part", tc.want)
			if st.LastError != tc.lastError {
				t.Errorf("last error %q, want %q", st.LastError, tc.lastError)
			}
			if logged := h.logs.at(slog.LevelError); len(logged) > 0 {
				if _, ok := logged[0].attrs["stack"]; ok != tc.stack {
					t.Errorf("logged with stack: %v, want %v", ok, tc.stack)
				}
				if s, _ := logged[0].attrs["stack"].(string); tc.stack && !strings.Contains(s, "supervise_test.go") {
					t.Errorf("stack does not show the panic site:\n%s", s)
				}
			} else if tc.lastError != "" {
				t.Error("failure not logged at Error")
			}
			if healthy, wantHealthy := h.sup.Healthy(), tc.want == supervise.Stopped; healthy != wantHealthy {
				t.Errorf("Healthy = %v, want %v", healthy, wantHealthy)
			}

			switch tc.want {
			case supervise.Restarting:
				waitArmed(t, h.clock, 1)
				h.clock.Advance(time.Second)
				if st := h.rec.expect(t, "part", supervise.Running); st.Restarts != 1 {
					t.Errorf("restarts %d, want 1", st.Restarts)
				}
			case supervise.Stopped:
				if armed(h.clock) || h.returned() {
					t.Fatal("a part that returned nil is restarted or stopped Run")
				}
				if st := state(t, h.sup, "other"); st.Status != supervise.Running {
					t.Errorf("other part %s, want running", st.Status)
				}
			case supervise.Failed:
				err := h.result(t)
				if err == nil || err.Error() != tc.runErr || !errors.Is(err, errBoom) {
					t.Fatalf("Run = %v, want %q wrapping errBoom", err, tc.runErr)
				}
				h.rec.expect(t, "other", supervise.Stopped)
				if got := state(t, h.sup, "part").Status; got != supervise.Failed {
					t.Errorf("critical part %s after Run, want failed", got)
				}
				return
			}
			h.cancel()
			if err := h.result(t); err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
			for _, st := range h.sup.States() {
				if st.Status != supervise.Stopped {
					t.Errorf("%s: %s after Run, want stopped", st.Name, st.Status)
				}
			}
		})
	}
}

// TestStopping: however the supervisor stops, Run waits for a slow part,
// a part waiting out its backoff stops at once, every part ends stopped
// (a failed critical one stays failed), and Run returns the first reason.
func TestStopping(t *testing.T) {
	errRestart := errors.New("restart requested")
	tests := []struct {
		name    string
		stop    func(t *testing.T, h *harness, events *fake)
		wantErr error // nil: Run returns nil
		failed  bool  // the critical part ends failed
	}{
		{name: "ctx cancelled", stop: func(_ *testing.T, h *harness, _ *fake) { h.cancel() }},
		{name: "Stop with a cause", stop: func(_ *testing.T, h *harness, _ *fake) { h.sup.Stop(errRestart) }, wantErr: errRestart},
		{name: "Stop without a cause", stop: func(_ *testing.T, h *harness, _ *fake) { h.sup.Stop(nil) }},
		{name: "first Stop wins", stop: func(_ *testing.T, h *harness, _ *fake) {
			h.sup.Stop(errRestart)
			h.sup.Stop(errBoom)
			h.cancel()
		}, wantErr: errRestart},
		{name: "ctx before Stop", stop: func(_ *testing.T, h *harness, _ *fake) {
			h.cancel()
			h.sup.Stop(errRestart)
		}},
		{name: "critical failure", stop: func(t *testing.T, _ *harness, events *fake) {
			events.exit(t, fail(errBoom))
		}, wantErr: errBoom, failed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			critical, flaky, slowPart := newFake(), newFake(), newSlow()
			h := startHarness(t, supervise.Options{},
				supervise.Part{Name: "events", Critical: true, Run: critical.run},
				supervise.Part{Name: "flaky", Run: flaky.run},
				supervise.Part{Name: "slow", Run: slowPart.run})
			h.rec.expect(t, "events", supervise.Running)
			h.rec.expect(t, "flaky", supervise.Running)
			h.rec.expect(t, "slow", supervise.Running)
			flaky.exit(t, fail(errBoom))
			h.rec.expect(t, "flaky", supervise.Restarting)
			waitArmed(t, h.clock, 1)

			tc.stop(t, h, critical)
			<-slowPart.cancelled
			h.rec.expect(t, "flaky", supervise.Stopped) // no clock advance needed
			if h.returned() {
				t.Fatal("Run returned while a part is still running")
			}
			if st := state(t, h.sup, "slow"); st.Status != supervise.Running {
				t.Errorf("slow part %s before it returned, want running", st.Status)
			}
			if tc.failed {
				h.sup.Stop(errRestart) // too late: the failure came first
			}
			close(slowPart.release)
			err := h.result(t)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run = %v, want %v", err, tc.wantErr)
			}
			want := map[string]supervise.Status{"events": supervise.Stopped, "flaky": supervise.Stopped, "slow": supervise.Stopped}
			if tc.failed {
				want["events"] = supervise.Failed
			}
			for _, st := range h.sup.States() {
				if st.Status != want[st.Name] {
					t.Errorf("%s: %s, want %s", st.Name, st.Status, want[st.Name])
				}
			}
			if got := flaky.runs.Load(); got != 1 {
				t.Errorf("flaky ran %d times, want 1", got)
			}
			h.sup.Stop(errBoom) // after Run: nothing happens
		})
	}
}

func TestStopBeforeRun(t *testing.T) {
	errRestart := errors.New("restart requested")
	f := newFake()
	h := newHarness(t, supervise.Options{}, supervise.Part{Name: "events", Critical: true, Run: f.run})
	h.sup.Stop(errRestart)
	h.start(t)
	if err := h.result(t); !errors.Is(err, errRestart) {
		t.Fatalf("Run = %v, want %v", err, errRestart)
	}
	h.rec.expect(t, "events", supervise.Stopped)
	if f.runs.Load() != 0 {
		t.Error("a part ran after Stop before Run")
	}
}

func TestStopFromPart(t *testing.T) {
	// The OTA part: it asks for a restart into the other slot and is done.
	errRestart := errors.New("restart requested")
	var sup *supervise.Supervisor
	ota := func(ctx context.Context) error {
		sup.Stop(errRestart)
		<-ctx.Done()
		return nil
	}
	f := newFake()
	h := newHarness(t, supervise.Options{},
		supervise.Part{Name: "events", Critical: true, Run: f.run},
		supervise.Part{Name: "ota", Run: ota})
	sup = h.sup
	h.start(t)
	if err := h.result(t); !errors.Is(err, errRestart) {
		t.Fatalf("Run = %v, want %v", err, errRestart)
	}
	if len(h.logs.at(slog.LevelError))+len(h.logs.at(slog.LevelWarn)) != 0 {
		t.Errorf("a requested stop logged failures: %v", h.logs.recs)
	}
}

// TestErrorWhileStopping: what a part returns once it is told to stop is
// no failure; an error other than the cancellation is logged at Warn and
// kept as LastError.
func TestErrorWhileStopping(t *testing.T) {
	errRestart := errors.New("restart requested")
	tests := []struct {
		name    string
		stop    func(h *harness)
		wantErr error
	}{
		{"ctx cancelled", func(h *harness) { h.cancel() }, nil},
		{"Stop", func(h *harness) { h.sup.Stop(errRestart) }, errRestart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slowPart := newSlow()
			slowPart.err = errors.New("close: device busy")
			quiet := func(ctx context.Context) error {
				<-ctx.Done()
				return fmt.Errorf("camera: read: %w", context.Cause(ctx))
			}
			h := startHarness(t, supervise.Options{},
				supervise.Part{Name: "web", Critical: true, Run: slowPart.run},
				supervise.Part{Name: "camera", Run: quiet})
			h.rec.expect(t, "web", supervise.Running)
			h.rec.expect(t, "camera", supervise.Running)
			tc.stop(h)
			close(slowPart.release)
			if err := h.result(t); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run = %v, want %v: an error while stopping is no failure", err, tc.wantErr)
			}
			if st := h.rec.expect(t, "web", supervise.Stopped); st.LastError != "close: device busy" || st.Restarts != 0 {
				t.Errorf("web: last error %q, restarts %d; want the close error, 0", st.LastError, st.Restarts)
			}
			if st := h.rec.expect(t, "camera", supervise.Stopped); st.LastError != "" {
				t.Errorf("camera: last error %q: the cancellation is no error", st.LastError)
			}
			if warns := h.logs.at(slog.LevelWarn); len(warns) != 1 || warns[0].attrs["part"] != "web" {
				t.Errorf("warnings %v, want one for web", warns)
			}
			if errs := h.logs.at(slog.LevelError); len(errs) != 0 {
				t.Errorf("errors logged while stopping: %v", errs)
			}
		})
	}
}

// TestAddReportedFirst: a part added while Run starts is reported
// starting before anything else, even when Run would start it at once.
func TestAddReportedFirst(t *testing.T) {
	rec := newRecorder()
	inStarting, release := make(chan struct{}), make(chan struct{})
	xRan := make(chan struct{})
	sup := supervise.New(supervise.Options{
		Logger: slog.New(slog.DiscardHandler),
		OnChange: func(st supervise.State) {
			rec.record(st)
			if st.Name == "x" && st.Status == supervise.Starting {
				close(inStarting)
				<-release
			}
		},
	})
	sup.Add(supervise.Part{Name: "y", Run: func(ctx context.Context) error { <-ctx.Done(); return nil }})
	added := make(chan struct{})
	go func() {
		defer close(added)
		sup.Add(supervise.Part{Name: "x", Run: func(ctx context.Context) error {
			close(xRan)
			<-ctx.Done()
			return nil
		}})
	}()
	<-inStarting // x is in the parts, its report not yet done
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	rec.expect(t, "y", supervise.Starting)
	rec.expect(t, "y", supervise.Running) // Run has started x's goroutine too
	for range 100 {                       // give it every chance to run x too early
		runtime.Gosched()
		select {
		case <-xRan:
			t.Fatal("x ran before Add reported it")
		default:
		}
	}
	close(release)
	<-added
	rec.expect(t, "x", supervise.Starting)
	rec.expect(t, "x", supervise.Running)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestAdd(t *testing.T) {
	first := newFake()
	h := startHarness(t, supervise.Options{}, supervise.Part{Name: "events", Critical: true, Run: first.run})
	h.rec.expect(t, "events", supervise.Running)

	// Added during Run: starts at once, and is supervised like the others.
	late := newFake()
	h.sup.Add(supervise.Part{Name: "late", Run: late.run})
	h.rec.expect(t, "late", supervise.Starting)
	h.rec.expect(t, "late", supervise.Running)
	late.exit(t, fail(errBoom))
	h.rec.expect(t, "late", supervise.Restarting)
	waitArmed(t, h.clock, 1)
	h.clock.Advance(time.Second)
	h.rec.expect(t, "late", supervise.Running)

	// Added while stopping: never runs.
	slowPart := newSlow()
	h.sup.Add(supervise.Part{Name: "slow", Run: slowPart.run})
	h.rec.expect(t, "slow", supervise.Starting)
	h.rec.expect(t, "slow", supervise.Running)
	h.cancel()
	<-slowPart.cancelled
	during := newFake()
	h.sup.Add(supervise.Part{Name: "during", Run: during.run})
	h.rec.expect(t, "during", supervise.Stopped)
	close(slowPart.release)
	if err := h.result(t); err != nil {
		t.Fatalf("Run = %v", err)
	}

	// Added after Run: never runs.
	after := newFake()
	h.sup.Add(supervise.Part{Name: "after", Run: after.run})
	h.rec.expect(t, "after", supervise.Stopped)
	if during.runs.Load()+after.runs.Load() != 0 {
		t.Error("a part added while or after stopping ran")
	}
	var names []string
	for _, st := range h.sup.States() {
		names = append(names, st.Name+"="+string(st.Status))
	}
	if want := []string{"events=stopped", "late=stopped", "slow=stopped", "during=stopped", "after=stopped"}; !slices.Equal(names, want) {
		t.Errorf("States = %v, want %v", names, want)
	}
}

func TestAddPanics(t *testing.T) {
	run := func(context.Context) error { return nil }
	tests := []struct {
		name string
		part supervise.Part
		want string
	}{
		{"duplicate name", supervise.Part{Name: "camera", Run: run}, "supervise: Add camera: duplicate part name"},
		{"no name", supervise.Part{Run: run}, "supervise: Add: part without a name"},
		{"no Run", supervise.Part{Name: "chime"}, "supervise: Add chime: nil Run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sup := supervise.New(supervise.Options{})
			sup.Add(supervise.Part{Name: "camera", Run: run})
			defer func() {
				if r := recover(); r != tc.want {
					t.Errorf("panic %v, want %q", r, tc.want)
				}
				if got := len(sup.States()); got != 1 {
					t.Errorf("%d parts after a bad Add, want 1", got)
				}
			}()
			sup.Add(tc.part)
		})
	}
}

func TestRunTwicePanics(t *testing.T) {
	sup := supervise.New(supervise.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sup.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	defer func() {
		if r := recover(); r != "supervise: Run called twice" {
			t.Errorf("panic %v, want Run called twice", r)
		}
	}()
	_ = sup.Run(ctx)
}

func TestStates(t *testing.T) {
	a, b, c := newFake(), newFake(), newFake()
	h := newHarness(t, supervise.Options{},
		supervise.Part{Name: "events", Critical: true, Run: a.run},
		supervise.Part{Name: "camera", Run: b.run},
		supervise.Part{Name: "watchdog", Run: c.run})
	added := h.clock.Now()
	want := []supervise.State{
		{Name: "events", Status: supervise.Starting, Critical: true, Since: added},
		{Name: "camera", Status: supervise.Starting, Since: added},
		{Name: "watchdog", Status: supervise.Starting, Since: added},
	}
	if got := h.sup.States(); !slices.Equal(got, want) {
		t.Fatalf("States before Run = %+v, want %+v", got, want)
	}

	h.start(t)
	for _, n := range []string{"events", "camera", "watchdog"} {
		h.rec.expect(t, n, supervise.Running)
	}
	h.clock.Advance(time.Minute)
	b.exit(t, fail(errors.New("capture: open /dev/video0: no such device")))
	h.rec.expect(t, "camera", supervise.Restarting)
	c.exit(t, fail(nil))
	h.rec.expect(t, "watchdog", supervise.Stopped)
	now := h.clock.Now()
	want = []supervise.State{
		{Name: "events", Status: supervise.Running, Critical: true, Since: added},
		{Name: "camera", Status: supervise.Restarting, LastError: "capture: open /dev/video0: no such device", Restarts: 1, Since: now},
		{Name: "watchdog", Status: supervise.Stopped, Since: now},
	}
	got := h.sup.States()
	if !slices.Equal(got, want) {
		t.Fatalf("States = %+v, want %+v", got, want)
	}
	got[1].Status = supervise.Failed // a snapshot: the supervisor's copy is untouched
	if st := state(t, h.sup, "camera"); st.Status != supervise.Restarting {
		t.Errorf("changing the snapshot changed the state: %s", st.Status)
	}
	if h.sup.Healthy() {
		t.Error("Healthy with a part restarting")
	}
	if d := h.sup.Degraded(); len(d) != 1 || d[0] != want[1] {
		t.Errorf("Degraded = %+v, want the camera", d)
	}

	waitArmed(t, h.clock, 1)
	h.clock.Advance(time.Second)
	h.rec.expect(t, "camera", supervise.Running)
	if !h.sup.Healthy() || h.sup.Degraded() != nil {
		t.Errorf("Healthy = %v, Degraded = %+v with all running or done", h.sup.Healthy(), h.sup.Degraded())
	}
}

func TestStateJSON(t *testing.T) {
	tests := []struct {
		st   supervise.State
		want string
	}{
		{
			supervise.State{Name: "camera", Status: supervise.Restarting, LastError: "no device", Restarts: 2,
				Since: time.Date(2026, 11, 26, 19, 38, 19, 0, time.UTC)},
			`{"name":"camera","status":"restarting","critical":false,"last_error":"no device","restarts":2,"since":"2026-11-26T19:38:19Z"}`,
		},
		{
			supervise.State{Name: "events", Status: supervise.Running, Critical: true, Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			`{"name":"events","status":"running","critical":true,"restarts":0,"since":"2026-01-02T03:04:05Z"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.st.Name, func(t *testing.T) {
			b, err := json.Marshal(tc.st)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("JSON\n%s\nwant\n%s", b, tc.want)
			}
		})
	}
}

// TestOnChangeMayCallBack: OnChange is called without locks, so it may
// read the states and even add a part.
func TestOnChangeMayCallBack(t *testing.T) {
	rec := newRecorder()
	var sup *supervise.Supervisor
	seen := make(chan []supervise.State, 16)
	sup = supervise.New(supervise.Options{
		Logger: slog.New(slog.DiscardHandler),
		OnChange: func(st supervise.State) {
			rec.record(st)
			seen <- sup.States()
			if st.Name == "events" && st.Status == supervise.Running {
				sup.Add(supervise.Part{Name: "helper", Run: func(context.Context) error { return nil }})
			}
		},
	})
	sup.Add(supervise.Part{Name: "events", Run: func(ctx context.Context) error { <-ctx.Done(); return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	rec.expect(t, "events", supervise.Starting)
	rec.expect(t, "events", supervise.Running)
	rec.expect(t, "helper", supervise.Starting)
	rec.expect(t, "helper", supervise.Running)
	rec.expect(t, "helper", supervise.Stopped)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(<-seen); got != 1 {
		t.Errorf("first OnChange saw %d parts, want 1", got)
	}
}
