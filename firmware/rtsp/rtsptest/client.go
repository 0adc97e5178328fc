package rtsptest

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmjpeg"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/pion/rtp"
)

// Reader is a gortsplib client playing a stream and decoding its frames,
// for tests of the server (and of the daemon that runs it).
type Reader struct {
	c      *gortsplib.Client
	frames chan [][]byte // JPEG: one element; H.264: the NALUs of an access unit
	done   chan error    // the session's end
}

// Play DESCRIBEs, SETUPs (over proto) and PLAYs url, an MJPEG or H.264
// stream, or returns the error of the first request that failed. A
// rtsps:// URL is dialled with tc. The client is closed when the test
// ends. Frames beyond 4096 unread ones are dropped.
func Play(t testing.TB, url string, proto gortsplib.Protocol, tc *tls.Config) (*Reader, error) {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &proto, TLSConfig: tc}
	if err := c.Start(); err != nil {
		return nil, err
	}
	desc, _, err := c.Describe(u)
	if err != nil {
		c.Close()
		return nil, err
	}
	r := &Reader{c: c, frames: make(chan [][]byte, 4096), done: make(chan error, 1)}
	put := func(f [][]byte) {
		select {
		case r.frames <- f:
		default:
		}
	}
	var mj *format.MJPEG
	var hf *format.H264
	medi := desc.FindFormat(&mj)
	if medi == nil {
		medi = desc.FindFormat(&hf)
	}
	if medi == nil {
		c.Close()
		t.Fatalf("no MJPEG or H.264 media in %v", desc.Medias)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		c.Close()
		return nil, err
	}
	if mj != nil {
		dec, err := mj.CreateDecoder()
		if err != nil {
			c.Close()
			t.Fatal(err)
		}
		c.OnPacketRTP(medi, mj, func(p *rtp.Packet) {
			if img, err := dec.Decode(p); err == nil {
				put([][]byte{img})
			} else if !errors.Is(err, rtpmjpeg.ErrMorePacketsNeeded) && !errors.Is(err, rtpmjpeg.ErrNonStartingPacketAndNoPrevious) {
				t.Errorf("rtsp: mjpeg decode: %v", err)
			}
		})
	} else {
		dec, err := hf.CreateDecoder()
		if err != nil {
			c.Close()
			t.Fatal(err)
		}
		c.OnPacketRTP(medi, hf, func(p *rtp.Packet) {
			if au, err := dec.Decode(p); err == nil {
				put(au)
			} else if !errors.Is(err, rtph264.ErrMorePacketsNeeded) && !errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
				t.Errorf("rtsp: h264 decode: %v", err)
			}
		})
	}
	if _, err := c.Play(nil); err != nil {
		c.Close()
		return nil, err
	}
	go func() { r.done <- c.Wait() }()
	t.Cleanup(c.Close)
	return r, nil
}

// Next returns the next frame decoded: a JPEG's one element, or an H.264
// access unit's NALUs. It fails the test when the session ends or no
// frame comes within wait.
func (r *Reader) Next(t testing.TB, wait time.Duration) [][]byte {
	t.Helper()
	select {
	case f := <-r.frames:
		return f
	case err := <-r.done:
		t.Fatalf("rtsp session ended: %v", err)
	case <-time.After(wait):
		t.Fatalf("no RTSP frame in %v", wait)
	}
	return nil
}

// Done delivers the session's end (its error).
func (r *Reader) Done() <-chan error { return r.done }

// Close ends the session.
func (r *Reader) Close() { r.c.Close() }

// Status is the status code of a refused request's error, or 0.
func Status(err error) base.StatusCode {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		return bad.Code
	}
	return 0
}

// Frames delivers the decoded frames, as Next takes them.
func (r *Reader) Frames() <-chan [][]byte { return r.frames }

// Client is the gortsplib client (its transport, say).
func (r *Reader) Client() *gortsplib.Client { return r.c }

// AudioPacket is one packet of a stream's audio track, decoded.
type AudioPacket struct {
	Seq     uint16
	TS      uint32
	Marker  bool
	Samples []int16 // µ-law decoded
}

// AVReader plays every media of a stream (video and the PCMU audio
// track): it counts whole video frames (RTP marker bits) and decodes the
// audio packets.
type AVReader struct {
	c      *gortsplib.Client
	Desc   *description.Session
	Audio  *description.Media // nil when the stream has no audio track
	frames chan struct{}
	audio  chan AudioPacket
	done   chan error
}

// PlayAV DESCRIBEs url, SETUPs all its medias over TCP and PLAYs, or
// returns the first request's error. The client is closed when the test
// ends; beyond 4096 unread frames or audio packets, they are dropped.
func PlayAV(t testing.TB, url string) (*AVReader, error) {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	proto := gortsplib.ProtocolTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &proto}
	if err := c.Start(); err != nil {
		return nil, err
	}
	desc, _, err := c.Describe(u)
	if err != nil {
		c.Close()
		return nil, err
	}
	r := &AVReader{c: c, Desc: desc, frames: make(chan struct{}, 4096), audio: make(chan AudioPacket, 4096), done: make(chan error, 1)}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		c.Close()
		return nil, err
	}
	for _, m := range desc.Medias {
		var g *format.G711
		for _, f := range m.Formats {
			if f, ok := f.(*format.G711); ok && f.MULaw {
				g = f
			}
		}
		switch {
		case m.Type == description.MediaTypeVideo:
			c.OnPacketRTP(m, m.Formats[0], func(p *rtp.Packet) {
				if p.Marker {
					select {
					case r.frames <- struct{}{}:
					default:
					}
				}
			})
		case g != nil:
			r.Audio = m
			c.OnPacketRTP(m, g, func(p *rtp.Packet) {
				var pcm g711.Mulaw
				pcm.Unmarshal(p.Payload)
				s := make([]int16, len(pcm)/2)
				for i := range s {
					s[i] = int16(uint16(pcm[2*i])<<8 | uint16(pcm[2*i+1]))
				}
				select {
				case r.audio <- AudioPacket{Seq: p.SequenceNumber, TS: p.Timestamp, Marker: p.Marker, Samples: s}:
				default:
				}
			})
		}
	}
	if _, err := c.Play(nil); err != nil {
		c.Close()
		return nil, err
	}
	go func() { r.done <- c.Wait() }()
	t.Cleanup(c.Close)
	return r, nil
}

// NextFrame waits for the end of a video frame; it fails the test when
// the session ends or none comes within wait.
func (r *AVReader) NextFrame(t testing.TB, wait time.Duration) {
	t.Helper()
	select {
	case <-r.frames:
	case err := <-r.done:
		t.Fatalf("rtsp session ended: %v", err)
	case <-time.After(wait):
		t.Fatalf("no video frame in %v", wait)
	}
}

// NextAudio waits for the next audio packet, as NextFrame.
func (r *AVReader) NextAudio(t testing.TB, wait time.Duration) AudioPacket {
	t.Helper()
	select {
	case p := <-r.audio:
		return p
	case err := <-r.done:
		t.Fatalf("rtsp session ended: %v", err)
	case <-time.After(wait):
		t.Fatalf("no audio packet in %v", wait)
	}
	return AudioPacket{}
}

// Done delivers the session's end (its error).
func (r *AVReader) Done() <-chan error { return r.done }

// Close ends the session.
func (r *AVReader) Close() { r.c.Close() }
