package web

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/doorbelld/doorbelld/firmware/ratelog"
	"github.com/jonboulle/clockwork"
)

// limitListener holds at most maxConns connections open. Unlike
// golang.org/x/net/netutil.LimitListener, which stops calling Accept at
// the cap and so leaves the next clients connected but unanswered in the
// kernel's backlog until a slot frees (up to IdleTimeout away), it goes
// on accepting and closes each connection over the cap at once: the
// client learns straight away that the doorbell is busy (a 503 on plain
// HTTP, from at most refusers connections at once; a close under TLS),
// the backlog stays empty, and every refusal is counted and
// (rate-limited) logged.
type limitListener struct {
	net.Listener
	maxConns int
	refused  atomic.Uint64
	log      *rateLog
	answer   bool          // answer 503 over the cap (plain HTTP; not under TLS)
	refusing chan struct{} // semaphore of refuse's goroutines

	mu      sync.Mutex
	open    int
	changed chan struct{} // closed and replaced whenever open changes
}

func newLimitListener(ln net.Listener, maxConns int, log *rateLog, answer bool) *limitListener {
	return &limitListener{Listener: ln, maxConns: maxConns, log: log, answer: answer,
		refusing: make(chan struct{}, refusers), changed: make(chan struct{})}
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
		l.refuse(c)
		l.log.log("remote", remote, "max_conns", l.maxConns, "refused_total", n)
	}
}

// busy is the answer to a connection over the cap, on plain HTTP: a
// client learns why instead of seeing its connection reset.
const busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Retry-After: 1\r\nConnection: close\r\nContent-Length: 54\r\n\r\n" +
	"too many connections to the doorbell: try again later\n"

// refusers bounds the connections being answered 503 at once; past it, a
// connection over the cap is closed without an answer.
const refusers = 16

// refuse answers c 503 (plain HTTP only) and closes it, on a goroutine of
// its own, within about a second: it reads what the client sent first
// (waiting 200ms at most), so that
// closing does not reset the connection before the client reads the
// answer.
func (l *limitListener) refuse(c net.Conn) {
	if !l.answer {
		c.Close()
		return
	}
	select {
	case l.refusing <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		var buf [4096]byte
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, _ = c.Read(buf[:]) // the request header, or what came of it
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte(busy))
		if tc, ok := c.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
			_, _ = c.Read(buf[:]) // until the client closes, or the deadline
		}
	}()
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
