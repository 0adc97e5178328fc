package rtsp

import (
	"errors"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/doorbelld/doorbelld/firmware/audit"
)

// handler receives gortsplib's callbacks; a separate type so that they
// are not part of Server's API.
type handler struct{ s *Server }

var (
	_ gortsplib.ServerHandlerOnConnOpen         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnConnClose        = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSessionOpen      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSessionClose     = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDescribe         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSetup            = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPlay             = (*handler)(nil)
	_ gortsplib.ServerHandlerOnResponse         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnStreamWriteError = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPacketsLost      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDecodeError      = (*handler)(nil)
)

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	ctx.Conn.SetUserData(&connState{})
	h.s.log.Debug("rtsp: connection opened", "remote", ctx.Conn.NetConn().RemoteAddr().String())
}

func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.s.log.Debug("rtsp: connection closed", "remote", ctx.Conn.NetConn().RemoteAddr().String(), "err", ctx.Error)
}

func (h *handler) OnSessionOpen(ctx *gortsplib.ServerHandlerOnSessionOpenCtx) {
	s := h.s
	s.mu.Lock()
	s.sessions[ctx.Session] = &session{remote: ctx.Conn.NetConn().RemoteAddr().String()}
	s.mu.Unlock()
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	s := h.s
	s.mu.Lock()
	sess := s.sessions[ctx.Session]
	delete(s.sessions, ctx.Session)
	if sess != nil && sess.playing {
		st := sess.stream
		st.playing--
		if st.playing == 0 && st.feed != nil {
			// The last reader left: close the viewer, the hub does no
			// more work for RTSP.
			st.feed.cancel()
			st.feed = nil
		}
		if sess.audio {
			st.audioPlaying--
			if st.audioPlaying == 0 && st.afeed != nil {
				st.afeed.cancel() // and the microphone's feed
				st.afeed = nil
			}
		}
	}
	s.mu.Unlock()
	if sess != nil && sess.talk != nil {
		sess.talk.close(ctx.Error)
	}
	if sess != nil && sess.playing {
		stats := ctx.Session.Stats()
		dur := s.opts.Clock.Since(sess.since)
		s.log.Info("rtsp: reader stopped", "user", displayUser(sess.user), "remote", sess.remote,
			"duration", dur.Round(1e6), "bytes", stats.OutboundBytes, "reason", ctx.Error)
		if s.opts.Audit != nil {
			s.opts.Audit(audit.Entry{Action: audit.ActionLive, Actor: actor(sess.user), From: sess.remote, Object: s.path,
				Outcome: audit.OK, Reason: "rtsp", Duration: dur.Seconds()})
		}
	}
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	s := h.s
	if _, res, err := s.authenticate(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	if ctx.Path != s.path {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	st, res := s.currentStream(ctx.Conn, base.Describe)
	if res != nil {
		return res, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st.ss, nil
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	s := h.s
	user, res, err := s.authenticate(ctx.Conn, ctx.Request)
	if res != nil {
		return res, nil, err
	}
	if ctx.Path != s.path {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	s.mu.Lock()
	sess := s.sessions[ctx.Session]
	if sess == nil {
		s.mu.Unlock()
		return &base.Response{StatusCode: base.StatusSessionNotFound}, nil, nil
	}
	if st := sess.stream; st != nil {
		// A second SETUP of the same session must get the same stream
		// (gortsplib insists).
		s.mu.Unlock()
		if st.closed {
			return &base.Response{StatusCode: base.StatusServiceUnavailable, StatusMessage: "Service Unavailable (stream ended)"}, nil, nil
		}
		return &base.Response{StatusCode: base.StatusOK}, st.ss, nil
	}
	if len(s.sessions) > s.opts.MaxSessions {
		s.mu.Unlock()
		n := s.refusedBusy.Add(1)
		s.warnLimited("busy", "rtsp: refused: too many sessions", "remote", ctx.Conn.NetConn().RemoteAddr().String(),
			"max_sessions", s.opts.MaxSessions, "refused_total", n)
		return &base.Response{StatusCode: base.StatusServiceUnavailable, StatusMessage: "Service Unavailable (too many viewers)"}, nil, nil
	}
	s.mu.Unlock()
	st, res := s.currentStream(ctx.Conn, base.Setup)
	if res != nil {
		return res, nil, nil
	}
	s.mu.Lock()
	sess.user, sess.stream = user, st
	s.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, st.ss, nil
}

func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	s := h.s
	if _, res, err := s.authenticate(ctx.Conn, ctx.Request); res != nil {
		return res, err
	}
	s.mu.Lock()
	sess := s.sessions[ctx.Session]
	var st *stream
	if sess != nil {
		st = sess.stream
	}
	s.mu.Unlock()
	if st == nil {
		return &base.Response{StatusCode: base.StatusMethodNotValidInThisState}, nil
	}
	// Privacy may have switched on since SETUP.
	if _, err := s.opts.Source.Info(); err != nil {
		return s.refusal(ctx.Conn, base.Play, err), nil
	}

	st.mu.Lock() // released in OnResponse, once the session is in the stream
	locked := true
	defer func() {
		if locked {
			st.mu.Unlock()
		}
	}()
	s.mu.Lock()
	if st.closed {
		s.mu.Unlock()
		return &base.Response{StatusCode: base.StatusServiceUnavailable, StatusMessage: "Service Unavailable (stream ended)"}, nil
	}
	if sess.playing { // PLAY again
		s.mu.Unlock()
		return &base.Response{StatusCode: base.StatusOK}, nil
	}
	feeding := st.feed != nil
	s.mu.Unlock()

	if !feeding {
		v, err := s.opts.Source.Subscribe("rtsp")
		if err != nil {
			return s.refusal(ctx.Conn, base.Play, err), nil
		}
		s.mu.Lock()
		if st.closed {
			s.mu.Unlock()
			v.Close()
			return &base.Response{StatusCode: base.StatusServiceUnavailable, StatusMessage: "Service Unavailable (stream ended)"}, nil
		}
		s.startFeed(st, v)
		s.mu.Unlock()
	} else {
		h.catchUp(ctx.Session, st)
	}

	var withAudio, withBack bool
	for _, m := range ctx.Session.Medias() {
		withAudio = withAudio || m == st.audio && m != nil
		withBack = withBack || m == st.back && m != nil
	}
	var t *talk
	if withBack {
		// Authenticated above, like watching: the same user may talk
		// (from the first packet on).
		t = s.startTalk(ctx.Session, st.back, sess.user, sess.remote)
	}

	s.mu.Lock()
	st.playing++
	sess.playing = true
	sess.since = s.opts.Clock.Now()
	sess.talk = t
	if withAudio {
		sess.audio = true
		st.audioPlaying++
		if st.afeed == nil && !st.closed {
			s.startAudio(st)
		}
	}
	s.pending[ctx.Conn] = st
	s.mu.Unlock()
	locked = false
	s.log.Info("rtsp: reader started", "user", displayUser(sess.user), "remote", sess.remote,
		"transport", ctx.Session.Transport().Protocol.String(), "tls", s.opts.TLSConfig != nil, "codec", st.info.Codec,
		"audio", withAudio, "talk", withBack)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// catchUp sends a joining reader the packets since the last key frame,
// with the sequence numbers the other readers got them with, so that its
// decoder starts now. Called with st.mu held, before the session is in
// the stream.
func (h *handler) catchUp(ss *gortsplib.ServerSession, st *stream) {
	if !st.cacheValid {
		return
	}
	for _, c := range st.cache {
		if err := ss.WritePacketRTPWithNTP(st.media, c.pkt, c.ntp); err != nil {
			h.OnStreamWriteError(&gortsplib.ServerHandlerOnStreamWriteErrorCtx{Session: ss, Error: err})
			return
		}
		h.s.replayedPackets.Add(1)
		h.s.replayedBytes.Add(uint64(c.pkt.MarshalSize()))
	}
}

// OnResponse releases the write lock a PLAY took, now that gortsplib has
// added the session to the stream.
func (h *handler) OnResponse(sc *gortsplib.ServerConn, _ *base.Response) {
	s := h.s
	s.mu.Lock()
	st := s.pending[sc]
	delete(s.pending, sc)
	s.mu.Unlock()
	if st != nil {
		st.mu.Unlock()
	}
}

func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	s := h.s
	var full liberrors.ErrServerWriteQueueFull
	if errors.As(ctx.Error, &full) {
		n := s.dropped.Add(1)
		s.warnLimited("dropped", "rtsp: reader too slow: packets dropped", "dropped_total", n)
		return
	}
	s.warnLimited("write", "rtsp: write to reader failed", "err", ctx.Error)
}

// OnPacketsLost is called for gaps in back-channel packets; talk counts
// them itself (by sequence number, over TCP too), so this only keeps
// gortsplib from logging on its own.
func (h *handler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	h.s.log.Debug("rtsp: back-channel packets lost", "lost", ctx.Lost)
}

// OnDecodeError logs undecodable packets from clients (RTCP, the
// back-channel's RTP), rate-limited.
func (h *handler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	h.s.warnLimited("decode", "rtsp: undecodable packet from a client", "err", ctx.Error)
}
