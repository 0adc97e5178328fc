package rtsp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/pion/rtp"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/live"
)

// The audio track: G.711 µ-law, 8000 Hz mono, 20 ms a packet.
const (
	audioRate      = 8000
	packetSamples  = 160                     // 20 ms
	samplePeriod   = time.Second / audioRate // 125 µs, exact in ns
	resyncAfter    = 40 * time.Millisecond   // a chunk this far off the running timeline restarts it
	micRetryFirst  = time.Second             // first wait after the microphone failed
	micRetryMax    = 30 * time.Second        // longest wait
	minChunkRate   = 8000
	maxChunkRate   = 48000
	maxChunkFrames = maxChunkRate * 10 // 10 s in one chunk is not a microphone
)

// errBadChunk: a microphone chunk the audio path cannot take.
var errBadChunk = errors.New("unusable audio chunk")

// audioEnc turns microphone chunks into the RTP packets of the audio
// track: downmix to mono, anti-aliased resampling to 8 kHz, µ-law,
// 20 ms packets. Timestamps follow the chunks' capture times: a chunk
// that continues the previous one (within resyncAfter) continues the
// running timeline sample by sample; one that does not (a gap, a new
// feed, another rate) restarts it at its At, with the RTP timestamp
// moved by the same time and the marker bit set. Not safe for
// concurrent use.
type audioEnc struct {
	seq     uint16
	ts      uint32    // RTP timestamp of pending[0]
	at      time.Time // capture time of pending[0]
	started bool
	marker  bool

	rs      resampler
	mono    []int16 // scratch: the chunk downmixed
	out     []int16 // scratch: resampled to 8 kHz
	pending []byte  // µ-law samples not yet sent (< packetSamples between pushes)
	pkt     rtp.Packet
}

func newAudioEnc() (*audioEnc, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("random sequence number: %w", err)
	}
	return &audioEnc{
		seq: binary.BigEndian.Uint16(b[:2]),
		ts:  binary.BigEndian.Uint32(b[2:]),
	}, nil
}

// checkChunk tells why c cannot be encoded, or nil.
func checkChunk(c capture.AudioChunk) error {
	if c.Rate < minChunkRate || c.Rate > maxChunkRate || c.Channels < 1 || c.Channels > 2 ||
		len(c.Samples)%c.Channels != 0 || c.Frames() > maxChunkFrames {
		return fmt.Errorf("%w: %d Hz, %d channels, %d samples: want %d-%d Hz, 1-2 channels, whole frames, at most %d",
			errBadChunk, c.Rate, c.Channels, len(c.Samples), minChunkRate, maxChunkRate, maxChunkFrames)
	}
	return nil
}

// push encodes c and hands every complete packet to emit with its
// capture time (the NTP time of its first sample). emit may keep
// neither the packet nor its payload: both are reused.
func (e *audioEnc) push(c capture.AudioChunk, emit func(*rtp.Packet, time.Time) error) error {
	if err := checkChunk(c); err != nil {
		return err
	}
	n := c.Frames()
	if n == 0 {
		return nil
	}
	want := e.at.Add(time.Duration(len(e.pending)) * samplePeriod)
	if d := c.At.Sub(want); !e.started || c.Rate != e.rs.rate || d > resyncAfter || d < -resyncAfter {
		if e.started {
			// Keep the RTP clock on the capture clock: move by the time
			// from the old start to the new one (mod 2^32, as RTP wants).
			e.ts += uint32(int64(c.At.Sub(e.at) / samplePeriod))
		}
		e.at, e.started, e.marker = c.At, true, true
		e.pending = e.pending[:0]
		e.rs.reset(c.Rate)
	}

	mono := c.Samples
	if c.Channels == 2 {
		e.mono = e.mono[:0]
		for i := 0; i < 2*n; i += 2 {
			e.mono = append(e.mono, int16((int32(c.Samples[i])+int32(c.Samples[i+1]))>>1))
		}
		mono = e.mono
	}
	e.out = e.rs.process(mono, e.out[:0])
	for _, v := range e.out {
		e.pending = append(e.pending, mulawEncode(v))
	}

	off := 0
	for len(e.pending)-off >= packetSamples {
		e.pkt.Header = rtp.Header{
			Version:        2,
			Marker:         e.marker,
			PayloadType:    ptPCMU,
			SequenceNumber: e.seq,
			Timestamp:      e.ts,
		}
		e.pkt.Payload = e.pending[off : off+packetSamples]
		if err := emit(&e.pkt, e.at); err != nil {
			e.pending = e.pending[:copy(e.pending, e.pending[off:])]
			return err
		}
		off += packetSamples
		e.seq++
		e.ts += packetSamples
		e.at = e.at.Add(packetSamples * samplePeriod)
		e.marker = false
	}
	e.pending = e.pending[:copy(e.pending, e.pending[off:])]
	return nil
}

// resampler converts mono samples at rate to 8000 Hz: a box filter of
// rate/8000 taps (the average of 2 for 16 kHz, of 6 for 48 kHz: a
// cheap anti-aliasing low-pass), then linear interpolation at steps of
// rate/8000 input samples (exact picks for whole multiples). State
// carries over from one call to the next.
type resampler struct {
	rate int
	k    int     // box taps
	hist []int16 // the last k-1 inputs
	buf  []int16 // scratch: hist + input
	y    []int16 // scratch: filtered
	pos  int64   // next output's position, in 1/8000 input samples from the call's first input (> -8000)
	prev int16   // the filtered input before the call's first
}

func (r *resampler) reset(rate int) {
	r.rate, r.k = rate, max(1, rate/audioRate)
	r.hist = append(r.hist[:0], make([]int16, r.k-1)...)
	r.pos, r.prev = 0, 0
}

// process appends to out the 8 kHz samples that in completes.
func (r *resampler) process(in []int16, out []int16) []int16 {
	y := in
	if k := r.k; k > 1 {
		r.buf = append(append(r.buf[:0], r.hist...), in...)
		r.y = r.y[:0]
		var sum int32
		for _, v := range r.buf[:k-1] {
			sum += int32(v)
		}
		for i := range in {
			sum += int32(r.buf[i+k-1])
			r.y = append(r.y, int16(sum/int32(k)))
			sum -= int32(r.buf[i])
		}
		r.hist = append(r.hist[:0], r.buf[len(r.buf)-(k-1):]...)
		y = r.y
	}
	n := int64(len(y))
	if n == 0 {
		return out
	}
	step := int64(r.rate)
	pos := r.pos
	for {
		i := (pos+audioRate)/audioRate - 1 // floor(pos/8000), pos > -8000
		frac := int32(pos - i*audioRate)
		if i >= n || frac != 0 && i+1 >= n {
			break
		}
		a := r.prev
		if i >= 0 {
			a = y[i]
		}
		v := a
		if frac != 0 {
			b := int32(y[i+1])
			v = int16(int32(a) + (b-int32(a))*frac/audioRate)
		}
		out = append(out, v)
		pos += step
	}
	r.pos = pos - n*audioRate
	r.prev = y[n-1]
	return out
}

// startAudio runs the audio feeder of st. Called with s.mu held.
func (s *Server) startAudio(st *stream) {
	ctx, cancel := context.WithCancel(context.Background())
	st.afeed = &feed{cancel: cancel}
	s.feeders.Add(1)
	go s.runAudio(ctx, st)
}

// runAudio feeds the microphone to st's audio track until ctx ends (the
// last audio reader left) or privacy ends the stream. A microphone that
// fails is retried with backoff; the video goes on meanwhile.
func (s *Server) runAudio(ctx context.Context, st *stream) {
	defer s.feeders.Done()
	wait := micRetryFirst
	for {
		f, err := s.opts.Audio.SubscribeAudio("rtsp")
		if err == nil {
			s.audioFeeds.Add(1)
			var got bool
			got, err = s.feedAudio(ctx, st, f)
			f.Close()
			if got {
				wait = micRetryFirst
			}
		}
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, live.ErrPrivate):
			s.endFeed(st, err)
			return
		case errors.Is(err, errStreamEnded):
			return
		}
		n := s.audioFailures.Add(1)
		s.warnLimited("mic", "rtsp: microphone unavailable: the stream goes on without sound",
			"err", err, "retry_in", wait, "failures_total", n)
		select {
		case <-ctx.Done():
			return
		case <-s.opts.Clock.After(wait):
		}
		wait = min(2*wait, micRetryMax)
	}
}

// errStreamEnded: the stream was closed under the feeder.
var errStreamEnded = errors.New("stream ended")

// feedAudio writes f's chunks to st until an error; got tells whether
// any chunk came.
func (s *Server) feedAudio(ctx context.Context, st *stream, f AudioFeed) (got bool, err error) {
	emit := func(p *rtp.Packet, ntp time.Time) error {
		if err := st.ss.WritePacketRTPWithNTP(st.audio, p, ntp); err != nil {
			return fmt.Errorf("%w: %w", errStreamEnded, err)
		}
		s.audioPackets.Add(1)
		return nil
	}
	for {
		c, err := f.Next(ctx)
		if err != nil {
			return got, err
		}
		if ctx.Err() != nil {
			return got, ctx.Err()
		}
		got = true
		st.amu.Lock()
		if ctx.Err() != nil { // a newer feeder may own the track now
			st.amu.Unlock()
			return got, ctx.Err()
		}
		err = st.aenc.push(c, emit)
		st.amu.Unlock()
		switch {
		case errors.Is(err, errBadChunk):
			n := s.audioSkipped.Add(1)
			s.warnLimited("chunk", "rtsp: audio chunk skipped", "err", err, "skipped_total", n)
		case err != nil:
			return got, err
		default:
			s.audioChunks.Add(1)
		}
	}
}
