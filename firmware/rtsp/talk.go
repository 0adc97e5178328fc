package rtsp

import (
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/jonboulle/clockwork"
	"github.com/pion/rtp"

	"github.com/doorbelld/doorbelld/firmware/audit"
)

// TalkIdle ends a talk after this long without a back-channel packet:
// go2rtc keeps the back-channel of a session open while nobody speaks,
// and an open talk holds the speaker (quick replies wait). The next
// packet begins a new talk (logged and audited on its own).
const TalkIdle = 3 * time.Second

// maxMisorder is how far back (in sequence numbers) a packet counts as
// late; further back, the sender restarted its numbering (RFC 3550
// appendix A.1's MAX_MISORDER).
const maxMisorder = 100

// talk is one back-channel session: the voice a client sends, decoded
// and handed to a TalkSink in sequence-number order (late and repeated
// packets are dropped, gaps counted).
type talk struct {
	s            *Server
	user, remote string
	since        time.Time // set by begin

	mu                                    sync.Mutex
	idle                                  clockwork.Timer // ends the talk TalkIdle after the last packet
	begun                                 bool            // StartTalk was called (at the first packet)
	sink                                  TalkSink        // nil: not begun, or StartTalk failed: packets are dropped
	closed                                bool
	started                               bool // a packet was played: ssrc and last are set
	ssrc                                  uint32
	last                                  uint16 // sequence number of the last packet played
	packets, samples, late, lost, dropped uint64
}

// startTalk prepares the talk of a session that set up the
// back-channel: it registers the packet callbacks; the talk itself
// (Talk.StartTalk) begins with the first packet, because clients such
// as go2rtc set the back-channel up on every connection and send on it
// only while someone speaks.
func (s *Server) startTalk(ss *gortsplib.ServerSession, back *description.Media, user, remote string) *talk {
	t := &talk{s: s, user: user, remote: remote}
	for _, f := range back.Formats {
		ss.OnPacketRTP(back, f, func(p *rtp.Packet) { t.packet(f, p) })
	}
	return t
}

// begin starts the talk at the Talker. StartTalk failing leaves the
// session playing; its packets are dropped and counted. Called with mu
// held.
func (t *talk) begin() {
	s := t.s
	t.begun, t.since = true, s.opts.Clock.Now()
	sink, err := s.opts.Talk.StartTalk(t.user, t.remote)
	if err != nil {
		n := s.talkRefused.Add(1)
		s.warnLimited("talk", "rtsp: talk not started: the speaker refused", "user", displayUser(t.user),
			"remote", t.remote, "err", err, "refused_total", n)
		if s.opts.Audit != nil {
			s.opts.Audit(audit.Entry{Action: audit.ActionTalk, Actor: actor(t.user), From: t.remote, Object: s.path,
				Outcome: audit.Refused, Reason: "speaker: " + err.Error()})
		}
		return
	}
	t.sink = sink
	s.talkSessions.Add(1)
	s.log.Info("rtsp: talk started", "user", displayUser(t.user), "remote", t.remote)
}

// packet plays one back-channel packet. gortsplib calls it from the
// session's reading goroutine.
func (t *talk) packet(f format.Format, p *rtp.Packet) {
	s := t.s
	s.talkPackets.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.packets++
	if !t.begun && !t.closed {
		t.begin()
	}
	if t.closed || t.sink == nil {
		t.dropped++
		s.talkDropped.Add(1)
		return
	}
	if t.started && p.SSRC == t.ssrc {
		switch d := int16(p.SequenceNumber - t.last); {
		case d <= 0 && d > -maxMisorder:
			t.late++
			s.talkLate.Add(1)
			return
		case d > 1:
			t.lost += uint64(d - 1)
			s.talkLost.Add(uint64(d - 1))
		}
	}
	t.started, t.ssrc, t.last = true, p.SSRC, p.SequenceNumber
	if len(p.Payload) == 0 {
		return
	}
	out := make([]int16, len(p.Payload)) // the sink owns it
	if f.PayloadType() == ptPCMA {
		for i, b := range p.Payload {
			out[i] = alawDecode(b)
		}
	} else {
		for i, b := range p.Payload {
			out[i] = mulawDecode(b)
		}
	}
	t.sink.Write(out)
	t.samples += uint64(len(out))
	s.talkSamples.Add(uint64(len(out)))
	if t.idle == nil {
		t.idle = s.opts.Clock.AfterFunc(TalkIdle, t.idleEnd)
	} else {
		t.idle.Reset(TalkIdle)
	}
}

// idleEnd ends a talk whose client fell silent; the session plays on,
// and its next packet begins a new talk.
func (t *talk) idleEnd() {
	t.mu.Lock()
	if t.closed || t.sink == nil {
		t.mu.Unlock()
		return
	}
	sink := t.sink
	t.sink, t.begun, t.started = nil, false, false
	packets, samples, late, lost, dropped := t.packets, t.samples, t.late, t.lost, t.dropped
	t.packets, t.samples, t.late, t.lost, t.dropped = 0, 0, 0, 0, 0
	since := t.since
	t.mu.Unlock()
	t.ended(sink, since, "silent for "+TalkIdle.String(), packets, samples, late, lost, dropped)
}

// close ends the talk: the sink is closed, the session logged and
// audited.
func (t *talk) close(reason error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	if t.idle != nil {
		t.idle.Stop()
	}
	sink := t.sink
	packets, samples, late, lost, dropped := t.packets, t.samples, t.late, t.lost, t.dropped
	since := t.since
	t.mu.Unlock()
	if sink == nil {
		return
	}
	why := "session closed"
	if reason != nil {
		why = reason.Error()
	}
	t.ended(sink, since, why, packets, samples, late, lost, dropped)
}

// ended closes a talk's sink, logs and audits it.
func (t *talk) ended(sink TalkSink, since time.Time, reason string, packets, samples, late, lost, dropped uint64) {
	s := t.s
	sink.Close()
	dur := s.opts.Clock.Since(since)
	s.log.Info("rtsp: talk stopped", "user", displayUser(t.user), "remote", t.remote, "duration", dur.Round(time.Millisecond),
		"packets", packets, "samples", samples, "late", late, "lost", lost, "dropped", dropped, "reason", reason)
	if s.opts.Audit != nil {
		s.opts.Audit(audit.Entry{Action: audit.ActionTalk, Actor: actor(t.user), From: t.remote, Object: s.path,
			Outcome: audit.OK, Reason: "rtsp back-channel", Duration: dur.Seconds()})
	}
}

// actor is an audit entry's Actor for an RTSP user ("" when Auth is
// open).
func actor(user string) string {
	if user == "" {
		return "rtsp"
	}
	return "rtsp:" + user
}
