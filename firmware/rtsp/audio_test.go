package rtsp_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/rtsp"
	"github.com/doorbelld/doorbelld/firmware/rtsp/rtsptest"
)

func withMic(m *rtsptest.Mic) func(*rtsp.Options) {
	return func(o *rtsp.Options) { o.Audio = m }
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// TestAudioTrack: the SDP has a PCMU track; a 16 kHz stereo tone comes
// out as the same tone at 8 kHz, packets of 20 ms whose RTP timestamps
// follow the chunks' capture times (a gap of a second in the microphone
// is a jump of 8000 in the timestamps).
func TestAudioTrack(t *testing.T) {
	src, mic := jpegSource(t), rtsptest.NewMic()
	_, url, _ := start(t, src, accounts, withMic(mic))
	r, err := rtsptest.PlayAV(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Desc.Medias) != 2 || r.Audio == nil {
		t.Fatalf("medias %v: want video and audio", r.Desc.Medias)
	}
	g, ok := r.Audio.Formats[0].(*format.G711)
	if len(r.Audio.Formats) != 1 || !ok || !g.MULaw || g.PayloadTyp != 0 || g.SampleRate != 8000 || g.ChannelCount != 1 {
		t.Fatalf("audio formats %+v: want PCMU/8000, payload type 0, mono", r.Audio.Formats)
	}
	if err := mic.WaitFeeds(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	const rate, amp, freq = 16000, 16000.0, 440.0
	t0 := time.Now()
	push := func(from time.Duration, chunks int) {
		for i := 0; i < chunks; i++ {
			at := from + time.Duration(i)*10*time.Millisecond
			mic.Push(rtsptest.Tone(t0.Add(at), rate, 2, rate/100, freq, int(at*rate/time.Second)))
		}
	}
	push(0, 50)                     // 0.5 s: 25 packets
	push(1500*time.Millisecond, 50) // after a gap of 1 s: 25 more
	var pkts []rtsptest.AudioPacket
	for len(pkts) < 50 {
		pkts = append(pkts, r.NextAudio(t, deadline))
	}
	ts0 := pkts[0].TS
	var dot, ee, oo float64
	for i, p := range pkts {
		off := uint32(160 * i)
		if i >= 25 {
			off = 12000 + uint32(160*(i-25))
		}
		if p.TS-ts0 != off || p.Seq != pkts[0].Seq+uint16(i) || len(p.Samples) != 160 || p.Marker != (i == 0 || i == 25) {
			t.Fatalf("packet %d: seq %d ts +%d marker %t, %d samples; want seq +%d ts +%d", i, p.Seq, p.TS-ts0, p.Marker, len(p.Samples), i, off)
		}
		for j, v := range p.Samples {
			if j == 0 && p.Marker {
				continue // the filter starts from silence
			}
			// The sample at RTP time ts is the 16 kHz tone at 2·(ts-ts0)
			// input samples, through the 2-tap average (half a sample
			// late, gain cos(π f/16000)).
			n := float64(2*(off+uint32(j))) - 0.5
			ideal := amp * math.Cos(math.Pi*freq/rate) * math.Sin(2*math.Pi*freq*n/rate)
			if d := math.Abs(float64(v) - ideal); d > math.Abs(ideal)/16+40 {
				t.Fatalf("packet %d sample %d: %d, want %.0f (±µ-law step)", i, j, v, ideal)
			}
			dot += ideal * float64(v)
			ee += ideal * ideal
			oo += float64(v) * float64(v)
		}
	}
	if c := dot / math.Sqrt(ee*oo); c < 0.999 {
		t.Fatalf("correlation with the tone %.5f, want ≥ 0.999", c)
	}
}

// TestAudioShared: one microphone feed for every reader of the audio
// track, none for a video-only reader, closed with the last audio reader.
func TestAudioShared(t *testing.T) {
	src, mic := jpegSource(t), rtsptest.NewMic()
	s, url, _ := start(t, src, accounts, withMic(mic))
	v, err := play(t, url, gortsplib.ProtocolTCP) // sets up the video only
	if err != nil {
		t.Fatal(err)
	}
	src.Publish()
	v.Next(t, deadline)
	if mic.Opened() != 0 {
		t.Fatalf("%d microphone feeds for a video-only reader", mic.Opened())
	}
	a1, err := rtsptest.PlayAV(t, url)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := rtsptest.PlayAV(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := mic.WaitFeeds(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	mic.Push(rtsptest.Tone(time.Now(), 8000, 1, 160, 440, 0))
	a1.NextAudio(t, deadline)
	a2.NextAudio(t, deadline)
	if n := mic.Opened(); n != 1 {
		t.Fatalf("%d microphone feeds opened, want 1 shared", n)
	}
	a1.Close()
	a2.Close()
	if err := mic.WaitFeeds(waitCtx(t), 0); err != nil {
		t.Fatalf("feed not closed after the last audio reader left: %v", err)
	}
	// The video reader goes on.
	src.Publish()
	v.Next(t, deadline)
	if st := s.Stats(); st.AudioFeeds != 1 || st.AudioPackets != 1 || st.AudioChunks != 1 {
		t.Fatalf("stats %+v: want 1 feed, 1 chunk, 1 packet", st)
	}
}

// TestAudioPrivacy: privacy from the microphone ends the stream, video
// and all, like the camera's.
func TestAudioPrivacy(t *testing.T) {
	src, mic := jpegSource(t), rtsptest.NewMic()
	s, url, _ := start(t, src, accounts, withMic(mic))
	r, err := rtsptest.PlayAV(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := mic.WaitFeeds(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	mic.Push(rtsptest.Tone(time.Now(), 8000, 1, 160, 440, 0))
	r.NextAudio(t, deadline)
	mic.SetPrivate(true)
	select {
	case <-r.Done():
	case <-time.After(deadline):
		t.Fatal("session still running after the microphone switched to privacy")
	}
	if err := src.WaitViewers(waitCtx(t), 0); err != nil {
		t.Fatal(err)
	}
	if err := mic.WaitFeeds(waitCtx(t), 0); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.EndedPrivacy != 1 {
		t.Fatalf("stats %+v: want 1 session ended by privacy", st)
	}
}

// TestAudioFailureKeepsVideo: a microphone that cannot be opened, or
// fails while streaming, leaves the video playing; it is retried (on the
// injected clock) and the sound comes back.
func TestAudioFailureKeepsVideo(t *testing.T) {
	src, mic := jpegSource(t), rtsptest.NewMic()
	clk := clockwork.NewFakeClock()
	s, url, lb := start(t, src, accounts, func(o *rtsp.Options) { o.Audio, o.Clock = mic, clk })
	unplugged := errors.New("microphone unplugged")
	mic.Fail(unplugged)
	r, err := rtsptest.PlayAV(t, url)
	if err != nil {
		t.Fatalf("PLAY with a failing microphone: %v", err)
	}
	ctx := waitCtx(t)
	if err := clk.BlockUntilContext(ctx, 1); err != nil { // the feeder waits to retry
		t.Fatal(err)
	}
	src.Publish()
	r.NextFrame(t, deadline)
	if st := s.Stats(); st.AudioFailures != 1 || st.AudioFeeds != 0 {
		t.Fatalf("stats %+v: want 1 microphone failure", st)
	}
	mic.Fail(nil)
	clk.Advance(time.Second)
	if err := mic.WaitFeeds(ctx, 1); err != nil {
		t.Fatalf("microphone not retried: %v", err)
	}
	mic.Push(rtsptest.Tone(time.Now(), 8000, 1, 160, 440, 0))
	r.NextAudio(t, deadline)

	// Failing while streaming: the same.
	mic.Fail(unplugged)
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	src.Publish()
	r.NextFrame(t, deadline)
	if st := s.Stats(); st.AudioFailures != 2 || st.Readers != 1 {
		t.Fatalf("stats %+v: want 2 microphone failures, the reader still playing", st)
	}
	if !strings.Contains(lb.String(), "microphone unplugged") {
		t.Fatalf("microphone failure not logged:\n%s", lb.String())
	}
}

// TestSDPUnchanged: without Audio and Talk, and with Talk for a client
// that does not ask for back-channels, DESCRIBE answers the very same
// SDP.
func TestSDPUnchanged(t *testing.T) {
	describe := func(edit func(*rtsp.Options)) string {
		_, url, _ := start(t, jpegSource(t), accounts, edit)
		u, err := base.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, res, err := c.Describe(u)
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Body)
	}
	plain := describe(nil)
	talk := describe(func(o *rtsp.Options) { o.Talk = rtsptest.NewSpeaker() })
	if plain != talk || strings.Count(plain, "m=") != 1 {
		t.Fatalf("SDP without Talk:\n%s\nwith Talk, no back-channel asked:\n%s", plain, talk)
	}
	av := describe(withMic(rtsptest.NewMic()))
	if !strings.HasPrefix(av, plain) || !strings.Contains(av, "m=audio 0 RTP/AVP 0\r\n") || !strings.Contains(av, "a=rtpmap:0 PCMU/8000\r\n") {
		t.Fatalf("SDP with Audio:\n%s\nwant the video's, then PCMU", av)
	}
	t.Logf("SDP with audio:\n%s", av)
}
