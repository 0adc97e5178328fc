//go:build linux

package gpioline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3/gpioioctl"

	"github.com/doorbelld/doorbelld/hal"
)

// GPIO v2 character device uAPI (include/uapi/linux/gpio.h).
const (
	v2FlagInput         = 1 << 2
	v2FlagEdgeRising    = 1 << 4
	v2FlagEdgeFalling   = 1 << 5
	v2FlagPullUp        = 1 << 8
	v2FlagPullDown      = 1 << 9
	v2FlagBiasDisabled  = 1 << 10
	v2FlagClockRealtime = 1 << 11

	v2EventRising  = 1
	v2EventFalling = 2

	// struct gpio_v2_line_event: timestamp_ns u64 (aligned), id u32,
	// offset u32, seqno u32, line_seqno u32, padding [6]u32. Decoded from
	// bytes at fixed offsets, so 32-bit ARM reads it the same.
	v2EventSize = 48
)

// DefaultEventBuffer is how many edge events the kernel is asked to queue
// for an input line: the most it allows (GPIO_V2_LINES_MAX * 16 = 1024; it
// caps larger requests there, and its default is 16 per line). AC chatter
// from a bell transformer is 100 edges a second at 50 Hz, 120 at 60 Hz, so
// 1024 hold 8.5–10 s of a held push for a stalled reader, where the 64 this
// package asked for before held 0.6 s. It costs 48 KiB of kernel memory per
// line (48-byte events; a power of two, as the kfifo wants). When it still
// overflows, the kernel drops the oldest events (since 5.10, the first v2
// kernel) and the gap in line_seqno says how many.
const DefaultEventBuffer = 1024

type v2LineAttribute struct {
	ID      uint32
	Padding uint32
	Value   uint64
}

type v2LineConfigAttribute struct {
	Attr v2LineAttribute
	Mask uint64
}

type v2LineConfig struct {
	Flags    uint64
	NumAttrs uint32
	Padding  [5]uint32
	Attrs    [10]v2LineConfigAttribute
}

type v2LineRequest struct {
	Offsets         [64]uint32
	Consumer        [32]byte
	Config          v2LineConfig
	NumLines        uint32
	EventBufferSize uint32
	Padding         [5]uint32
	Fd              int32
}

type v2LineValues struct {
	Bits, Mask uint64
}

func iowr(nr, size uintptr) uintptr {
	const dirRead, dirWrite = 2, 1
	return (dirRead|dirWrite)<<30 | size<<16 | 0xB4<<8 | nr
}

var (
	ioctlGetLine   = iowr(0x07, unsafe.Sizeof(v2LineRequest{}))
	ioctlGetValues = iowr(0x0E, unsafe.Sizeof(v2LineValues{}))
)

// Input is an input line requested straight from the GPIO v2 character
// device, so that every edge comes with the kernel's timestamp (on the
// realtime clock where the kernel offers it, 5.11+, else mapped from the
// monotonic clock) and its direction. It implements gpio.PinIn and
// hal.TimedPin. One goroutine reads it at a time.
type Input struct {
	chip   string // /dev/gpiochipN
	offset uint32
	name   string

	mu   sync.Mutex
	f    *os.File // the line request; nil until In
	pull gpio.Pull
	mono bool // timestamps are CLOCK_MONOTONIC
	buf  [v2EventSize]byte

	eventBuffer uint32
	lineSeqno   uint32        // of the last event read; 0 after In
	lost        atomic.Uint64 // edges the kernel dropped, since OpenInput
}

var (
	_ gpio.PinIn      = (*Input)(nil)
	_ hal.TimedPin    = (*Input)(nil)
	_ hal.EdgeInfoPin = (*Input)(nil)
)

// InputOptions tune OpenInputWith.
type InputOptions struct {
	// EventBuffer is how many edge events the kernel queues for the line
	// before it drops the oldest. Default DefaultEventBuffer; the kernel
	// caps it there. Tests ask for a small one to force an overflow.
	EventBuffer int
}

func (o *InputOptions) ensureDefaults() {
	if o.EventBuffer <= 0 || o.EventBuffer > DefaultEventBuffer {
		o.EventBuffer = DefaultEventBuffer
	}
}

// OpenInput finds the line named by spec (see Open) for reading with
// kernel timestamps. The line is requested from the kernel by In.
func OpenInput(spec string) (*Input, error) {
	return OpenInputWith(spec, InputOptions{})
}

// OpenInputWith is OpenInput with options.
func OpenInputWith(spec string, o InputOptions) (*Input, error) {
	o.ensureDefaults()
	p, err := Open(spec)
	if err != nil {
		return nil, err
	}
	for _, c := range gpioioctl.Chips {
		for _, l := range c.Lines() {
			if l == p {
				return &Input{chip: c.Path(), offset: uint32(l.Number()), name: spec, eventBuffer: uint32(o.EventBuffer)}, nil
			}
		}
	}
	return nil, fmt.Errorf("gpio: line %s: chip not found: %w", spec, ErrNotFound)
}

// String implements conn.Resource.
func (in *Input) String() string { return fmt.Sprintf("%s(%s:%d)", in.name, in.chip, in.offset) }

// Name implements pin.Pin.
func (in *Input) Name() string { return in.name }

// Number implements pin.Pin: the line's offset on its chip.
func (in *Input) Number() int { return int(in.offset) }

// Function implements pin.Pin.
func (in *Input) Function() string { return "In" }

// Pull implements gpio.PinIn.
func (in *Input) Pull() gpio.Pull { return in.pull }

// DefaultPull implements gpio.PinIn.
func (in *Input) DefaultPull() gpio.Pull { return gpio.PullNoChange }

// Halt interrupts a pending wait.
func (in *Input) Halt() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.f != nil {
		return in.f.SetReadDeadline(time.Unix(0, 1))
	}
	return nil
}

// Close releases the line.
func (in *Input) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.f == nil {
		return nil
	}
	err := in.f.Close()
	in.f = nil
	return err
}

// In requests the line as an input with both edges reported. A line held
// by another process fails here with an error naming it (EBUSY).
func (in *Input) In(pull gpio.Pull, edge gpio.Edge) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.f != nil {
		in.f.Close()
		in.f = nil
	}
	flags := uint64(v2FlagInput)
	switch edge {
	case gpio.RisingEdge:
		flags |= v2FlagEdgeRising
	case gpio.FallingEdge:
		flags |= v2FlagEdgeFalling
	case gpio.BothEdges:
		flags |= v2FlagEdgeRising | v2FlagEdgeFalling
	}
	switch pull {
	case gpio.PullUp:
		flags |= v2FlagPullUp
	case gpio.PullDown:
		flags |= v2FlagPullDown
	case gpio.Float:
		flags |= v2FlagBiasDisabled
	}
	cf, err := os.OpenFile(in.chip, os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("gpio: line %s: open %s: %w", in.name, in.chip, err)
	}
	defer cf.Close()
	request := func(flags uint64) (int32, error) {
		var req v2LineRequest
		req.Offsets[0] = in.offset
		req.NumLines = 1
		req.EventBufferSize = in.eventBuffer
		copy(req.Consumer[:len(req.Consumer)-1], "doorbelld")
		req.Config.Flags = flags
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, cf.Fd(), ioctlGetLine, uintptr(unsafe.Pointer(&req))); e != 0 {
			return -1, e
		}
		return req.Fd, nil
	}
	in.mono = false
	fd, err := request(flags | v2FlagClockRealtime)
	if errors.Is(err, unix.EINVAL) { // kernels before 5.11
		in.mono = true
		fd, err = request(flags)
	}
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("gpio: line %s (%s offset %d) is in use by another program: %w", in.name, in.chip, in.offset, err)
		}
		return fmt.Errorf("gpio: line %s (%s offset %d): request: %w", in.name, in.chip, in.offset, err)
	}
	if err := unix.SetNonblock(int(fd), true); err != nil {
		unix.Close(int(fd))
		return fmt.Errorf("gpio: line %s: %w", in.name, err)
	}
	in.f = os.NewFile(uintptr(fd), in.name)
	in.pull = pull
	in.lineSeqno = 0 // a new request numbers its events from 1
	return nil
}

// LostEdges returns how many edges the kernel dropped from this line's
// event queue because it was full (the reader fell behind), counted from
// the gaps in the events' line sequence numbers. It is safe to call from
// any goroutine.
func (in *Input) LostEdges() uint64 { return in.lost.Load() }

// Read returns the line's level.
func (in *Input) Read() gpio.Level {
	in.mu.Lock()
	f := in.f
	in.mu.Unlock()
	if f == nil {
		return gpio.Low
	}
	v := v2LineValues{Mask: 1}
	rc, err := f.SyscallConn()
	if err != nil {
		return gpio.Low
	}
	var e syscall.Errno
	_ = rc.Control(func(fd uintptr) {
		_, _, e = unix.Syscall(unix.SYS_IOCTL, fd, ioctlGetValues, uintptr(unsafe.Pointer(&v)))
	})
	return e == 0 && v.Bits&1 == 1
}

// WaitForEdge implements gpio.PinIn. A negative timeout waits forever.
func (in *Input) WaitForEdge(timeout time.Duration) bool {
	_, ok := in.WaitForEdgeInfo(timeout)
	return ok
}

// WaitForEdgeTime implements hal.TimedPin.
func (in *Input) WaitForEdgeTime(timeout time.Duration) (time.Time, gpio.Level, bool) {
	e, ok := in.WaitForEdgeInfo(timeout)
	return e.At, e.Level, ok
}

// WaitForEdgeInfo implements hal.EdgeInfoPin. Queued events are always
// returned first, even with a timeout of 0 (which only looks) and even when
// the caller is late: they are read before any deadline is considered.
// Edge.Lost counts the events the kernel dropped just before this one.
func (in *Input) WaitForEdgeInfo(timeout time.Duration) (hal.Edge, bool) {
	in.mu.Lock()
	f := in.f
	in.mu.Unlock()
	if f == nil {
		return hal.Edge{}, false
	}
	if ok, err := in.tryRead(f); err != nil || ok {
		return in.event(ok && err == nil)
	}
	if timeout == 0 {
		return hal.Edge{}, false
	}
	var dl time.Time
	if timeout > 0 {
		dl = time.Now().Add(timeout)
	}
	if f.SetReadDeadline(dl) != nil {
		return hal.Edge{}, false
	}
	_, err := io.ReadFull(f, in.buf[:])
	return in.event(err == nil)
}

// tryRead reads one queued event into buf without waiting.
func (in *Input) tryRead(f *os.File) (bool, error) {
	// A deadline left in the past by the last wait would fail the read
	// before it is tried.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		return false, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var n int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), in.buf[:])
		return true // one attempt: EAGAIN means nothing is queued
	}); err != nil {
		return false, err
	}
	if errors.Is(rerr, unix.EAGAIN) {
		return false, nil
	}
	if rerr != nil {
		return false, rerr
	}
	if n != v2EventSize {
		return false, fmt.Errorf("gpio: line %s: short event read (%d bytes)", in.name, n)
	}
	return true, nil
}

// rawEvent is a decoded struct gpio_v2_line_event.
type rawEvent struct {
	TimestampNs      uint64
	ID, Offset       uint32
	Seqno, LineSeqno uint32
}

// decodeEvent decodes one struct gpio_v2_line_event in the machine's byte
// order; b holds at least v2EventSize bytes.
func decodeEvent(b []byte) rawEvent {
	return rawEvent{
		TimestampNs: binary.NativeEndian.Uint64(b[0:8]),
		ID:          binary.NativeEndian.Uint32(b[8:12]),
		Offset:      binary.NativeEndian.Uint32(b[12:16]),
		Seqno:       binary.NativeEndian.Uint32(b[16:20]),
		LineSeqno:   binary.NativeEndian.Uint32(b[20:24]),
	}
}

// lostBefore returns how many events are missing between the line
// sequence numbers prev (0: none read since the request) and cur. The
// kernel numbers a request's events from 1 and keeps the newest when its
// queue is full, so the gap sits before the first event read after the
// overflow. uint32 arithmetic rides over wrap-around; a number that did not
// advance counts nothing.
func lostBefore(prev, cur uint32) uint32 {
	d := cur - prev
	if d == 0 || d > 1<<31 {
		return 0
	}
	return d - 1
}

// event decodes buf when ok.
func (in *Input) event(ok bool) (hal.Edge, bool) {
	if !ok {
		return hal.Edge{}, false
	}
	ev := decodeEvent(in.buf[:])
	if ev.ID != v2EventRising && ev.ID != v2EventFalling {
		return hal.Edge{}, false
	}
	at := time.Unix(0, int64(ev.TimestampNs))
	if in.mono {
		at = monoToWall(ev.TimestampNs)
	}
	lost := lostBefore(in.lineSeqno, ev.LineSeqno)
	in.lineSeqno = ev.LineSeqno
	if lost > 0 {
		in.lost.Add(uint64(lost))
	}
	return hal.Edge{
		At:        at,
		Level:     ev.ID == v2EventRising,
		Lost:      lost,
		Seqno:     ev.Seqno,
		LineSeqno: ev.LineSeqno,
	}, true
}

// monoToWall maps a CLOCK_MONOTONIC timestamp to wall-clock time.
func monoToWall(ns uint64) time.Time {
	var now unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &now) != nil {
		return time.Now()
	}
	return time.Now().Add(-time.Duration(uint64(now.Nano()) - ns))
}
