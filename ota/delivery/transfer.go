package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// ErrTransfer: a chunked transfer stopped (idle too long, aborted by the
// pusher, canceled).
var ErrTransfer = errors.New("transfer stopped")

// transfer reassembles one chunked bundle into an io.Reader for the
// installer. Chunks come from the MQTT handler (put), in any order, maybe
// twice; Read hands them out in order. It keeps at most window chunks.
type transfer struct {
	id     string
	size   int64
	chunk  int
	window int
	idle   time.Duration
	clock  clockwork.Clock
	ctx    context.Context
	ack    func(next int64) // called after each chunk is consumed, and on duplicates
	last   time.Time        // Read's: when it began, or last took a chunk

	ackMu sync.Mutex // serializes acks, so they never go back

	mu   sync.Mutex
	buf  map[int64][]byte // received chunks at offsets >= took
	cur  []byte           // rest of the chunk being read
	took int64            // offset after the chunk in cur: the next chunk to take
	err  error            // set by abort
	wake chan struct{}    // cap 1: something arrived
}

func newTransfer(ctx context.Context, id string, size int64, chunk, window int, idle time.Duration, clock clockwork.Clock, ack func(int64)) *transfer {
	return &transfer{id: id, size: size, chunk: chunk, window: window, idle: idle, clock: clock, ctx: ctx, ack: ack,
		buf: map[int64][]byte{}, wake: make(chan struct{}, 1)}
}

// sendAck acks what has been taken so far. put (a resend) and Read (a
// chunk consumed) ack from different goroutines; reading took under
// ackMu keeps the acks in order.
func (t *transfer) sendAck() {
	t.ackMu.Lock()
	defer t.ackMu.Unlock()
	t.mu.Lock()
	took := t.took
	t.mu.Unlock()
	t.ack(took)
}

// put stores a chunk; it reports why one is not taken (for the log).
func (t *transfer) put(off int64, data []byte) error {
	n := int64(len(data))
	switch {
	case off%int64(t.chunk) != 0:
		return fmt.Errorf("offset %d is not a multiple of the chunk size %d", off, t.chunk)
	case off >= t.size || n == 0 || n > int64(t.chunk) || (n < int64(t.chunk) && off+n != t.size) || off+n > t.size:
		return fmt.Errorf("chunk of %d bytes at %d does not fit a %d byte bundle in %d byte chunks", n, off, t.size, t.chunk)
	}
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return nil
	}
	if off < t.took {
		t.mu.Unlock()
		t.sendAck() // a resend: tell the pusher where we are
		return nil
	}
	if took := t.took; off >= took+int64(t.window*t.chunk) {
		t.mu.Unlock()
		return fmt.Errorf("chunk at %d is beyond the window (next %d, %d chunks)", off, took, t.window)
	}
	if _, dup := t.buf[off]; !dup {
		t.buf[off] = append([]byte(nil), data...)
	}
	t.mu.Unlock()
	t.signal()
	return nil
}

func (t *transfer) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// abort stops the transfer; Read returns err.
func (t *transfer) abort(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
	t.signal()
}

// Read hands out the bundle in order. It waits for the next chunk up to
// the idle timeout, counted from the first Read or the last chunk taken.
func (t *transfer) Read(p []byte) (int, error) {
	for {
		t.mu.Lock()
		if t.err != nil {
			err := t.err
			t.mu.Unlock()
			return 0, err
		}
		if len(t.cur) > 0 {
			n := copy(p, t.cur)
			t.cur = t.cur[n:]
			done := len(t.cur) == 0
			t.mu.Unlock()
			if done {
				t.sendAck()
			}
			return n, nil
		}
		if t.took >= t.size {
			t.mu.Unlock()
			return 0, io.EOF
		}
		if c, ok := t.buf[t.took]; ok {
			delete(t.buf, t.took)
			t.cur = c
			t.took += int64(len(c))
			t.mu.Unlock()
			t.last = t.clock.Now()
			continue
		}
		t.mu.Unlock()
		// Idle is the time without the next chunk: chunks ahead of it,
		// or again, do not count (a sender repeating one would hold the
		// transfer open for ever).
		if t.last.IsZero() {
			t.last = t.clock.Now()
		}
		wait := t.idle - t.clock.Since(t.last)
		if wait <= 0 {
			t.abort(fmt.Errorf("transfer %s: no chunk at %d for %v: %w", t.id, t.next(), t.idle, ErrTransfer))
			continue
		}
		timer := t.clock.NewTimer(wait)
		select {
		case <-t.wake:
			timer.Stop()
		case <-t.ctx.Done():
			timer.Stop()
			t.abort(fmt.Errorf("transfer %s: %v: %w", t.id, t.ctx.Err(), ErrTransfer))
		case <-timer.Chan():
		}
	}
}

func (t *transfer) next() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.took - int64(len(t.cur))
}

// Close frees the buffered chunks.
func (t *transfer) Close() error {
	t.abort(fmt.Errorf("transfer %s: closed: %w", t.id, ErrTransfer))
	t.mu.Lock()
	t.buf, t.cur = nil, nil
	t.mu.Unlock()
	return nil
}

var _ io.ReadCloser = (*transfer)(nil)
