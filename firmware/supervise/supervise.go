package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Part is one long-lived piece of the daemon: the event loop, the camera,
// the outbox sender, the web server.
type Part struct {
	// Name identifies the part in logs, States and errors. It must be
	// unique within a Supervisor and not empty.
	Name string
	// Critical parts are ones the daemon cannot go on without: when a
	// critical part fails, every part is stopped and Run returns its error.
	// Any other part is restarted after a backoff.
	Critical bool
	// Run does the part's work until ctx is done, then returns. Returning
	// nil before ctx is done means the part has nothing (more) to do: it is
	// not restarted. Returning an error or panicking before ctx is done is
	// a failure. Whatever Run returns once ctx is done is not a failure.
	Run func(ctx context.Context) error
}

// Status is where a part is in its life; see the package doc for the
// transitions.
type Status string

// The statuses of a part.
const (
	Starting   Status = "starting"   // added, its goroutine not yet running it
	Running    Status = "running"    // its Run is executing
	Restarting Status = "restarting" // it failed and waits out its backoff
	Stopped    Status = "stopped"    // it returned nil, or the supervisor stopped it
	Failed     Status = "failed"     // a critical part that failed: everything stops
)

// State is a snapshot of one part, as States, Degraded and OnChange report
// it, ready for the health JSON.
type State struct {
	Name      string `json:"name"`
	Status    Status `json:"status"`
	Critical  bool   `json:"critical"`
	LastError string `json:"last_error,omitempty"` // the part's most recent failure, kept after it recovers
	// Restarts counts the failures that scheduled a restart: it goes up
	// when the part enters Restarting.
	Restarts int       `json:"restarts"`
	Since    time.Time `json:"since"` // when Status last changed, on Options.Clock
}

// Options configure a Supervisor. The zero value is usable.
type Options struct {
	Logger *slog.Logger    // default slog.Default()
	Clock  clockwork.Clock // default: the real clock
	// MinBackoff is the wait before the first restart of a failed part.
	// Default 1s.
	MinBackoff time.Duration
	// MaxBackoff caps the wait, which doubles with each failure in a row.
	// Default 1m; raised to MinBackoff if below it.
	MaxBackoff time.Duration
	// StableAfter is how long a part must have run before it failed for
	// its backoff to start again from MinBackoff. Default 1m.
	StableAfter time.Duration
	// OnChange, if set, is called with the new state on every status change
	// (e.g. to republish health), with no lock held: it may call States,
	// Degraded, Healthy, Add and Stop. A part's changes arrive in order,
	// from the goroutine that calls Add or the part's own goroutine; changes
	// of different parts may arrive concurrently. It delays only the part
	// whose change it reports, but should still be quick.
	OnChange func(State)
}

func (o *Options) ensureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.StableAfter <= 0 {
		o.StableAfter = time.Minute
	}
}

// Supervisor runs parts, each on its own goroutine, restarts the
// non-critical ones when they fail, and stops all of them when its context
// is done, a critical part fails or Stop is called. Its methods are safe
// for concurrent use.
type Supervisor struct {
	opts Options
	wg   sync.WaitGroup // one per part goroutine

	mu      sync.Mutex
	parts   []*part // in Add order
	names   map[string]bool
	started bool                    // Run was called
	ctx     context.Context         // the parts' context, once Run started
	cancel  context.CancelCauseFunc // cancels ctx, once Run started
	closed  bool                    // stopping began: Add starts no more parts
	pending *stopCause              // Stop before Run
}

type part struct {
	Part
	added chan struct{} // closed once Add reported the part: its other changes come after
	st    State         // guarded by Supervisor.mu
}

// stopCause is the cause the parts' context is cancelled with by Stop or a
// critical failure; a parent's cancellation has some other cause.
type stopCause struct {
	owner *Supervisor
	err   error // what Run returns; nil after Stop(nil)
}

func (c *stopCause) Error() string {
	if c.err == nil {
		return "supervise: stopped"
	}
	return "supervise: stopped: " + c.err.Error()
}

func (c *stopCause) Unwrap() error { return c.err }

// panicError is a recovered panic, which counts as the part's error.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// Unwrap returns the panic value if it is an error, so that errors.Is sees
// through a panic(err).
func (e *panicError) Unwrap() error {
	err, _ := e.value.(error)
	return err
}

// New returns a Supervisor with opts' defaults filled in. It starts
// nothing: Add the parts, then call Run.
func New(opts Options) *Supervisor {
	opts.ensureDefaults()
	return &Supervisor{opts: opts, names: make(map[string]bool)}
}

// Add registers p. Before Run, p starts with Run; while Run runs, p starts
// at once; once Run is stopping or has returned, p is recorded as Stopped
// and never runs. Add panics if p.Name is empty or already added, or
// p.Run is nil: parts are fixed by the program, so these are bugs.
func (s *Supervisor) Add(p Part) {
	if p.Name == "" {
		panic("supervise: Add: part without a name")
	}
	if p.Run == nil {
		panic(fmt.Sprintf("supervise: Add %s: nil Run", p.Name))
	}
	s.mu.Lock()
	if s.names[p.Name] {
		s.mu.Unlock()
		panic(fmt.Sprintf("supervise: Add %s: duplicate part name", p.Name))
	}
	s.names[p.Name] = true
	pt := &part{Part: p, added: make(chan struct{}),
		st: State{Name: p.Name, Status: Starting, Critical: p.Critical, Since: s.opts.Clock.Now()}}
	s.parts = append(s.parts, pt)
	run := s.started && !s.closed && s.ctx.Err() == nil
	if run {
		s.wg.Add(1) // under mu, so before Run's Wait (Run sets closed under mu first)
	} else if s.started {
		pt.st.Status = Stopped // stopping or stopped: it will never run
	}
	st, ctx := pt.st, s.ctx
	s.mu.Unlock()
	s.notify(st)
	close(pt.added) // a concurrent Run may have started the part already
	if run {
		go s.supervise(ctx, pt)
	}
}

// Run starts every part added so far, each on its own goroutine, and the
// ones added later at once. It returns when ctx is done, a critical part
// failed or Stop was called, and every part has returned. It returns nil
// when ctx ended it, the critical part's error as
// "supervise: <name>: <err>", or Stop's cause: whichever came first.
// Run may be called once; a second call panics.
func (s *Supervisor) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		panic("supervise: Run called twice")
	}
	s.started = true
	s.ctx, s.cancel = ctx, cancel
	if s.pending != nil {
		cancel(s.pending)
	}
	parts := slices.Clone(s.parts)
	s.wg.Add(len(parts))
	s.mu.Unlock()
	for _, p := range parts {
		go s.supervise(ctx, p)
	}

	<-ctx.Done()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	if c, ok := context.Cause(ctx).(*stopCause); ok && c.owner == s {
		return c.err
	}
	return nil
}

// Stop stops every part early, as if Run's context were done, and makes
// Run return cause (nil: nil) once they all returned, unless Run is
// already stopping for another reason, which then wins. Stop before Run
// makes Run start nothing and return at once; after Run it does nothing.
// It does not wait: Run's return is the end. The daemon's restart command
// is Stop(daemon.ErrRestart).
func (s *Supervisor) Stop(cause error) {
	c := &stopCause{owner: s, err: cause}
	s.mu.Lock()
	cancel := s.cancel
	if !s.started && s.pending == nil {
		s.pending = c
	}
	s.mu.Unlock()
	if cancel != nil {
		cancel(c)
	}
}

// States returns a snapshot of every part, in Add order.
func (s *Supervisor) States() []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]State, len(s.parts))
	for i, p := range s.parts {
		out[i] = p.st
	}
	return out
}

// Degraded returns the parts that are not doing their work because they
// failed, Restarting or Failed, in Add order; nil when there are none. A
// part that returned nil (Stopped) is not degraded: it had nothing to do.
func (s *Supervisor) Degraded() []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []State
	for _, p := range s.parts {
		if p.st.Status == Restarting || p.st.Status == Failed {
			out = append(out, p.st)
		}
	}
	return out
}

// Healthy reports whether no part is Restarting or Failed.
func (s *Supervisor) Healthy() bool { return len(s.Degraded()) == 0 }

// supervise runs p until it returns nil, a critical failure, or ctx is
// done, restarting it after each failure with a backoff.
func (s *Supervisor) supervise(ctx context.Context, p *part) {
	defer s.wg.Done()
	<-p.added
	var backoff time.Duration
	for {
		if ctx.Err() != nil {
			s.set(p, Stopped, nil, s.opts.Clock.Now())
			return
		}
		began := s.opts.Clock.Now()
		s.set(p, Running, nil, began)
		err := call(ctx, p.Run)
		switch {
		case ctx.Err() != nil:
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
				!errors.Is(err, context.Cause(ctx)) {
				s.logFailure(slog.LevelWarn, "supervise: part failed while stopping", p, err)
			} else {
				err = nil
			}
			s.set(p, Stopped, err, s.opts.Clock.Now())
			return
		case err == nil:
			s.opts.Logger.Info("supervise: part finished, not restarting", "part", p.Name)
			s.set(p, Stopped, nil, s.opts.Clock.Now())
			return
		case p.Critical:
			s.logFailure(slog.LevelError, "supervise: critical part failed, stopping everything", p, err)
			s.set(p, Failed, err, s.opts.Clock.Now())
			s.Stop(fmt.Errorf("supervise: %s: %w", p.Name, err))
			return
		}
		if s.opts.Clock.Since(began) >= s.opts.StableAfter {
			backoff = 0
		}
		backoff = s.next(backoff)
		s.logFailure(slog.LevelError, "supervise: part failed, restarting", p, err, "backoff", backoff)
		s.set(p, Restarting, err, s.opts.Clock.Now())
		if !s.wait(ctx, backoff) {
			s.set(p, Stopped, nil, s.opts.Clock.Now())
			return
		}
	}
}

// call runs run, turning a panic into a *panicError.
func call(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return run(ctx)
}

// next returns the backoff after prev: MinBackoff first, then doubling up
// to MaxBackoff.
func (s *Supervisor) next(prev time.Duration) time.Duration {
	switch {
	case prev <= 0:
		return s.opts.MinBackoff
	case prev > s.opts.MaxBackoff/2:
		return s.opts.MaxBackoff
	}
	return 2 * prev
}

// wait waits d on the clock; false if ctx was done first.
func (s *Supervisor) wait(ctx context.Context, d time.Duration) bool {
	t := s.opts.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.Chan():
		return true
	}
}

func (s *Supervisor) logFailure(level slog.Level, msg string, p *part, err error, args ...any) {
	args = append([]any{"part", p.Name, "err", err}, args...)
	if pe, ok := errors.AsType[*panicError](err); ok {
		args = append(args, "stack", string(pe.stack))
	}
	s.opts.Logger.Log(context.Background(), level, msg, args...)
}

// set moves p to status st at time at; err, if not nil, becomes its
// LastError. Entering Restarting counts a restart.
func (s *Supervisor) set(p *part, st Status, err error, at time.Time) {
	s.mu.Lock()
	p.st.Status, p.st.Since = st, at
	if err != nil {
		p.st.LastError = err.Error()
	}
	if st == Restarting {
		p.st.Restarts++
	}
	snap := p.st
	s.mu.Unlock()
	s.notify(snap)
}

func (s *Supervisor) notify(st State) {
	if s.opts.OnChange != nil {
		s.opts.OnChange(st)
	}
}
