package supervise_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/supervise"
)

// next lists the statuses a part may move to from each status.
var next = map[supervise.Status][]supervise.Status{
	supervise.Starting:   {supervise.Running, supervise.Stopped},
	supervise.Running:    {supervise.Restarting, supervise.Stopped, supervise.Failed},
	supervise.Restarting: {supervise.Running, supervise.Stopped},
}

// stress runs n parts that fail, panic, finish or run for a while at
// random (from seed), half of them added during Run, while the clock moves
// on and the states are read concurrently; then it stops everything and
// checks every part's history against the state machine.
func stress(t *testing.T, seed uint64, n int) (restarts int) {
	clock := clockwork.NewFakeClock()
	var (
		mu        sync.Mutex
		history   = make(map[string][]supervise.State)
		failures  atomic.Int32 // changes to restarting
		finished  atomic.Int32 // changes to stopped before cancel
		cancelled atomic.Bool
	)
	sup := supervise.New(supervise.Options{
		Logger: slog.New(slog.DiscardHandler), Clock: clock,
		MinBackoff: time.Second, MaxBackoff: 8 * time.Second, StableAfter: 4 * time.Second,
		OnChange: func(st supervise.State) {
			mu.Lock()
			history[st.Name] = append(history[st.Name], st)
			mu.Unlock()
			switch {
			case st.Status == supervise.Restarting:
				failures.Add(1)
			case st.Status == supervise.Stopped && !cancelled.Load():
				finished.Add(1)
			}
		},
	})

	runs := make([]atomic.Int32, n)
	part := func(i int) supervise.Part {
		rng := rand.New(rand.NewPCG(seed, uint64(i))) // used by one run at a time
		return supervise.Part{Name: fmt.Sprintf("part%d", i), Run: func(ctx context.Context) error {
			runs[i].Add(1)
			switch rng.IntN(10) {
			case 0, 1, 2:
				return errBoom
			case 3:
				panic("kaboom")
			case 4:
				return nil
			}
			// Run a while, then fail; or until stopped.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-clock.After(time.Duration(1+rng.IntN(8)) * time.Second):
				return errBoom
			}
		}}
	}
	for i := 0; i < n/2; i++ {
		sup.Add(part(i))
	}
	// A critical part that never fails: its presence changes nothing.
	sup.Add(supervise.Part{Name: "events", Critical: true, Run: func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()

	var readers sync.WaitGroup
	readers.Go(func() {
		for ctx.Err() == nil {
			_ = sup.States()
			_ = sup.Healthy()
			_ = sup.Degraded()
			runtime.Gosched()
		}
	})
	for i := n / 2; i < n; i++ {
		sup.Add(part(i))
		clock.Advance(time.Second)
		runtime.Gosched()
	}
	// Let them churn: until there were as many failures as parts, or every
	// part is done (returned nil), so that the test never depends on how
	// fast the goroutines run.
	deadline := time.Now().Add(guard)
	for int(failures.Load()) < n && int(finished.Load()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no progress within %v: %d failures, %d done", guard, failures.Load(), finished.Load())
		}
		clock.Advance(time.Second)
		runtime.Gosched()
	}
	cancelled.Store(true)
	cancel()
	readers.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(guard):
		t.Fatalf("Run did not return within %v", guard)
	}

	final := sup.States()
	if len(final) != n+1 {
		t.Fatalf("%d states, want %d", len(final), n+1)
	}
	if !sup.Healthy() {
		t.Errorf("unhealthy after stopping: %+v", sup.Degraded())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, st := range final {
		h := history[st.Name]
		if len(h) == 0 || h[0].Status != supervise.Starting {
			t.Fatalf("%s: history %+v does not begin with starting", st.Name, h)
		}
		if last := h[len(h)-1]; last != st || st.Status != supervise.Stopped {
			t.Errorf("%s: final state %+v, last change %+v, want the same, stopped", st.Name, st, last)
		}
		running := 0
		for j := 1; j < len(h); j++ {
			prev, cur := h[j-1], h[j]
			if !slices.Contains(next[prev.Status], cur.Status) {
				t.Errorf("%s: %s → %s", st.Name, prev.Status, cur.Status)
			}
			if want := prev.Restarts + boolInt(cur.Status == supervise.Restarting); cur.Restarts != want {
				t.Errorf("%s: restarts %d → %d on %s", st.Name, prev.Restarts, cur.Restarts, cur.Status)
			}
			if cur.Since.Before(prev.Since) {
				t.Errorf("%s: since went back from %v to %v", st.Name, prev.Since, cur.Since)
			}
			if cur.Status == supervise.Restarting && cur.LastError != "boom" && cur.LastError != "panic: kaboom" {
				t.Errorf("%s: restarting with last error %q", st.Name, cur.LastError)
			}
			running += boolInt(cur.Status == supervise.Running)
		}
		restarts += st.Restarts
		if st.Name == "events" {
			continue
		}
		if ran := int(runs[partIndex(t, st.Name)].Load()); ran != running {
			t.Errorf("%s: ran %d times, reported running %d times", st.Name, ran, running)
		}
	}
	return restarts
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func partIndex(t *testing.T, name string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(name, "part%d", &i); err != nil {
		t.Fatalf("part name %q: %v", name, err)
	}
	return i
}

func TestStress(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			// 40 parts that each fail on their first run with a chance of
			// 4 in 10: some restart, or the test tests little.
			restarts := stress(t, seed, 40)
			t.Logf("%d restarts", restarts)
			if restarts == 0 {
				t.Error("no part restarted")
			}
		})
	}
}

// FuzzSupervise runs the stress test with fuzzed seeds and part counts:
// go test -fuzz=FuzzSupervise ./firmware/supervise/
func FuzzSupervise(f *testing.F) {
	f.Add(uint64(1), uint8(1))
	f.Add(uint64(7), uint8(16))
	f.Add(uint64(42), uint8(63))
	f.Add(uint64(103), uint8(2)) // found the Add/Run report order race
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		stress(t, seed, 1+int(n%64))
	})
}
