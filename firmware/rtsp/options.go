package rtsp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/live"
	"github.com/doorbelld/doorbelld/firmware/audit"
)

// Source is where the server gets the camera's live stream. The daemon
// adapts capture/live's hub to it.
type Source interface {
	// Info describes the stream now; live.ErrNoCamera or live.ErrPrivate
	// when there is nothing to show.
	Info() (live.Info, error)
	// Subscribe opens a viewer (kind "rtsp"); live.ErrPrivate,
	// live.ErrNoCamera.
	Subscribe(kind string) (Viewer, error)
}

// Viewer hands out the frames of one subscription.
type Viewer interface {
	// Next blocks until the next frame; live.ErrPrivate when privacy
	// switches on, live.ErrFormatChanged, live.ErrClosed. Frames are
	// shared and must not be modified.
	Next(ctx context.Context) (*live.Frame, error)
	// Close ends the subscription.
	Close()
}

// Auth decides who may watch.
type Auth interface {
	// Open is true when no accounts are configured: everyone may watch.
	Open() bool
	// Check reports whether user and pass are a valid account.
	Check(user, pass string) bool
}

// AudioSource is the microphone, for the stream's audio track.
type AudioSource interface {
	// SubscribeAudio starts a feed of microphone chunks (kind "rtsp").
	// live.ErrPrivate in privacy mode; any other error: no sound now.
	SubscribeAudio(kind string) (AudioFeed, error)
}

// AudioFeed hands out the microphone chunks of one subscription.
type AudioFeed interface {
	// Next blocks for the next chunk (S16 interleaved, any rate
	// 8000-48000, 1-2 channels, At = capture time); live.ErrPrivate when
	// privacy switches on, live.ErrClosed. Chunks are shared: do not
	// modify.
	Next(ctx context.Context) (capture.AudioChunk, error)
	// Close ends the subscription.
	Close()
}

// Talker plays the owner's voice from the back-channel on the door's
// speaker.
type Talker interface {
	// StartTalk begins a talk session; the sink gets 8000 Hz mono S16.
	// The server calls it at the first back-channel packet of an RTSP
	// session. user is "" when Auth is open. An error (speaker busy or
	// absent) leaves the session playing without sound.
	StartTalk(user, remote string) (TalkSink, error)
}

// TalkSink receives the decoded voice of one talk session.
type TalkSink interface {
	// Write takes samples (the sink owns the slice); it never blocks.
	Write(samples []int16)
	// Close ends the talk session.
	Close()
}

// AutoUDP as Options.UDPRTPPort picks a free even/odd port pair at Start.
const AutoUDP = -1

// Defaults of Options.
const (
	DefaultListen         = ":8554"
	DefaultMaxConns       = 32
	DefaultMaxSessions    = 16
	DefaultReadTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	DefaultWriteQueueSize = 1024
)

// Options configure a Server. Source, Auth and Path are required.
type Options struct {
	// Listen is the RTSP (TCP) address, default ":8554".
	Listen string
	// Path is the device id; the stream is rtsp://host:port/<Path>.
	// Letters, digits, '.', '_' and '-' only; a leading '/' is dropped.
	Path   string
	Source Source
	Auth   Auth
	// TLSConfig, when set, makes the server speak rtsps (RTSP over TLS,
	// media as SRTP).
	TLSConfig *tls.Config
	// UDPRTPPort is the even server port for RTP over UDP (RTCP: +1);
	// 0 disables UDP (TCP interleaved only), AutoUDP picks a free pair.
	UDPRTPPort int
	// MaxConns bounds open TCP connections (default 32); MaxSessions
	// bounds RTSP sessions, i.e. readers (default 16).
	MaxConns    int
	MaxSessions int
	// ReadTimeout bounds reading one request (and the first one after
	// connecting), WriteTimeout one write, IdleTimeout a session without
	// keep-alive. Defaults 10 s, 10 s, 60 s.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// WriteQueueSize is the number of RTP packets queued per reader
	// (a power of two, default 1024); a reader whose queue is full loses
	// packets (counted in Stats.Dropped), it never slows the others.
	WriteQueueSize int
	Logger         *slog.Logger
	// Audit, when set, records every reader's session when it ends: who
	// (Actor "rtsp:<user>"), from where, how long (audit.ActionLive).
	Audit func(audit.Entry)
	// Audio, when set, adds the microphone to each stream as a second
	// media, G.711 µ-law (PCMU, payload type 0, 8000 Hz mono). nil: video
	// only (the SDP is exactly as without this field).
	Audio AudioSource
	// Talk, when set, adds an ONVIF back-channel (G.711 µ-law or A-law,
	// 8000 Hz mono) that clients asking for it ("Require:
	// www.onvif.org/ver20/backchannel") can send their voice on; it is
	// played with Talk.StartTalk and audited (audit.ActionTalk).
	Talk Talker
	// Clock times the rate-limited log lines, session durations and the
	// microphone's retries.
	Clock clockwork.Clock
}

// ErrBadOptions is returned (wrapped) by Start for unusable Options.
var ErrBadOptions = errors.New("rtsp: bad options")

func (o *Options) ensureDefaults() {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	o.Path = strings.TrimPrefix(o.Path, "/")
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxSessions == 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.WriteQueueSize == 0 {
		o.WriteQueueSize = DefaultWriteQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

func (o *Options) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s %v: want %s", ErrBadOptions, field, v, want)
	}
	if o.Source == nil {
		return bad("Source", "nil", "a live source")
	}
	if o.Auth == nil {
		return bad("Auth", "nil", "an account store (Open() true allows everyone)")
	}
	if o.Path == "" || len(o.Path) > 64 {
		return bad("Path", fmt.Sprintf("%q", o.Path), "a device id of 1..64 characters")
	}
	for _, c := range o.Path {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return bad("Path", fmt.Sprintf("%q", o.Path), "letters, digits, '.', '_' and '-' only")
		}
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return bad("Listen", fmt.Sprintf("%q", o.Listen), "host:port")
	}
	switch p := o.UDPRTPPort; {
	case p == 0 || p == AutoUDP:
	case p < 0 || p >= 65535 || p%2 != 0:
		return bad("UDPRTPPort", p, "0 (UDP off), AutoUDP, or an even port below 65535")
	}
	if o.MaxConns < 1 || o.MaxConns > 4096 {
		return bad("MaxConns", o.MaxConns, "1..4096")
	}
	if o.MaxSessions < 1 || o.MaxSessions > o.MaxConns*4 {
		return bad("MaxSessions", o.MaxSessions, "1..4×MaxConns")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ReadTimeout", o.ReadTimeout}, {"WriteTimeout", o.WriteTimeout}, {"IdleTimeout", o.IdleTimeout}} {
		if d.v < 100*time.Millisecond || d.v > time.Hour {
			return bad(d.name, d.v, "100ms..1h")
		}
	}
	if q := o.WriteQueueSize; q < 16 || q > 1<<16 || q&(q-1) != 0 {
		return bad("WriteQueueSize", q, "a power of two in 16..65536")
	}
	return nil
}
