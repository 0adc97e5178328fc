package broker

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// errSlowClient is why a client that does not read was dropped: its
// connection's Read returns it, so mochi's OnDisconnect sees it.
var errSlowClient = errors.New("broker: client not reading: dropped")

// listener is mochi's TCP listener with every connection wrapped in a
// conn: writes never block mochi, a client that stops reading is dropped.
type listener struct {
	b       *Broker
	address string
	ln      net.Listener
	end     atomic.Bool

	mu    sync.Mutex
	conns map[*conn]struct{}
	wg    sync.WaitGroup // writer goroutines and Serve
}

var (
	_ listeners.Listener = (*listener)(nil)
	_ net.Conn           = (*conn)(nil)
)

func newListener(b *Broker) *listener {
	return &listener{b: b, address: b.opts.Listen, conns: map[*conn]struct{}{}}
}

func (l *listener) ID() string       { return "tcp" }
func (l *listener) Protocol() string { return "tcp" }

// Address is the bound address once Init has succeeded.
func (l *listener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

// Init binds the address.
func (l *listener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.ln = ln
	l.wg.Add(1) // for Serve, which mochi starts next
	return nil
}

// Serve accepts connections until Close, each served by establish (mochi's
// EstablishConnection) on its own goroutine. It counts and logs, at most
// once a minute per address, the clients dropped as slow and those that
// sent too big a packet.
func (l *listener) Serve(establish listeners.EstablishFn) {
	defer l.wg.Done() // added by Init
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			return
		}
		if l.end.Load() {
			_ = nc.Close()
			continue
		}
		c := l.wrap(nc)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			err := establish(l.ID(), c)
			remote := c.RemoteAddr().String()
			switch {
			case errors.Is(err, errSlowClient):
				l.b.warn.log(remoteHost(remote), "slow", "mqtt client dropped: it does not read what it subscribed to",
					"remote", remote, "write_timeout", l.b.opts.WriteTimeout, "write_buffer", l.b.opts.WriteBuffer)
			case errors.Is(err, packets.ErrPacketTooLarge):
				l.b.stats.bump(&l.b.stats.oversize)
				l.b.warn.log(remoteHost(remote), "oversize", "mqtt client disconnected: packet too large",
					"remote", remote, "max_packet_size", l.b.opts.MaxPacketSize)
			}
		}()
	}
}

// Close stops accepting and has mochi disconnect the listener's clients.
func (l *listener) Close(closeClients listeners.CloseFn) {
	if l.end.CompareAndSwap(false, true) {
		closeClients(l.ID())
	}
	if l.ln != nil {
		_ = l.ln.Close()
	}
}

// wait closes the connections still open (mochi has closed those of its
// clients), gives them until deadline to flush what they still have, and
// returns once every one is closed and Serve has returned.
func (l *listener) wait(deadline time.Time) {
	l.mu.Lock()
	for c := range l.conns {
		c.flushUntil(deadline)
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *listener) wrap(nc net.Conn) *conn {
	c := &conn{Conn: nc, l: l, kick: make(chan struct{}, 1)}
	_ = nc.SetReadDeadline(time.Now().Add(l.b.opts.ConnectTimeout)) // mochi sets its keepalive deadline after CONNECT
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	go c.writeLoop()
	return c
}

// conn is a client connection whose Write only queues: mochi calls Write
// holding the client's lock, which every publisher to that client takes
// too (mochi clients.go WritePacket and NextPacketID), so a blocking write
// there stalls the whole broker. Its own goroutine writes the queue to the
// socket with a deadline. A client is dropped (the socket closed at once,
// Read returning errSlowClient) when its queue passes WriteBuffer or when
// it takes no byte for WriteTimeout.
type conn struct {
	net.Conn
	l    *listener
	kick chan struct{} // wakes writeLoop; never blocks the sender

	mu      sync.Mutex
	pending [][]byte // copies of what Write was given, not yet taken by writeLoop
	queued  int      // bytes in pending and in writeLoop's hands
	closing bool     // Close was called: flush, then close
	err     error    // dropped or failed: Write fails with it, Read too
	flushBy time.Time
}

// Write queues a copy of p, or drops the client when that would pass
// WriteBuffer. It never blocks on the network.
func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	switch {
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return 0, err
	case c.closing:
		c.mu.Unlock()
		return 0, net.ErrClosed
	case c.queued+len(p) > c.l.b.opts.WriteBuffer:
		c.mu.Unlock()
		c.drop(errSlowClient)
		return 0, errSlowClient
	}
	c.pending = append(c.pending, append([]byte(nil), p...))
	c.queued += len(p)
	c.mu.Unlock()
	c.wake()
	return len(p), nil
}

func (c *conn) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Read reads from the socket; once the connection is dropped or closed it
// says why.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.mu.Lock()
		switch {
		case c.err != nil:
			err = c.err
		case c.closing:
			err = net.ErrClosed
		}
		c.mu.Unlock()
	}
	return n, err
}

// SetDeadline sets the read deadline only (mochi's keepalive): the write
// deadline is writeLoop's.
func (c *conn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline is ignored once the connection is closing, so that mochi
// cannot re-arm a read Close has cut short.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.err != nil {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline is ignored: writeLoop owns the write deadline.
func (c *conn) SetWriteDeadline(time.Time) error { return nil }

// Close ends reading at once (mochi's reader returns) and has writeLoop
// flush what is queued (a refusal CONNACK, a DISCONNECT) within
// WriteTimeout, then close the socket.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	_ = c.Conn.SetReadDeadline(aLongTimeAgo)
	c.mu.Unlock()
	c.wake()
	return nil
}

var aLongTimeAgo = time.Unix(1, 0)

// drop closes the socket now, without flushing, and makes Read and Write
// fail with err. A slow client is counted.
func (c *conn) drop(err error) {
	c.mu.Lock()
	first := c.err == nil
	if first {
		c.err = err
		c.pending = nil
	}
	c.mu.Unlock()
	if !first {
		return
	}
	if errors.Is(err, errSlowClient) {
		c.l.b.stats.bump(&c.l.b.stats.slow)
	}
	_ = c.Conn.Close()
	c.wake()
}

// flushUntil cuts any write still going at deadline (the broker is closing).
func (c *conn) flushUntil(deadline time.Time) {
	c.mu.Lock()
	c.flushBy = deadline
	_ = c.Conn.SetWriteDeadline(deadline)
	c.mu.Unlock()
	c.wake()
}

// writeLoop writes what Write queued, as one writev per batch. A write
// that makes no progress for WriteTimeout drops the client; one that does
// gets the deadline again.
func (c *conn) writeLoop() {
	defer func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		c.l.wg.Done()
	}()
	for {
		c.mu.Lock()
		batch, err, closing := c.pending, c.err, c.closing
		c.pending = nil
		c.mu.Unlock()
		if err != nil {
			return // dropped: the socket is closed
		}
		if len(batch) == 0 {
			if closing {
				_ = c.Conn.Close()
				return
			}
			<-c.kick
			continue
		}
		n := 0
		for _, p := range batch {
			n += len(p)
		}
		if err := c.writeAll(batch); err != nil { // empties batch's slices
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.shuttingDown() {
				err = errSlowClient
			}
			c.drop(err)
			return
		}
		c.mu.Lock()
		c.queued -= n
		c.mu.Unlock()
	}
}

func (c *conn) shuttingDown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.flushBy.IsZero()
}

func (c *conn) writeAll(batch [][]byte) error {
	v := net.Buffers(batch)
	for len(v) > 0 {
		deadline := time.Now().Add(c.l.b.opts.WriteTimeout)
		c.mu.Lock() // with flushUntil: a shutdown deadline is never pushed back
		if fb := c.flushBy; !fb.IsZero() && fb.Before(deadline) {
			deadline = fb
		}
		err := c.Conn.SetWriteDeadline(deadline)
		c.mu.Unlock()
		if err != nil {
			return err
		}
		n, err := v.WriteTo(c.Conn)
		if err != nil && !(n > 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.shuttingDown()) {
			return err
		}
	}
	return nil
}
