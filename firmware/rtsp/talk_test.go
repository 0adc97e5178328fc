package rtsp_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/jonboulle/clockwork"
	"github.com/pion/rtp"

	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/rtsp"
	"github.com/doorbelld/doorbelld/firmware/rtsp/rtsptest"
)

// talker is a client on the back-channel.
type talker struct {
	c    *gortsplib.Client
	desc *description.Session
	back *description.Media
}

// dialTalk DESCRIBEs url (asking for back-channels when ask), and when
// there is a back-channel SETUPs it with the video and PLAYs.
func dialTalk(t testing.TB, url string, ask bool, proto gortsplib.Protocol) (*talker, error) {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &proto, RequestBackChannels: ask}
	if err := c.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	desc, _, err := c.Describe(u)
	if err != nil {
		return nil, err
	}
	tk := &talker{c: c, desc: desc}
	for _, m := range desc.Medias {
		if m.IsBackChannel {
			tk.back = m
		}
	}
	if tk.back == nil {
		return tk, nil
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		return nil, err
	}
	if _, err := c.Play(nil); err != nil {
		return nil, err
	}
	return tk, nil
}

// encode returns s as G.711 (µ-law or A-law, by mediacommon) and what a
// decoder gets back from it.
func encode(t testing.TB, s []int16, mulaw bool) (enc []byte, dec []int16) {
	t.Helper()
	b := make([]byte, 2*len(s))
	for i, v := range s {
		b[2*i], b[2*i+1] = byte(uint16(v)>>8), byte(v)
	}
	var pcm []byte
	var err error
	if mulaw {
		enc, err = g711.Mulaw(b).Marshal()
		var m g711.Mulaw
		m.Unmarshal(enc)
		pcm = m
	} else {
		enc, err = g711.Alaw(b).Marshal()
		var a g711.Alaw
		a.Unmarshal(enc)
		pcm = a
	}
	if err != nil {
		t.Fatal(err)
	}
	dec = make([]int16, len(s))
	for i := range dec {
		dec[i] = int16(uint16(pcm[2*i])<<8 | uint16(pcm[2*i+1]))
	}
	return enc, dec
}

func (tk *talker) send(t testing.TB, pt uint8, seq uint16, ts uint32, payload []byte) {
	t.Helper()
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 1234}, Payload: payload}
	if err := tk.c.WritePacketRTP(tk.back, p); err != nil {
		t.Fatal(err)
	}
}

// TestTalk: a client asking for back-channels sees one offering PCMU
// and PCMA; what it sends (both laws) reaches the speaker decoded, in
// order, repeated and late packets dropped; closing the client ends the
// talk, which is logged and audited.
func TestTalk(t *testing.T) {
	src, sp := jpegSource(t), rtsptest.NewSpeaker()
	clk := clockwork.NewFakeClock()
	audits := make(chan audit.Entry, 8)
	s, url, lb := start(t, src, accounts, func(o *rtsp.Options) {
		o.Talk, o.Clock = sp, clk
		o.Audit = func(e audit.Entry) { audits <- e }
	})
	tk, err := dialTalk(t, url, true, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	if tk.back == nil {
		t.Fatalf("no back-channel in %v", tk.desc.Medias)
	}
	var pts []uint8
	for _, f := range tk.back.Formats {
		if g, ok := f.(*format.G711); !ok || g.SampleRate != 8000 || g.ChannelCount != 1 || g.MULaw != (g.PayloadTyp == 0) {
			t.Fatalf("back-channel format %+v", f)
		}
		pts = append(pts, f.PayloadType())
	}
	if len(pts) != 2 || pts[0] != 0 || pts[1] != 8 {
		t.Fatalf("back-channel payload types %v, want [0 8]", pts)
	}
	if n := len(sp.Sessions()); n != 0 {
		t.Fatalf("%d talks before the first packet", n)
	}

	// 20 packets of 20 ms of a sweep: 10 µ-law, 10 A-law; packet 3 sent
	// twice, packet 5 again after packet 8.
	var want []int16
	var packets [][]byte
	for i := 0; i < 20; i++ {
		s := make([]int16, 160)
		for j := range s {
			n := float64(i*160 + j)
			s[j] = int16(20000 * math.Sin(2*math.Pi*(200+n/4)*n/8000))
		}
		enc, dec := encode(t, s, i < 10)
		packets = append(packets, enc)
		want = append(want, dec...)
	}
	const seq0, ts0 = 65530, 1000 // the sequence numbers wrap
	pt := func(i int) uint8 {
		if i < 10 {
			return 0
		}
		return 8
	}
	for i, p := range packets {
		tk.send(t, pt(i), seq0+uint16(i), ts0+uint32(160*i), p)
		switch i {
		case 3:
			tk.send(t, pt(i), seq0+uint16(i), ts0+uint32(160*i), p)
		case 8:
			tk.send(t, pt(5), seq0+5, ts0+5*160, packets[5])
		}
	}
	ctx := waitCtx(t)
	if err := sp.Wait(ctx, "3200 samples", func(ts []*rtsptest.Talk) bool { return len(ts) == 1 && ts[0].Len() >= len(want) }); err != nil {
		t.Fatal(err)
	}
	talk := sp.Sessions()[0]
	if talk.User != "alice" || !strings.HasPrefix(talk.Remote, "127.0.0.1:") {
		t.Fatalf("talk by %q from %q, want alice from 127.0.0.1", talk.User, talk.Remote)
	}
	got := talk.Samples()
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sample %d (packet %d): %d, want %d", i, i/160, got[i], want[i])
		}
	}
	// (Counted as each packet is taken and written: wait for both.)
	waitFor(t, "counters", func() bool { st := s.Stats(); return st.TalkPackets == 22 && st.TalkSamples == 3200 })
	if st := s.Stats(); st.TalkSessions != 1 || st.TalkSamples != 3200 || st.TalkLate != 2 || st.TalkLost != 0 || st.TalkDropped != 0 {
		t.Fatalf("stats %+v: want 1 talk, 3200 samples, 2 late", st)
	}

	clk.Advance(2 * time.Second) // less than TalkIdle
	tk.c.Close()
	if err := sp.Wait(ctx, "the talk's end", func([]*rtsptest.Talk) bool { return talk.IsClosed() }); err != nil {
		t.Fatal(err)
	}
	for {
		var e audit.Entry
		select {
		case e = <-audits:
		case <-time.After(deadline):
			t.Fatal("talk not audited")
		}
		if e.Action != audit.ActionTalk {
			continue
		}
		if e.Actor != "rtsp:alice" || !strings.HasPrefix(e.From, "127.0.0.1:") || e.Outcome != audit.OK || e.Duration != 2 {
			t.Fatalf("talk audited %+v: want by rtsp:alice from 127.0.0.1, ok, 2 s", e)
		}
		break
	}
	for _, line := range []string{"rtsp: talk started", "rtsp: talk stopped"} {
		if !strings.Contains(lb.String(), line) {
			t.Fatalf("no %q in the log:\n%s", line, lb.String())
		}
	}
}

// TestTalkIdle: a talk ends TalkIdle after the last packet (the speaker
// is free for quick replies again) while the session plays on; the next
// packet begins a new talk, audited on its own.
func TestTalkIdle(t *testing.T) {
	src, sp := jpegSource(t), rtsptest.NewSpeaker()
	clk := clockwork.NewFakeClock()
	audits := make(chan audit.Entry, 8)
	s, url, _ := start(t, src, accounts, func(o *rtsp.Options) {
		o.Talk, o.Clock = sp, clk
		o.Audit = func(e audit.Entry) {
			if e.Action == audit.ActionTalk {
				audits <- e
			}
		}
	})
	tk, err := dialTalk(t, url, true, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	ctx := waitCtx(t)
	enc, _ := encode(t, make([]int16, 160), true)
	tk.send(t, 0, 1, 0, enc)
	if err := sp.Wait(ctx, "a talk", func(ts []*rtsptest.Talk) bool { return len(ts) == 1 && ts[0].Len() == 160 }); err != nil {
		t.Fatal(err)
	}
	if err := clk.BlockUntilContext(ctx, 1); err != nil { // the idle timer
		t.Fatal(err)
	}
	clk.Advance(rtsp.TalkIdle)
	first := sp.Sessions()[0]
	if err := sp.Wait(ctx, "the silent talk's end", func([]*rtsptest.Talk) bool { return first.IsClosed() }); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-audits:
		if e.Duration != rtsp.TalkIdle.Seconds() || e.Outcome != audit.OK {
			t.Errorf("idle talk audited %+v, want ok, %v", e, rtsp.TalkIdle)
		}
	case <-time.After(deadline):
		t.Fatal("idle talk not audited")
	}
	tk.send(t, 0, 2, 160, enc)
	if err := sp.Wait(ctx, "a second talk", func(ts []*rtsptest.Talk) bool { return len(ts) == 2 && ts[1].Len() == 160 }); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.TalkSessions != 2 {
		t.Errorf("talk sessions %d, want 2", st.TalkSessions)
	}
}

// TestTalkNotAsked: a client that does not ask for back-channels sees
// none (and plays as before).
func TestTalkNotAsked(t *testing.T) {
	src, sp := jpegSource(t), rtsptest.NewSpeaker()
	_, url, _ := start(t, src, accounts, func(o *rtsp.Options) { o.Talk = sp })
	tk, err := dialTalk(t, url, false, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	if tk.back != nil || len(tk.desc.Medias) != 1 {
		t.Fatalf("medias %v: want the video only", tk.desc.Medias)
	}
	r, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	src.Publish()
	r.Next(t, deadline)
	if n := len(sp.Sessions()); n != 0 {
		t.Fatalf("%d talks without a back-channel", n)
	}
}

// TestTalkAuth: without or with wrong credentials nobody talks, not
// even by SETUP of the back-channel's track directly; with Auth open,
// anyone may (as anyone may watch).
func TestTalkAuth(t *testing.T) {
	src, sp := jpegSource(t), rtsptest.NewSpeaker()
	s, url, _ := start(t, src, accounts, func(o *rtsp.Options) { o.Talk = sp })
	for _, bad := range []string{
		strings.Replace(url, "s3cret:with:colons", "guess", 1),
		strings.Replace(url, "alice:s3cret:with:colons@", "", 1),
	} {
		if _, err := dialTalk(t, bad, true, gortsplib.ProtocolTCP); rtsptest.Status(err) != base.StatusUnauthorized {
			t.Fatalf("talk with bad credentials: %v, want 401", err)
		}
	}
	addr := s.Addr().String()
	res := rawRequest(t, addr, []byte("SETUP rtsp://"+addr+"/doorbell-1/trackID=1 RTSP/1.0\r\nCSeq: 1\r\n"+
		"Require: www.onvif.org/ver20/backchannel\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"))
	if !strings.Contains(res, "401") {
		t.Fatalf("SETUP of the back-channel without credentials:\n%s", res)
	}
	if n := len(sp.Sessions()); n != 0 || s.Stats().TalkSessions != 0 {
		t.Fatalf("%d talks without credentials", n)
	}

	open := rtsptest.NewSpeaker()
	_, url, _ = start(t, jpegSource(t), rtsptest.Accounts{}, func(o *rtsp.Options) { o.Talk = open })
	tk, err := dialTalk(t, strings.Replace(url, "alice:s3cret:with:colons@", "", 1), true, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := encode(t, make([]int16, 160), true)
	tk.send(t, 0, 1, 0, enc)
	if err := open.Wait(waitCtx(t), "a talk", func(ts []*rtsptest.Talk) bool { return len(ts) == 1 }); err != nil {
		t.Fatal(err)
	}
	if ts := open.Sessions(); len(ts) != 1 || ts[0].User != "" {
		t.Fatalf("talks %v with Auth open: want one, anonymous", ts)
	}
}

// TestTalkRefused: a speaker that refuses leaves the session playing;
// its packets are dropped and counted; the refusal is audited.
func TestTalkRefused(t *testing.T) {
	src, sp := jpegSource(t), rtsptest.NewSpeaker()
	sp.SetFail(true)
	audits := make(chan audit.Entry, 8)
	s, url, _ := start(t, src, accounts, func(o *rtsp.Options) {
		o.Talk = sp
		o.Audit = func(e audit.Entry) { audits <- e }
	})
	tk, err := dialTalk(t, url, true, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatalf("PLAY with a refusing speaker: %v", err)
	}
	enc, _ := encode(t, make([]int16, 160), true)
	for i := 0; i < 3; i++ {
		tk.send(t, 0, uint16(i), uint32(160*i), enc)
	}
	waitFor(t, "3 dropped packets", func() bool { return s.Stats().TalkDropped == 3 })
	if st := s.Stats(); st.TalkRefused != 1 || st.TalkSessions != 0 || st.Readers != 1 {
		t.Fatalf("stats %+v: want 1 refusal, the session playing", st)
	}
	var e audit.Entry
	select {
	case e = <-audits:
	case <-time.After(deadline):
		t.Fatal("refusal not audited")
	}
	if e.Action != audit.ActionTalk || e.Outcome != audit.Refused || !strings.Contains(e.Reason, "busy") {
		t.Fatalf("audit %+v: want a refused talk naming the reason", e)
	}
}

// TestTalkUDP: the back-channel over UDP (RTP to the server's UDP port).
func TestTalkUDP(t *testing.T) {
	src, sp := jpegSource(t), rtsptest.NewSpeaker()
	s, url, _ := start(t, src, accounts, func(o *rtsp.Options) { o.Talk, o.UDPRTPPort = sp, rtsp.AutoUDP })
	tk, err := dialTalk(t, url, true, gortsplib.ProtocolUDP)
	if err != nil {
		t.Fatal(err)
	}
	ctx := waitCtx(t)
	enc, dec := encode(t, []int16{0, 1000, -1000, 30000, -30000, 5}, false)
	// UDP may lose a packet even on loopback: send until one arrives.
	got := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-got:
				return
			default:
				p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: uint16(i), Timestamp: uint32(6 * i), SSRC: 1234}, Payload: enc}
				tk.c.WritePacketRTP(tk.back, p) //nolint:errcheck // checked by what arrives
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	if err := sp.Wait(ctx, "samples over UDP", func(ts []*rtsptest.Talk) bool { return len(ts) == 1 && ts[0].Len() >= 6 }); err != nil {
		t.Fatal(err)
	}
	close(got)
	talk := sp.Sessions()[0]
	if st := s.Stats(); st.TalkSessions != 1 || st.TalkPackets == 0 {
		t.Fatalf("stats %+v", st)
	}
	if got := talk.Samples()[:6]; !slices.Equal(got, dec) {
		t.Fatalf("samples %v, want %v", got, dec)
	}
}
