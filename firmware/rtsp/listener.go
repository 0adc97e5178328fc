package rtsp

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// errTunnel ends a connection that starts like HTTP: gortsplib would
// serve RTSP-over-HTTP and WebSocket tunnels (with an unbounded HTTP
// header read and any Origin accepted); the doorbell needs neither.
var errTunnel = errors.New("rtsp: HTTP and WebSocket tunnels are not served")

// listener is what gortsplib accepts from. It holds at most maxConns
// connections open and closes one more as soon as it is accepted (the
// client learns at once that the doorbell is busy; counted), gives each
// connection readTimeout to send its first bytes (gortsplib sets no
// deadline before its first read), wraps it in TLS when configured, and
// retries temporary Accept errors instead of returning them, since
// gortsplib stops serving on any Accept error.
type listener struct {
	net.Listener
	s           *Server
	maxConns    int
	readTimeout time.Duration
	tlsConfig   *tls.Config

	mu   sync.Mutex
	open int

	refused atomic.Uint64
	tunnels atomic.Uint64
}

func (l *listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if isTemporary(err) {
				// EMFILE and friends: back off like net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return nil, err
		}
		delay = 0
		l.mu.Lock()
		if l.open >= l.maxConns {
			l.mu.Unlock()
			n := l.refused.Add(1)
			remote := c.RemoteAddr().String()
			c.Close()
			l.s.warnLimited("conns", "rtsp: connection refused: too many open", "remote", remote, "max_conns", l.maxConns, "refused_total", n)
			continue
		}
		l.open++
		l.mu.Unlock()
		_ = c.SetReadDeadline(time.Now().Add(l.readTimeout))
		lc := &limitConn{Conn: c, l: l}
		var nc net.Conn = lc
		if l.tlsConfig != nil {
			nc = tls.Server(lc, l.tlsConfig)
		}
		return &guardConn{Conn: nc, l: l}, nil
	}
}

// isTemporary reports whether an Accept error is worth retrying (too many
// open files, a connection reset before it was accepted). The deprecated
// Temporary method is still what such errors carry.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (l *listener) openConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func (l *listener) release() {
	l.mu.Lock()
	l.open--
	l.mu.Unlock()
}

// limitConn gives its slot back on the first Close.
type limitConn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.release)
	return err
}

// guardConn refuses connections that open with an HTTP request.
type guardConn struct {
	net.Conn
	l       *listener
	checked bool
	head    []byte // first bytes read while checking, not yet returned
	err     error
}

func (c *guardConn) Read(p []byte) (int, error) {
	if !c.checked {
		c.checked = true
		var h [4]byte
		n, err := io.ReadFull(c.Conn, h[:])
		c.head = h[:n]
		if err != nil {
			c.err = err
		} else if bytes.Equal(h[:], []byte("GET ")) || bytes.Equal(h[:], []byte("POST")) {
			c.l.tunnels.Add(1)
			c.l.s.warnLimited("tunnel", "rtsp: connection refused: HTTP tunnel not served", "remote", c.RemoteAddr().String())
			c.head, c.err = nil, errTunnel
		}
	}
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}
