package rtsp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmjpeg"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/doorbelld/doorbelld/capture/live"
)

// errFormat: a frame does not match the stream's announced format.
var errFormat = errors.New("frame does not match the announced format")

// rtpClock is the RTP clock rate of both MJPEG and H.264.
const rtpClock = 90000

// stream is one camera format announced to readers: one gortsplib
// ServerStream, fed by at most one feeder at a time.
type stream struct {
	info  live.Info
	ss    *gortsplib.ServerStream
	media *description.Media
	h264f *format.H264       // nil for JPEG
	audio *description.Media // the microphone (PCMU), nil without Options.Audio
	back  *description.Media // the back-channel (PCMU, PCMA), nil without Options.Talk

	// Guarded by Server.mu.
	closed       bool
	playing      int   // sessions that sent PLAY
	feed         *feed // the running feeder, nil when none
	audioPlaying int   // playing sessions that set up the audio media
	afeed        *feed // the running audio feeder, nil when none

	// amu guards aenc: the audio feeder's packetizer (a stopping feeder
	// and its successor may overlap).
	amu  sync.Mutex
	aenc *audioEnc

	// mu is the write lock: held while a frame's packets are written, and
	// by a joining reader from its PLAY until the PLAY response, so that
	// it catches up on cache and then sees every following packet (Go
	// allows the unlock on another goroutine: gortsplib calls OnPlay and
	// OnResponse on different ones).
	mu         sync.Mutex
	jpegEnc    *rtpmjpeg.Encoder
	h264Enc    *rtph264.Encoder
	scratch    []byte
	tsBase     uint32
	t0         time.Time
	lastTS     uint32
	tsStarted  bool
	cache      []cached // packets since the last key frame, for joiners
	cacheValid bool
	maxCache   int
}

type cached struct {
	pkt *rtp.Packet
	ntp time.Time
}

type feed struct {
	cancel context.CancelFunc
}

// newStream makes the stream of one camera format: its video media, and
// with audio the microphone's, with talk the back-channel (last, so that
// the others keep their track ids; gortsplib shows it only to clients
// that ask for back-channels).
func newStream(srv *gortsplib.Server, info live.Info, maxCache int, audio, talk bool) (*stream, error) {
	st := &stream{info: info, maxCache: maxCache}
	var forma format.Format
	switch info.Codec {
	case live.JPEG:
		if err := checkMJPEGSize(info.Width, info.Height); err != nil {
			return nil, err
		}
		f := &format.MJPEG{}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, fmt.Errorf("mjpeg encoder: %w", err)
		}
		st.jpegEnc, forma = enc, f
	case live.H264:
		f := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: info.SPS, PPS: info.PPS}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, fmt.Errorf("h264 encoder: %w", err)
		}
		st.h264Enc, st.h264f, forma = enc, f, f
	default:
		return nil, fmt.Errorf("codec %q: want %q or %q", info.Codec, live.JPEG, live.H264)
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("random timestamp: %w", err)
	}
	st.tsBase = binary.BigEndian.Uint32(b[:])
	st.media = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	medias := []*description.Media{st.media}
	if audio {
		enc, err := newAudioEnc()
		if err != nil {
			return nil, fmt.Errorf("audio: %w", err)
		}
		st.aenc = enc
		st.audio = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{
			&format.G711{PayloadTyp: ptPCMU, MULaw: true, SampleRate: audioRate, ChannelCount: 1},
		}}
		medias = append(medias, st.audio)
	}
	if talk {
		st.back = &description.Media{Type: description.MediaTypeAudio, IsBackChannel: true, Formats: []format.Format{
			&format.G711{PayloadTyp: ptPCMU, MULaw: true, SampleRate: audioRate, ChannelCount: 1},
			&format.G711{PayloadTyp: ptPCMA, MULaw: false, SampleRate: audioRate, ChannelCount: 1},
		}}
		medias = append(medias, st.back)
	}
	st.ss = &gortsplib.ServerStream{Server: srv, Desc: &description.Session{
		Title:  "doorbell",
		Medias: medias,
	}}
	if err := st.ss.Initialize(); err != nil {
		return nil, fmt.Errorf("server stream: %w", err)
	}
	return st, nil
}

// sameFormat reports whether info can be served by st's description.
func (st *stream) sameFormat(info live.Info) bool {
	return info.Codec == st.info.Codec && info.Width == st.info.Width && info.Height == st.info.Height
}

// updateParams puts newer H.264 parameter sets into the SDP that later
// DESCRIBEs get.
func (st *stream) updateParams(sps, pps []byte) {
	if st.h264f == nil || len(sps) == 0 || len(pps) == 0 {
		return
	}
	oldSPS, oldPPS := st.h264f.SafeParams()
	if bytes.Equal(oldSPS, sps) && bytes.Equal(oldPPS, pps) {
		return
	}
	st.h264f.SafeSetParams(bytes.Clone(sps), bytes.Clone(pps))
	st.ss.ReloadDesc()
}

// timestamp maps a capture time to the RTP clock, never going back.
func (st *stream) timestamp(at time.Time) uint32 {
	if !st.tsStarted {
		st.tsStarted, st.t0, st.lastTS = true, at, st.tsBase
		return st.tsBase
	}
	ts := st.tsBase + rtpTicks(at.Sub(st.t0), rtpClock)
	if int32(ts-st.lastTS) < 0 {
		ts = st.lastTS
	}
	st.lastTS = ts
	return ts
}

// rtpTicks is d on a clock of rate Hz, mod 2^32 (d*rate would overflow
// int64 nanoseconds after a day of streaming at 90 kHz).
func rtpTicks(d time.Duration, rate int64) uint32 {
	sec, rest := int64(d/time.Second), int64(d%time.Second)
	return uint32(sec*rate + rest*rate/int64(time.Second))
}

// packetize turns one frame into RTP packets; errFormat when it does not
// fit the stream, another error when the frame alone is unusable. Called
// with mu held.
func (st *stream) packetize(f *live.Frame) (pkts []*rtp.Packet, key bool, err error) {
	if f.Codec != st.info.Codec || f.Width != 0 && (f.Width != st.info.Width || f.Height != st.info.Height) {
		return nil, false, fmt.Errorf("%w: %s %dx%d, announced %s %dx%d", errFormat,
			f.Codec, f.Width, f.Height, st.info.Codec, st.info.Width, st.info.Height)
	}
	switch st.info.Codec {
	case live.JPEG:
		jf, err := checkJPEG(f.Data)
		if err != nil {
			return nil, false, err
		}
		if jf.width != st.info.Width || jf.height != st.info.Height {
			return nil, false, fmt.Errorf("%w: jpeg %dx%d, announced %dx%d", errFormat,
				jf.width, jf.height, st.info.Width, st.info.Height)
		}
		data := f.Data
		if !jf.clean {
			st.scratch = sanitize(st.scratch, f.Data, jf)
			data = st.scratch
		}
		pkts, err = st.jpegEnc.Encode(data)
		return pkts, true, err
	default:
		var au h264.AnnexB
		if err := au.Unmarshal(f.Data); err != nil {
			return nil, false, fmt.Errorf("h264 access unit: %w", err)
		}
		nalus := [][]byte(au)
		key = f.Key || h264.IsRandomAccess(nalus)
		if key {
			nalus = st.withParams(nalus)
		}
		pkts, err = st.h264Enc.Encode(nalus)
		return pkts, key, err
	}
}

// withParams makes sure a key frame carries SPS and PPS in band (for a
// decoder that ignores the SDP), and takes newer ones into the SDP.
func (st *stream) withParams(nalus [][]byte) [][]byte {
	var sps, pps []byte
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
	}
	if sps != nil && pps != nil {
		st.updateParams(sps, pps)
		return nalus
	}
	csps, cpps := st.h264f.SafeParams()
	if len(csps) == 0 || len(cpps) == 0 {
		return nalus
	}
	out := make([][]byte, 0, len(nalus)+2)
	if sps == nil {
		out = append(out, csps)
	}
	if pps == nil {
		out = append(out, cpps)
	}
	return append(out, nalus...)
}

// remember keeps a frame's packets for readers that join later: from the
// last key frame on, at most maxCache packets (beyond that a joiner waits
// for the next key frame). Called with mu held.
func (st *stream) remember(pkts []*rtp.Packet, key bool, ntp time.Time) {
	if key {
		st.cache, st.cacheValid = st.cache[:0], true
	}
	if !st.cacheValid {
		return
	}
	if len(st.cache)+len(pkts) > st.maxCache {
		clear(st.cache)
		st.cache, st.cacheValid = st.cache[:0], false
		return
	}
	for _, p := range pkts {
		st.cache = append(st.cache, cached{p, ntp})
	}
}

// forget drops the cache (a new feeder starts from the hub's key frame).
// Called with mu held.
func (st *stream) forget() {
	clear(st.cache)
	st.cache, st.cacheValid = st.cache[:0], false
}
