package delivery

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/ota"
)

// Errors that end a job early.
var (
	// ErrStalled: the job's source delivered too little for
	// Options.StallTimeout.
	ErrStalled = errors.New("update stalled")
	// ErrPreempted: a newer offer took over a job that had stopped making
	// progress (see the package doc).
	ErrPreempted = errors.New("update preempted by a newer offer")
)

// progressBytes is the data a job's source must deliver to count as
// progress for StallTimeout and PreemptAfter: a source that trickles a
// byte now and then stalls all the same. (At StallTimeout's default of
// 30s, about 550 bytes a second.)
const progressBytes = 16 << 10

// job is one accepted offer, from HandleCommand until do returns.
type job struct {
	offer  Offer
	xfer   *transfer
	ctx    context.Context // canceled, with a cause, when the job is stopped
	cancel context.CancelCauseFunc
	kick   chan struct{} // cap 1: progress, for the watchdog

	mu      sync.Mutex
	last    time.Time // the last progress, or when the job was accepted
	read    int64     // bytes the source has delivered
	mark    int64     // read at the last progress
	ended   bool      // the source is at its end: the install is finishing
	stopped error     // why the job was stopped (preempted, stalled)
}

func newJob(o Offer, now time.Time) *job {
	j := &job{offer: o, last: now, kick: make(chan struct{}, 1)}
	j.ctx, j.cancel = context.WithCancelCause(context.Background())
	return j
}

// advance counts n bytes delivered, and the end of the source. Once the
// job is stopped it returns why, so the installer never sees the end of a
// stopped job's bundle.
func (j *job) advance(n int, end bool, now time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stopped != nil {
		return j.stopped
	}
	j.read += int64(n)
	if end || j.read-j.mark >= progressBytes {
		j.mark, j.last = j.read, now
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	j.ended = j.ended || end
	return nil
}

// stopIfIdle stops the job with why(idle) when its source, not at its
// end, made no progress for limit. It reports whether the job is stopped
// (now or before) and whether its source is at its end (the install is
// finishing: never stopped); otherwise it returns how long until it would
// stop it.
func (j *job) stopIfIdle(now time.Time, limit time.Duration, why func(idle time.Duration) error) (wait time.Duration, stopped, ended bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stopped != nil || j.ended {
		return 0, j.stopped != nil, j.ended
	}
	idle := now.Sub(j.last)
	if idle < limit {
		return limit - idle, false, false
	}
	j.stopped = why(idle)
	j.cancel(j.stopped)
	return 0, true, false
}

// bytesRead returns what the source has delivered.
func (j *job) bytesRead() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.read
}

// watch stops the job when its source makes no progress for
// StallTimeout. It returns when the source is at its end or the job is
// over.
func (d *Device) watch(j *job) {
	stall := func(idle time.Duration) error {
		return fmt.Errorf("update: less than %d bytes in %v: %w", progressBytes, idle.Round(time.Millisecond), ErrStalled)
	}
	for {
		wait, stopped, ended := j.stopIfIdle(d.o.Clock.Now(), d.o.StallTimeout, stall)
		if stopped || ended {
			return
		}
		t := d.o.Clock.NewTimer(wait)
		select {
		case <-j.ctx.Done():
			t.Stop()
			return
		case <-j.kick:
			t.Stop()
		case <-t.Chan():
		}
	}
}

// prefixSize is a bundle's fixed prefix (package ota's format): the
// magic, the signing key's id and the manifest's length.
const prefixSize = len(ota.Magic) + len(ota.KeyID{}) + 4

// source is what the installer reads of a job's data: it counts progress
// (job.advance) and checks the bundle's prefix before the installer sees
// any of it, so that no error, which ends up in the retained state, can
// quote what a file starts with (package ota's errors for a bad magic do).
type source struct {
	r   io.Reader
	j   *job
	clk clockwork.Clock

	started bool
	pre     []byte // the checked prefix, not yet handed out
	bad     error  // the prefix is not a bundle's
}

func (s *source) Read(p []byte) (int, error) {
	if !s.started {
		s.started = true
		buf := make([]byte, prefixSize)
		n, err := io.ReadFull(s.r, buf)
		end := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if aerr := s.j.advance(n, end, s.clk.Now()); aerr != nil {
			return 0, aerr
		}
		switch {
		case err == nil:
			if s.bad = checkPrefix(buf); s.bad != nil {
				return 0, s.bad
			}
		case !end:
			return 0, err
		}
		s.pre = buf[:n] // short: package ota says it is truncated
	}
	if s.bad != nil {
		return 0, s.bad
	}
	if len(s.pre) > 0 {
		n := copy(p, s.pre)
		s.pre = s.pre[n:]
		return n, nil
	}
	n, err := s.r.Read(p)
	if aerr := s.j.advance(n, err == io.EOF, s.clk.Now()); aerr != nil {
		return n, aerr
	}
	return n, err
}

// checkPrefix checks a bundle's prefix as ota.Open would, with errors that
// say what is wrong but not what the bytes are.
func checkPrefix(pre []byte) error {
	magic := string(pre[:len(ota.Magic)])
	const name = len("DBOTA") // the magic's name, before the format version
	switch {
	case magic[:name] != ota.Magic[:name]:
		return fmt.Errorf("update: not an OTA bundle: bad magic: %w", ota.ErrMalformed)
	case magic != ota.Magic:
		return fmt.Errorf("update: an OTA bundle of a format version this device cannot read: %w", ota.ErrMalformed)
	}
	if n := binary.BigEndian.Uint32(pre[len(ota.Magic)+len(ota.KeyID{}):]); n == 0 || n > ota.MaxManifestSize {
		return fmt.Errorf("update: not an OTA bundle: bad manifest length: %w", ota.ErrMalformed)
	}
	return nil
}

// explain returns the error to report for a failed job: why it was
// stopped, if it was, and otherwise err without anything a bundle's
// unverified header holds.
func (d *Device) explain(err error, j *job, src *source) error {
	if c := context.Cause(j.ctx); c != nil { // stopped, timed out, the device stops
		return c
	}
	if src != nil && src.bad != nil {
		return src.bad
	}
	if j.bytesRead() == 0 {
		return err // nothing read yet: nothing to quote
	}
	// ota.Open names the key id in the header (bytes of the file) before
	// the signature has verified.
	switch {
	case errors.Is(err, ota.ErrUnknownKey):
		return fmt.Errorf("update: the bundle is not signed by one of the trusted keys (ota.keys_file): %w", ota.ErrUnknownKey)
	case errors.Is(err, ota.ErrBadSignature):
		return fmt.Errorf("update: the bundle's signature does not verify: %w", ota.ErrBadSignature)
	}
	return err
}
