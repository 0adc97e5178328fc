package web

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/doorbelld/doorbelld/firmware/ratelog"
	"github.com/jonboulle/clockwork"
)

// limitListener holds at most maxConns connections open. Unlike
// golang.org/x/net/netutil.LimitListener, which stops calling Accept at
// the cap and so leaves the next clients connected but unanswered in the
// kernel's backlog until a slot frees (up to IdleTimeout away), it goes
// on accepting and closes each connection over the cap at once: the
// client learns straight away that the doorbell is busy, the backlog
// stays empty, and every refusal is counted and (rate-limited) logged.
type limitListener struct {
	net.Listener
	maxConns int
	refused  atomic.Uint64
	log      *rateLog

	mu      sync.Mutex
	open    int
	changed chan struct{} // closed and replaced whenever open changes
}

func newLimitListener(ln net.Listener, maxConns int, log *rateLog) *limitListener {
	return &limitListener{Listener: ln, maxConns: maxConns, log: log, changed: make(chan struct{})}
}

// Accept returns the next connection while fewer than maxConns are open, and
// closes the others as they come.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.open < l.maxConns {
			l.open++
			l.signal()
			l.mu.Unlock()
			return &limitConn{Conn: c, l: l}, nil
		}
		l.mu.Unlock()
		n := l.refused.Add(1)
		remote := c.RemoteAddr().String()
		c.Close()
		l.log.log("remote", remote, "max_conns", l.maxConns, "refused_total", n)
	}
}

// state is the number of open connections and a channel closed when it
// next changes.
func (l *limitListener) state() (int, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.changed
}

func (l *limitListener) release() {
	l.mu.Lock()
	l.open--
	l.signal()
	l.mu.Unlock()
}

// signal wakes the waiters of state. Called with mu held.
func (l *limitListener) signal() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// limitConn gives its slot back on the first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.release)
	return err
}

// rateLog logs one kind of refusal at most once per logEvery, with the
// number it left out since the line before (firmware/ratelog, one key);
// the counters in Stats have every one. A flood from outside costs one
// line a minute.
type rateLog struct {
	logger *slog.Logger
	clock  clockwork.Clock
	msg    string
	keys   *ratelog.Keys
}

func newRateLog(opts Options, msg string) *rateLog {
	return &rateLog{logger: opts.Logger, clock: opts.Clock, msg: msg, keys: ratelog.New(logEvery, 1)}
}

func (l *rateLog) log(attrs ...any) {
	v := l.keys.Allow(l.clock.Now(), l.msg)
	if !v.OK {
		return
	}
	if v.Suppressed > 0 {
		attrs = append(attrs, "suppressed", v.Suppressed)
	}
	l.logger.Warn(l.msg, attrs...)
}
