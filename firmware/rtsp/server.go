package rtsp

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"github.com/doorbelld/doorbelld/capture/live"
	"github.com/doorbelld/doorbelld/firmware/ratelog"
)

// realm is the Basic authentication realm.
const realm = "doorbelld"

// logEvery is how often one kind of refusal may be logged.
const logEvery = time.Minute

// Server is the RTSP server. New starts nothing; Start binds the ports,
// Run serves until its context ends.
type Server struct {
	opts Options
	path string // "/" + Options.Path
	log  *slog.Logger
	keys *ratelog.Keys

	srv *gortsplib.Server
	ln  *listener
	udp []*net.UDPConn

	mu                         sync.Mutex
	started                    bool
	cur                        *stream
	sessions                   map[*gortsplib.ServerSession]*session
	pending                    map[*gortsplib.ServerConn]*stream // write lock held until the PLAY response
	closedPackets, closedBytes uint64                            // of streams already closed

	feeders sync.WaitGroup

	challenged, refusedAuth, refusedPrivacy, refusedNoCamera, refusedBusy atomic.Uint64
	endedPrivacy, feeds, framesSent, framesSkipped, dropped               atomic.Uint64
	replayedPackets, replayedBytes                                        atomic.Uint64
	audioFeeds, audioChunks, audioPackets, audioSkipped, audioFailures    atomic.Uint64
	talkSessions, talkRefused, talkPackets, talkSamples                   atomic.Uint64
	talkLate, talkLost, talkDropped                                       atomic.Uint64
}

// session is what the server knows of one RTSP session.
type session struct {
	user, remote string
	stream       *stream
	playing      bool
	audio        bool  // playing with the audio media set up
	talk         *talk // playing with the back-channel set up
	since        time.Time
}

// connState is kept per connection: who authenticated on it, so that
// the (slow, hashed) password check runs once per connection, not once
// per request. key is a hash of the Authorization header, not the header.
type connState struct {
	authed bool
	key    [32]byte
	user   string
}

// Stats are the server's counters.
type Stats struct {
	Conns    int // open TCP connections
	Sessions int // RTSP sessions (set up or playing)
	Readers  int // sessions playing

	RefusedConns    uint64 // closed at once: MaxConns open
	RefusedTunnels  uint64 // HTTP/WebSocket tunnel attempts
	Challenged      uint64 // requests without credentials (answered 401 + challenge)
	RefusedAuth     uint64 // wrong credentials
	RefusedPrivacy  uint64 // requests refused with 403: privacy mode
	RefusedNoCamera uint64 // requests refused with 503: no camera
	RefusedBusy     uint64 // SETUPs refused: MaxSessions
	EndedPrivacy    uint64 // reader sessions ended because privacy switched on

	Feeds         uint64 // viewers opened at the source
	FramesSent    uint64 // frames packetized and written to the stream
	FramesSkipped uint64 // frames not sendable (bad JPEG, bad access unit)
	PacketsSent   uint64 // RTP packets queued to readers (one per reader)
	BytesSent     uint64 // their bytes
	Dropped       uint64 // packets dropped: a reader's write queue was full

	AudioFeeds    uint64 // microphone feeds opened
	AudioChunks   uint64 // microphone chunks encoded
	AudioPackets  uint64 // audio RTP packets written to the stream (once for all readers)
	AudioSkipped  uint64 // chunks not usable (rate, channels)
	AudioFailures uint64 // microphone failures (no sound for a while, the video went on)

	TalkSessions uint64 // back-channel sessions that started a talk
	TalkRefused  uint64 // back-channel sessions the Talker refused (they play without sound)
	TalkPackets  uint64 // back-channel RTP packets received
	TalkSamples  uint64 // samples written to a TalkSink
	TalkLate     uint64 // packets dropped: late or repeated (by sequence number)
	TalkLost     uint64 // packets missing (gaps in sequence numbers)
	TalkDropped  uint64 // packets dropped: no sink (the Talker refused) or the talk had ended
}

// New returns a server; it starts nothing.
func New(opts Options) *Server {
	return &Server{opts: opts}
}

// Start checks the options and binds the RTSP port (and the UDP pair);
// a taken port fails here, naming the address.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("rtsp: already started")
	}
	s.opts.ensureDefaults()
	if err := s.opts.validate(); err != nil {
		return err
	}
	s.path = "/" + s.opts.Path
	s.log = s.opts.Logger
	s.keys = ratelog.New(logEvery, 64)
	s.sessions = map[*gortsplib.ServerSession]*session{}
	s.pending = map[*gortsplib.ServerConn]*stream{}

	raw, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("rtsp: listen on %s: %w", s.opts.Listen, err)
	}
	s.ln = &listener{Listener: raw, s: s, maxConns: s.opts.MaxConns, readTimeout: s.opts.ReadTimeout, tlsConfig: s.opts.TLSConfig}
	s.srv = &gortsplib.Server{
		Handler:        &handler{s},
		RTSPAddress:    raw.Addr().String(),
		ReadTimeout:    s.opts.ReadTimeout,
		WriteTimeout:   s.opts.WriteTimeout,
		IdleTimeout:    s.opts.IdleTimeout,
		WriteQueueSize: s.opts.WriteQueueSize,
		TLSConfig:      s.opts.TLSConfig,
		AuthMethods:    []auth.VerifyMethod{auth.VerifyMethodBasic},
		Listen:         func(string, string) (net.Listener, error) { return s.ln, nil },
	}
	if s.opts.TLSConfig != nil {
		// s.ln does the TLS handshake itself, after the connection limit.
		s.srv.TLSListen = func(string, string, *tls.Config) (net.Listener, error) { return s.ln, nil }
	}
	if s.opts.UDPRTPPort != 0 {
		host, _, _ := net.SplitHostPort(s.opts.Listen)
		rtpc, rtcpc, err := listenUDPPair(host, s.opts.UDPRTPPort)
		if err != nil {
			raw.Close()
			return err
		}
		s.udp = []*net.UDPConn{rtpc, rtcpc}
		s.srv.UDPRTPAddress = rtpc.LocalAddr().String()
		s.srv.UDPRTCPAddress = rtcpc.LocalAddr().String()
		s.srv.ListenPacket = func(_, addr string) (net.PacketConn, error) {
			for _, c := range s.udp {
				if c.LocalAddr().String() == addr {
					return c, nil
				}
			}
			return nil, fmt.Errorf("rtsp: no bound UDP socket for %s", addr)
		}
	}
	if err := s.srv.Start(); err != nil {
		raw.Close()
		for _, c := range s.udp {
			c.Close()
		}
		return fmt.Errorf("rtsp: start on %s: %w", s.opts.Listen, err)
	}
	s.started = true
	s.log.Info("rtsp: listening", "addr", raw.Addr().String(), "path", s.path,
		"tls", s.opts.TLSConfig != nil, "udp", s.srv.UDPRTPAddress, "open", s.opts.Auth.Open())
	return nil
}

// listenUDPPair binds an even RTP port and the RTCP port above it; for
// AutoUDP it tries free ports until it finds such a pair.
func listenUDPPair(host string, port int) (*net.UDPConn, *net.UDPConn, error) {
	bind := func(p int) (*net.UDPConn, error) {
		addr, err := net.ResolveUDPAddr("udp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			return nil, err
		}
		return net.ListenUDP("udp", addr)
	}
	if port != AutoUDP {
		a, err := bind(port)
		if err != nil {
			return nil, nil, fmt.Errorf("rtsp: listen on udp %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
		}
		b, err := bind(port + 1)
		if err != nil {
			a.Close()
			return nil, nil, fmt.Errorf("rtsp: listen on udp %s: %w", net.JoinHostPort(host, strconv.Itoa(port+1)), err)
		}
		return a, b, nil
	}
	for range 64 {
		a, err := bind(0)
		if err != nil {
			return nil, nil, fmt.Errorf("rtsp: listen on udp %s: %w", net.JoinHostPort(host, "0"), err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 || p >= 65535 {
			a.Close()
			continue
		}
		b, err := bind(p + 1)
		if err != nil {
			a.Close()
			continue
		}
		return a, b, nil
	}
	return nil, nil, fmt.Errorf("rtsp: listen on udp %s: no free even/odd port pair found", host)
}

// Addr is the bound RTSP address (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// UDPPorts are the bound RTP and RTCP ports, 0 when UDP is off.
func (s *Server) UDPPorts() (rtpPort, rtcpPort int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.udp) != 2 {
		return 0, 0
	}
	return s.udp[0].LocalAddr().(*net.UDPAddr).Port, s.udp[1].LocalAddr().(*net.UDPAddr).Port
}

// Run serves until ctx ends (then it closes every session and returns
// nil) or the server fails. It calls Start if that was not done.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		if err := s.Start(); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Wait() }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.srv.Close() // closes sessions: OnSessionClose stops the feeders
	s.mu.Lock()
	if s.cur != nil {
		s.endStreamLocked(s.cur)
	}
	s.mu.Unlock()
	s.feeders.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("rtsp: serve on %s: %w", s.opts.Listen, err)
}

// Stats returns the counters now.
func (s *Server) Stats() Stats {
	st := Stats{
		Challenged:      s.challenged.Load(),
		RefusedAuth:     s.refusedAuth.Load(),
		RefusedPrivacy:  s.refusedPrivacy.Load(),
		RefusedNoCamera: s.refusedNoCamera.Load(),
		RefusedBusy:     s.refusedBusy.Load(),
		EndedPrivacy:    s.endedPrivacy.Load(),
		Feeds:           s.feeds.Load(),
		FramesSent:      s.framesSent.Load(),
		FramesSkipped:   s.framesSkipped.Load(),
		Dropped:         s.dropped.Load(),
		AudioFeeds:      s.audioFeeds.Load(),
		AudioChunks:     s.audioChunks.Load(),
		AudioPackets:    s.audioPackets.Load(),
		AudioSkipped:    s.audioSkipped.Load(),
		AudioFailures:   s.audioFailures.Load(),
		TalkSessions:    s.talkSessions.Load(),
		TalkRefused:     s.talkRefused.Load(),
		TalkPackets:     s.talkPackets.Load(),
		TalkSamples:     s.talkSamples.Load(),
		TalkLate:        s.talkLate.Load(),
		TalkLost:        s.talkLost.Load(),
		TalkDropped:     s.talkDropped.Load(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		st.Conns = s.ln.openConns()
		st.RefusedConns = s.ln.refused.Load()
		st.RefusedTunnels = s.ln.tunnels.Load()
	}
	st.Sessions = len(s.sessions)
	for _, ss := range s.sessions {
		if ss.playing {
			st.Readers++
		}
	}
	st.PacketsSent, st.BytesSent = s.closedPackets, s.closedBytes
	if s.cur != nil {
		ss := s.cur.ss.Stats()
		st.PacketsSent += ss.OutboundRTPPackets
		st.BytesSent += ss.OutboundBytes
	}
	st.PacketsSent += s.replayedPackets.Load()
	st.BytesSent += s.replayedBytes.Load()
	return st
}

// warnLimited logs a refusal of one kind at most once per logEvery, with
// how many were left out.
func (s *Server) warnLimited(kind, msg string, attrs ...any) {
	v := s.keys.Allow(s.opts.Clock.Now(), kind)
	if !v.OK {
		return
	}
	if v.Suppressed > 0 {
		attrs = append(attrs, "suppressed", v.Suppressed)
	}
	s.log.Warn(msg, attrs...)
}

// refusal answers a Source error.
func (s *Server) refusal(sc *gortsplib.ServerConn, method base.Method, err error) *base.Response {
	remote := sc.NetConn().RemoteAddr().String()
	switch {
	case errors.Is(err, live.ErrPrivate):
		s.refusedPrivacy.Add(1)
		s.warnLimited("privacy", "rtsp: refused: privacy mode is on", "remote", remote, "method", method)
		return &base.Response{StatusCode: base.StatusForbidden, StatusMessage: "Forbidden (privacy mode is on)"}
	case errors.Is(err, live.ErrNoCamera):
		s.refusedNoCamera.Add(1)
		s.warnLimited("nocamera", "rtsp: refused: camera not streaming", "remote", remote, "method", method)
		return &base.Response{StatusCode: base.StatusServiceUnavailable, StatusMessage: "Service Unavailable (camera not streaming)"}
	case errors.Is(err, errBadJPEG):
		s.warnLimited("format", "rtsp: refused: format not sendable", "remote", remote, "err", err)
		return &base.Response{StatusCode: base.StatusUnsupportedMediaType, StatusMessage: "Unsupported Media Type (" + err.Error() + ")"}
	default:
		s.warnLimited("source", "rtsp: refused: source failed", "remote", remote, "method", method, "err", err)
		return &base.Response{StatusCode: base.StatusServiceUnavailable, StatusMessage: "Service Unavailable (camera error)"}
	}
}

// currentStream returns the stream for the camera's format now, making a
// new one (and ending the old) when the format changed.
func (s *Server) currentStream(sc *gortsplib.ServerConn, method base.Method) (*stream, *base.Response) {
	info, err := s.opts.Source.Info()
	if err != nil {
		return nil, s.refusal(sc, method, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.cur; st != nil && !st.closed && st.sameFormat(info) {
		if info.Codec == live.H264 {
			st.updateParams(info.SPS, info.PPS)
		}
		return st, nil
	}
	st, err := newStream(s.srv, info, s.opts.WriteQueueSize/2, s.opts.Audio != nil, s.opts.Talk != nil)
	if err != nil {
		if errors.Is(err, errBadJPEG) {
			return nil, s.refusal(sc, method, err)
		}
		return nil, s.refusal(sc, method, fmt.Errorf("rtsp: stream for %s %dx%d: %w", info.Codec, info.Width, info.Height, err))
	}
	if old := s.cur; old != nil {
		s.endStreamLocked(old)
	}
	s.cur = st
	s.log.Info("rtsp: stream", "codec", info.Codec, "width", info.Width, "height", info.Height, "fps", info.FPS)
	return st, nil
}

// endStreamLocked closes a stream and every session on it. Called with mu
// held; closing only cancels, so session callbacks that take mu run later.
func (s *Server) endStreamLocked(st *stream) {
	if st.closed {
		return
	}
	st.closed = true
	if s.cur == st {
		s.cur = nil
	}
	if st.feed != nil {
		st.feed.cancel()
		st.feed = nil
	}
	if st.afeed != nil {
		st.afeed.cancel()
		st.afeed = nil
	}
	st.ss.Close()
	stats := st.ss.Stats()
	s.closedPackets += stats.OutboundRTPPackets
	s.closedBytes += stats.OutboundBytes
}

// startFeed runs a feeder for st from v. Called with st.mu and s.mu held.
func (s *Server) startFeed(st *stream, v Viewer) {
	ctx, cancel := context.WithCancel(context.Background())
	st.feed = &feed{cancel: cancel}
	st.forget()
	s.feeds.Add(1)
	s.feeders.Add(1)
	go s.runFeed(ctx, st, v)
}

// runFeed hands the viewer's frames to the stream until ctx ends (the
// last reader left) or the source ends the stream.
func (s *Server) runFeed(ctx context.Context, st *stream, v Viewer) {
	defer s.feeders.Done()
	defer v.Close()
	for {
		f, err := v.Next(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.endFeed(st, err)
			return
		}
		st.mu.Lock()
		if ctx.Err() != nil {
			st.mu.Unlock()
			return
		}
		err = s.writeFrame(st, f)
		st.mu.Unlock()
		if errors.Is(err, errFormat) {
			s.endFeed(st, fmt.Errorf("%w: %w", live.ErrFormatChanged, err))
			return
		}
		if err != nil {
			s.framesSkipped.Add(1)
			s.warnLimited("frame", "rtsp: frame skipped", "seq", f.Seq, "err", err)
		}
	}
}

// writeFrame packetizes f once and writes it to every reader of st.
// Called with st.mu held.
func (s *Server) writeFrame(st *stream, f *live.Frame) error {
	pkts, key, err := st.packetize(f)
	if err != nil {
		return err
	}
	ts := st.timestamp(f.At)
	for _, p := range pkts {
		p.Timestamp = ts
		if err := st.ss.WritePacketRTPWithNTP(st.media, p, f.At); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	st.remember(pkts, key, f.At)
	s.framesSent.Add(1)
	return nil
}

// endFeed ends st because the source ended the viewer (or the
// microphone's feed: privacy); only the first of them counts and logs.
func (s *Server) endFeed(st *stream, err error) {
	s.mu.Lock()
	if st.closed {
		s.mu.Unlock()
		return
	}
	n := st.playing
	if errors.Is(err, live.ErrPrivate) {
		// Counted before the sessions close, so whoever sees them closed
		// sees the count too.
		s.endedPrivacy.Add(uint64(n))
	}
	s.endStreamLocked(st)
	s.mu.Unlock()
	switch {
	case errors.Is(err, live.ErrPrivate):
		s.log.Info("rtsp: privacy mode on: reader sessions closed", "readers", n)
	case errors.Is(err, live.ErrFormatChanged):
		s.log.Info("rtsp: camera format changed: reader sessions closed", "readers", n, "err", err)
	default:
		s.log.Info("rtsp: stream ended: reader sessions closed", "readers", n, "err", err)
	}
}

// basicCredentials parses a Basic Authorization header (the password may
// contain ':').
func basicCredentials(h base.HeaderValue) (user, pass string, ok bool) {
	if len(h) != 1 {
		return "", "", false
	}
	scheme, rest, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(dec), ":")
	return user, pass, ok && user != ""
}

// authenticate checks a request's credentials. It returns the user, or a
// response (401) and an error to return from the handler.
func (s *Server) authenticate(sc *gortsplib.ServerConn, req *base.Request) (string, *base.Response, error) {
	if s.opts.Auth.Open() {
		return "", nil, nil
	}
	challenge := func() *base.Response {
		return &base.Response{
			StatusCode: base.StatusUnauthorized,
			Header:     base.Header{"WWW-Authenticate": base.HeaderValue{`Basic realm="` + realm + `"`}},
		}
	}
	h := req.Header["Authorization"]
	if len(h) == 0 {
		s.challenged.Add(1)
		return "", challenge(), nil
	}
	cs, _ := sc.UserData().(*connState)
	key := sha256.Sum256([]byte(strings.Join(h, "\n")))
	if cs != nil && cs.authed && cs.key == key {
		return cs.user, nil, nil
	}
	user, pass, ok := basicCredentials(h)
	if !ok || !s.opts.Auth.Check(user, pass) {
		n := s.refusedAuth.Add(1)
		s.warnLimited("auth", "rtsp: refused: wrong credentials", "remote", sc.NetConn().RemoteAddr().String(), "refused_total", n)
		// ErrServerAuth makes gortsplib close the connection after the
		// answer: one guess per connection.
		return "", challenge(), liberrors.ErrServerAuth{}
	}
	if cs != nil {
		cs.authed, cs.key, cs.user = true, key, user
	}
	return user, nil, nil
}

func displayUser(u string) string {
	if u == "" {
		return "-"
	}
	return u
}
