//go:build linux

package audio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gen2brain/alsa"
)

// Buffering: 20 ms periods; the speaker buffers 10 of them (200 ms: a
// starved writer does not underrun), the microphone 25 (500 ms). A live
// stream (talk) buffers StreamDelay (4 periods, 80 ms): each period
// buffered is heard that much later, and the talk's own jitter buffer
// rides out the network.
const (
	periodsPerSecond = 50
	speakerPeriods   = 10
	streamPeriods    = int(StreamDelay * periodsPerSecond / time.Second)
	micPeriods       = 25
)

// pcmDev is one direction of an ALSA PCM device.
type pcmDev struct {
	name      string // as configured
	card, dev uint
	flags     alsa.PcmFlag
}

func (d pcmDev) kind() string {
	if d.flags&alsa.PCM_IN != 0 {
		return "microphone"
	}
	return "speaker"
}

func (d pcmDev) path() string {
	c := 'p'
	if d.flags&alsa.PCM_IN != 0 {
		c = 'c'
	}
	return fmt.Sprintf("/dev/snd/pcmC%dD%d%c", d.card, d.dev, c)
}

// errorf names the device and the operation, and classifies open errors
// as ErrNoDevice or ErrBusy.
func (d pcmDev) errorf(op string, err error) error {
	var why error
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		why = ErrNoDevice
	case errors.Is(err, syscall.EBUSY):
		why = fmt.Errorf("%w (another program plays or records on it)", ErrBusy)
	}
	if why != nil {
		return fmt.Errorf("audio: %s %q (%s): %s: %w: %w", d.kind(), d.name, d.path(), op, why, err)
	}
	return fmt.Errorf("audio: %s %q (%s): %s: %w", d.kind(), d.name, d.path(), op, err)
}

func resolve(device string, flags alsa.PcmFlag) (pcmDev, error) {
	d := pcmDev{name: device, flags: flags}
	card, dev, err := parseDevice(device, readCards)
	if err != nil {
		return d, fmt.Errorf("audio: %s: %w", d.kind(), err)
	}
	d.card, d.dev = uint(card), uint(dev)
	return d, nil
}

// query asks the device what it takes (HW_REFINE on a fresh open).
func (d pcmDev) query() (caps, error) {
	pp, err := alsa.PcmParamsGet(d.card, d.dev, d.flags)
	if err != nil {
		return caps{}, d.errorf("query parameters", err)
	}
	get := func(p alsa.PcmParam) (int, int) {
		lo, _ := pp.Min(p)
		hi, _ := pp.Max(p)
		return int(lo), int(min(hi, 1<<30))
	}
	var c caps
	c.rateMin, c.rateMax = get(alsa.SNDRV_PCM_HW_PARAM_RATE)
	c.chMin, c.chMax = get(alsa.SNDRV_PCM_HW_PARAM_CHANNELS)
	c.s16 = pp.FormatIsSupported(alsa.SNDRV_PCM_FORMAT_S16_LE)
	c.s32 = pp.FormatIsSupported(alsa.SNDRV_PCM_FORMAT_S32_LE)
	c.periodsMin, c.periodsMax = get(alsa.SNDRV_PCM_HW_PARAM_PERIODS)
	return c, nil
}

// open queries the device, picks a format near the wanted one, opens and
// prepares it (preparing fixes the format for a peer that shares the
// clock, like the other side of snd-aloop), and returns the format the
// driver really chose.
func (d pcmDev) open(rate, channels, bits, periods int) (*alsa.PCM, Format, caps, error) {
	c, err := d.query()
	if err != nil {
		return nil, Format{}, c, err
	}
	f, err := c.pick(rate, channels, bits)
	if err != nil {
		return nil, f, c, fmt.Errorf("audio: %s %q (%s): %w", d.kind(), d.name, d.path(), err)
	}
	if c.periodsMax > 0 {
		periods = max(c.periodsMin, min(periods, c.periodsMax))
	}
	pf := alsa.SNDRV_PCM_FORMAT_S16_LE
	if f.Bits == 32 {
		pf = alsa.SNDRV_PCM_FORMAT_S32_LE
	}
	openAt := func(f Format) (*alsa.PCM, error) {
		return alsa.PcmOpen(d.card, d.dev, d.flags, &alsa.Config{
			Channels:    uint32(f.Channels),
			Rate:        uint32(f.Rate),
			PeriodSize:  uint32(max(f.Rate/periodsPerSecond, 32)),
			PeriodCount: uint32(periods),
			Format:      pf,
		})
	}
	pcm, err := openAt(f)
	if err != nil && errors.Is(err, syscall.EINVAL) {
		// The card's range allows the rate, but its clock is fixed by
		// the other direction (a full-duplex codec on an I2S HAT, the
		// other side of snd-aloop): try the other standard rates.
		for _, r := range standardRates {
			if r == f.Rate || r < c.rateMin || r > c.rateMax {
				continue
			}
			g := f
			g.Rate = r
			if p, e := openAt(g); e == nil {
				pcm, f, err = p, g, nil
				break
			}
		}
	}
	if err != nil {
		return nil, f, c, d.errorf("open at "+f.String(), err)
	}
	// The driver may round the rate (a discrete-rate card): convert to what
	// it chose.
	f.Rate, f.Channels = int(pcm.Rate()), int(pcm.Channels())
	if err := f.Validate(); err != nil {
		pcm.Close()
		return nil, f, c, d.errorf("open", err)
	}
	if err := pcm.Prepare(); err != nil {
		pcm.Close()
		return nil, f, c, d.errorf("prepare", err)
	}
	return pcm, f, c, nil
}

// alsaSpeaker is an ALSA playback device, opened with RW interleaved
// access and no plugins.
type alsaSpeaker struct {
	d      pcmDev
	pcm    *alsa.PCM // nil after a failed reopen
	format Format
	caps   caps
	xruns  int
}

var _ Speaker = (*alsaSpeaker)(nil)

// OpenSpeaker opens an ALSA playback device ("hw:1,0", "hw:Loopback,0",
// see ParseDevice). It asks the device which rates, channels and formats
// it takes and opens it at 48 kHz mono if it can; each Play then reopens
// it at the sound's own rate and channels when the device takes them
// (else the nearest of 48000/44100/16000/8000 Hz, and 1 or 2 channels),
// S16_LE if it takes it, else S32_LE. Errors name the device and wrap
// ErrNoDevice (not found), ErrBusy or ErrNoFormat.
func OpenSpeaker(device string) (Speaker, error) {
	d, err := resolve(device, alsa.PCM_OUT)
	if err != nil {
		return nil, err
	}
	pcm, f, c, err := d.open(48000, 1, 16, speakerPeriods)
	if err != nil {
		return nil, err
	}
	return &alsaSpeaker{d: d, pcm: pcm, format: f, caps: c}, nil
}

func (s *alsaSpeaker) Format() Format { return s.format }

// Xruns counts the underruns the device had (the library recovers them:
// a glitch, not an error).
func (s *alsaSpeaker) Xruns() int { return s.xruns }

func (s *alsaSpeaker) Close() error {
	if s.pcm == nil {
		return nil
	}
	s.xruns += s.pcm.Xruns()
	err := s.pcm.Close()
	s.pcm = nil
	if err != nil {
		return s.d.errorf("close", err)
	}
	return nil
}

func (s *alsaSpeaker) Play(ctx context.Context, snd *Sound) error {
	if err := snd.Validate(); err != nil {
		return err
	}
	if s.pcm == nil {
		return fmt.Errorf("audio: speaker %q: %w", s.d.name, ErrClosed)
	}
	if want, err := s.caps.pick(snd.Rate, snd.Channels, 16); err == nil && want != s.format {
		// The device may take the sound as it is: reopen, asking it again
		// (a peer may have fixed its format meanwhile).
		s.xruns += s.pcm.Xruns()
		s.pcm.Close()
		s.pcm = nil
		pcm, f, c, err := s.d.open(snd.Rate, snd.Channels, 16, speakerPeriods)
		if err != nil {
			return err
		}
		s.pcm, s.format, s.caps = pcm, f, c
	}
	pcm := s.pcm
	// Dropping the stream from another goroutine wakes a blocked write or
	// drain at once. release waits for that drop if it has begun and says
	// whether it happened.
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		pcm.Stop()
		close(done)
	})
	var once sync.Once
	var dropped bool
	release := func() bool {
		once.Do(func() {
			if !stop() {
				<-done
				dropped = true
			}
		})
		return dropped
	}
	defer release()

	conv := newConverter(snd, s.format)
	chunk := int(pcm.PeriodSize())
	fb := s.format.FrameBytes()
	buf := make([]byte, chunk*fb)
	for j := 0; j < conv.frames && ctx.Err() == nil; j += chunk {
		n := min(chunk, conv.frames-j)
		conv.convert(buf, j, n)
		if _, err := pcm.Write(buf[:n*fb]); err != nil {
			if ctx.Err() != nil {
				break
			}
			return s.d.errorf("write", err)
		}
	}
	if ctx.Err() == nil {
		if err := pcm.Drain(); err != nil && ctx.Err() == nil {
			return s.d.errorf("drain", err)
		}
	}
	if err := ctx.Err(); err != nil {
		if !release() {
			pcm.Stop()
		}
		return err
	}
	return nil
}

// Stream reopens the device for the stream's rate and channels with a
// short buffer (StreamDelay) and writes periods from src until ctx is
// done; see Speaker. The device stays open with that buffer.
func (s *alsaSpeaker) Stream(ctx context.Context, rate, channels int, src func(p []int16) int) error {
	if err := validStream(rate, channels); err != nil {
		return fmt.Errorf("audio: speaker %q: %w", s.d.name, err)
	}
	if s.pcm == nil {
		return fmt.Errorf("audio: speaker %q: %w", s.d.name, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.xruns += s.pcm.Xruns()
	s.pcm.Close()
	s.pcm = nil
	pcm, f, c, err := s.d.open(rate, channels, 16, streamPeriods)
	if err != nil {
		return err
	}
	s.pcm, s.format, s.caps = pcm, f, c
	conv, err := NewStreamConverter(rate, channels, f)
	if err != nil {
		return s.d.errorf("stream", err)
	}
	// As in Play: dropping the stream from another goroutine wakes a
	// blocked write at once.
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		pcm.Stop()
		close(done)
	})
	defer func() {
		if !stop() {
			<-done
		}
		// A write racing the drop may have prepared the device again:
		// drop once more (idempotent) so nothing buffered is heard.
		pcm.Stop()
	}()
	// Silence in all of the device's buffer but one period, before src
	// is first asked: from then on each write waits for a period to be
	// played, so src is asked once a period. Without it the first
	// writes would take a whole buffer (80 ms) from src at once, and a
	// talk whose jitter buffer had gathered its prefill (60 ms) while the
	// device opened would run dry at its start.
	if prime := int(pcm.BufferSize()) - int(pcm.PeriodSize()); prime > 0 {
		if _, err := pcm.Write(make([]byte, prime*f.FrameBytes())); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s.d.errorf("stream write", err)
		}
	}
	buf := make([]byte, int(pcm.PeriodSize())*f.FrameBytes())
	for ctx.Err() == nil {
		conv.Convert(buf, src)
		if _, err := pcm.Write(buf); err != nil {
			if ctx.Err() != nil {
				break
			}
			return s.d.errorf("stream write", err)
		}
	}
	return ctx.Err()
}

// alsaMicrophone is an ALSA capture device.
type alsaMicrophone struct {
	d      pcmDev
	format Format
	closed atomic.Bool
	mu     sync.Mutex // held by Read; Close waits for it
	pcm    *alsa.PCM
	wide   []int32
}

var _ Microphone = (*alsaMicrophone)(nil)

// OpenMicrophone opens an ALSA capture device (see ParseDevice for the
// name) at the format nearest want (zero fields: 16000 Hz, mono, 16
// bits), by the rules of OpenSpeaker, and starts nothing until the first
// Read.
func OpenMicrophone(device string, want Format) (Microphone, error) {
	d, err := resolve(device, alsa.PCM_IN)
	if err != nil {
		return nil, err
	}
	if want.Rate == 0 {
		want.Rate = 16000
	}
	if want.Channels == 0 {
		want.Channels = 1
	}
	pcm, f, _, err := d.open(want.Rate, want.Channels, want.Bits, micPeriods)
	if err != nil {
		return nil, err
	}
	return &alsaMicrophone{d: d, format: f, pcm: pcm}, nil
}

func (m *alsaMicrophone) Format() Format { return m.format }

func (m *alsaMicrophone) Read(p []int16) (int, error) {
	ch := m.format.Channels
	frames := len(p) / ch
	if frames == 0 {
		return 0, fmt.Errorf("audio: microphone %q: read into %d samples: less than one %d-channel frame", m.d.name, len(p), ch)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return 0, fmt.Errorf("audio: microphone %q: %w", m.d.name, ErrClosed)
	}
	var n int
	var err error
	if m.format.Bits == 16 {
		n, err = m.pcm.Read(p[:frames*ch])
	} else {
		if cap(m.wide) < frames*ch {
			m.wide = make([]int32, frames*ch)
		}
		w := m.wide[:frames*ch]
		n, err = m.pcm.Read(w)
		for i := range n * ch {
			p[i] = int16(w[i] >> 16)
		}
	}
	if err != nil {
		if m.closed.Load() {
			return n * ch, fmt.Errorf("audio: microphone %q: %w", m.d.name, ErrClosed)
		}
		return n * ch, m.d.errorf("read", err)
	}
	return n * ch, nil
}

// Delay is the frames captured that no Read has returned yet
// (SNDRV_PCM_IOCTL_DELAY, after the driver's position is brought up to date).
func (m *alsaMicrophone) Delay() (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return 0, fmt.Errorf("audio: microphone %q: %w", m.d.name, ErrClosed)
	}
	n, err := m.pcm.Delay()
	if err != nil {
		return 0, m.d.errorf("delay", err)
	}
	return n, nil
}

func (m *alsaMicrophone) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	m.pcm.Stop() // wakes a blocked Read
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.pcm.Close(); err != nil {
		return m.d.errorf("close", err)
	}
	return nil
}
