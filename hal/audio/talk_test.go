package audio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/hal/audio"
	"github.com/doorbelld/doorbelld/hal/audio/audiotest"
)

// The talk tests stream 8 kHz mono (the RTSP back-channel's G.711) in
// 20 ms packets of 160 samples; the jitter buffer gathers 60 ms (3
// packets) and holds at most 300 ms (15).
const pkt = 160

// packet k: 160 samples, all k+1 (loud enough to count as voice).
func packet(k int) []int16 {
	p := make([]int16, pkt)
	for i := range p {
		p[i] = int16(1000 + k)
	}
	return p
}

func packets(from, to int) []int16 {
	var s []int16
	for k := from; k < to; k++ {
		s = append(s, packet(k)...)
	}
	return s
}

// talkRig is a Player on a fake 8 kHz mono speaker, so what a talk writes
// reaches the speaker unchanged.
func talkRig(t *testing.T, f audio.Format) *rig {
	t.Helper()
	r := &rig{spk: audiotest.NewSpeaker(f), clk: clockwork.NewFakeClock()}
	r.opener = audiotest.NewOpener(r.spk)
	r.p = audio.NewPlayer(audio.PlayerOptions{Open: r.opener.Open, Probe: -1, Clock: r.clk,
		TalkDelay: 80 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	return r
}

var g711 = audio.Format{Rate: 8000, Channels: 1, Bits: 16}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func streamStarted(t *testing.T, spk *audiotest.Speaker) audio.Format {
	t.Helper()
	select {
	case f := <-spk.StreamStarted():
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no stream started")
		return audio.Format{}
	}
}

func streamEnded(t *testing.T, spk *audiotest.Speaker) audiotest.Streamed {
	t.Helper()
	select {
	case s := <-spk.StreamEnded():
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end")
		return audiotest.Streamed{}
	}
}

func pull(t *testing.T, spk *audiotest.Speaker, n int) {
	t.Helper()
	if err := spk.Pull(ctx10(t), n); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, tk *audio.Talk, s []int16) {
	t.Helper()
	tk.Write(s)
}

func openTalk(t *testing.T, p *audio.Player) *audio.Talk {
	t.Helper()
	tk := p.Talk("owner", 8000, 1)
	if err := tk.Err(); err != nil {
		t.Fatal(err)
	}
	return tk
}

// talking is a running talkRig with a talk open and its stream started.
func talking(t *testing.T) (*rig, *audio.Talk) {
	t.Helper()
	r := talkRig(t, g711)
	r.run(t)
	tk := openTalk(t, r.p)
	streamStarted(t, r.spk)
	return r, tk
}

func lastStream(t *testing.T, spk *audiotest.Speaker) audiotest.Streamed {
	t.Helper()
	s := spk.Streams()
	if len(s) == 0 {
		t.Fatal("no stream")
	}
	return s[len(s)-1]
}

func TestTalkPlaysTheWrittenSamplesInOrder(t *testing.T) {
	r := talkRig(t, g711)
	r.run(t)
	tk := openTalk(t, r.p)
	if f := streamStarted(t, r.spk); f != g711 {
		t.Fatalf("stream of %v, want %v", f, g711)
	}
	// The writer and the device keep the same pace: one packet, one period.
	const n = 20
	for k := range n {
		write(t, tk, packet(k))
		pull(t, r.spk, 1)
	}
	s := lastStream(t, r.spk)
	// Two periods of silence while the prefill (3 packets) gathers.
	want := append(make([]int16, 2*pkt), packets(0, n-2)...)
	if !slices.Equal(s.Samples, want) {
		t.Fatalf("speaker got %d samples, want 2 silent periods then packets 0-%d in order", len(s.Samples), n-3)
	}
	if len(s.Bytes) != n*pkt*2 {
		t.Errorf("speaker got %d bytes, want %d (S16)", len(s.Bytes), n*pkt*2)
	}
	st := r.p.Status()
	if !st.Talking || st.Talks != 1 || st.TalkPlayed != (n-2)*pkt || st.TalkUnderruns != 0 || st.TalkDropped != 0 {
		t.Errorf("status %+v, want talking, %d frames played, no underrun, nothing dropped", st, (n-2)*pkt)
	}
}

func TestTalkUnderrunPlaysSilenceAndRefills(t *testing.T) {
	r, tk := talking(t)
	write(t, tk, packets(0, 4))
	pull(t, r.spk, 6) // 4 packets, then dry
	st := r.p.Status()
	if st.TalkUnderruns != 1 || st.TalkPlayed != 4*pkt {
		t.Fatalf("status %+v, want one underrun (counted once while dry), 4 packets played", st)
	}
	// It ran dry, so it gathers 40 ms more than before: 100 ms, 5 packets.
	write(t, tk, packets(4, 7)) // the old prefill's 3 packets: still silent
	pull(t, r.spk, 1)
	write(t, tk, packets(7, 9))
	pull(t, r.spk, 5)
	s := lastStream(t, r.spk)
	silence := make([]int16, pkt)
	var want []int16
	want = append(want, packets(0, 4)...)
	want = append(want, slices.Concat(silence, silence, silence)...)
	want = append(want, packets(4, 9)...)
	if !slices.Equal(s.Samples, want) {
		t.Fatalf("speaker got %v…, want 4 packets, 3 silent periods, packets 4-8", s.Samples[:min(len(s.Samples), 8)])
	}
	if st := r.p.Status(); st.TalkUnderruns != 1 || st.TalkPlayed != 9*pkt {
		t.Errorf("status %+v, want 1 underrun, 9 packets played", st)
	}
}

// Each time the buffer runs dry the prefill grows by 40 ms, to 200 ms at
// most: a session on a jittery network trades some delay for no more gaps.
func TestTalkPrefillGrowsAfterEachUnderrunUpToItsCap(t *testing.T) {
	r, tk := talking(t)
	// Prefills in packets: 3 (60 ms), then 5, 7, 9, 10 (200 ms), 10.
	for i, pre := range []int{3, 5, 7, 9, 10, 10} {
		before := r.p.Status().TalkPlayed
		write(t, tk, packets(0, pre-1))
		pull(t, r.spk, 1)
		if st := r.p.Status(); st.TalkPlayed != before {
			t.Fatalf("round %d: played with %d packets buffered: the prefill is under %d ms", i, pre-1, pre*20)
		}
		write(t, tk, packet(pre-1)) // the prefill is complete
		pull(t, r.spk, pre+1)       // all of it, then dry
		st := r.p.Status()
		if got := st.TalkPlayed - before; got != uint64(pre*pkt) {
			t.Fatalf("round %d: played %d frames once %d packets were buffered, want %d: the prefill is not %d ms",
				i, got, pre, pre*pkt, pre*20)
		}
		if st.TalkUnderruns != uint64(i+1) {
			t.Fatalf("round %d: %d underruns, want %d", i, st.TalkUnderruns, i+1)
		}
	}
}

func TestTalkOverflowDropsTheOldest(t *testing.T) {
	r, tk := talking(t)
	// 20 packets in a burst: 400 ms, the buffer holds 300 ms (15).
	for k := range 20 {
		write(t, tk, packet(k))
	}
	if st := r.p.Status(); st.TalkDropped != 5*pkt {
		t.Fatalf("status %+v, want 5 packets (800 frames) dropped", st)
	}
	pull(t, r.spk, 16)
	s := lastStream(t, r.spk)
	want := append(packets(5, 20), make([]int16, pkt)...)
	if !slices.Equal(s.Samples, want) {
		t.Fatal("speaker did not get packets 5-19 then silence: the oldest were not the ones dropped")
	}
	// One write larger than the whole buffer keeps its newest 300 ms.
	write(t, tk, packets(100, 120))
	pull(t, r.spk, 15)
	s = lastStream(t, r.spk)
	if !slices.Equal(s.Samples[len(s.Samples)-15*pkt:], packets(105, 120)) {
		t.Fatal("a write over the cap did not keep its newest 300 ms")
	}
	if st := r.p.Status(); st.TalkDropped != 10*pkt || st.TalkUnderruns != 1 {
		t.Errorf("status %+v, want 1600 frames dropped, 1 underrun", st)
	}
}

func TestTalkCutsARunningReply(t *testing.T) {
	r := talkRig(t, audio.Format{Rate: 48000, Channels: 2, Bits: 16})
	r.run(t)
	r.p.Play("leave_at_door", tone(1000))
	started(t, r.spk)
	waitFor(t, "playing", func() bool { return r.p.Status().Playing == "leave_at_door" })
	tk := openTalk(t, r.p)
	if f := streamStarted(t, r.spk); f != g711 {
		t.Fatalf("stream of %v, want the talk's %v", f, g711)
	}
	plays := r.spk.Plays()
	if len(plays) != 1 || !errors.Is(plays[0].Err, context.Canceled) {
		t.Fatalf("plays %+v, want the reply dropped", plays)
	}
	st := r.p.Status()
	if st.Replaced != 1 || st.Playing != "" || !st.Talking || st.Played != 0 {
		t.Errorf("status %+v, want the reply replaced, talking", st)
	}
	// Converted to the device's 48 kHz stereo: 6 frames of 4 bytes a sample.
	write(t, tk, packets(0, 3))
	pull(t, r.spk, 1)
	if s := lastStream(t, r.spk); len(s.Bytes) != 960*4 || !slices.Equal(s.Samples, packet(0)) {
		t.Errorf("stream got %d bytes, %d samples, want 3840 bytes of packet 0", len(s.Bytes), len(s.Samples))
	}
}

// syncBuffer is a log sink safe for the Player's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestReplyDuringTalkIsRefused(t *testing.T) {
	r := talkRig(t, g711)
	var logs syncBuffer
	r.p = audio.NewPlayer(audio.PlayerOptions{Open: r.opener.Open, Probe: -1, Clock: r.clk,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r.run(t)
	tk := openTalk(t, r.p)
	streamStarted(t, r.spk)
	r.p.Play("leave_at_door", tone(100))
	st := r.p.Status()
	if st.Refused != 1 || st.Replaced != 0 || !st.Talking || st.Playing != "" {
		t.Errorf("status %+v, want the reply refused, still talking", st)
	}
	if l := logs.String(); !strings.Contains(l, "reply refused: talk in progress") || !strings.Contains(l, "leave_at_door") {
		t.Errorf("log %q does not say the reply was refused", l)
	}
	write(t, tk, packets(0, 3))
	pull(t, r.spk, 1) // the talk plays on
	if s := lastStream(t, r.spk); !slices.Equal(s.Samples, packet(0)) {
		t.Error("the talk did not play on after the refused reply")
	}
	tk.Close()
	streamEnded(t, r.spk)
	waitFor(t, "talk over", func() bool { return !r.p.Status().Talking })
	r.p.Play("leave_at_door", tone(100)) // the talk is over: replies play again
	if s := started(t, r.spk); s.Frames() != 1600 {
		t.Errorf("after the talk the reply played %d frames, want 1600", s.Frames())
	}
	r.spk.Finish()
	waitFor(t, "played", func() bool { return r.p.Status().Played == 1 })
	if len(r.spk.Plays()) != 1 {
		t.Errorf("plays %+v, want only the reply after the talk", r.spk.Plays())
	}
}

func TestSecondTalkReplacesTheFirst(t *testing.T) {
	r := talkRig(t, g711)
	r.run(t)
	first := openTalk(t, r.p)
	streamStarted(t, r.spk)
	write(t, first, packets(0, 5))
	pull(t, r.spk, 1)
	second := r.p.Talk("second", 8000, 1)
	select {
	case <-first.Done():
	default:
		t.Fatal("the first talk is not done after the second opened")
	}
	if err := first.Err(); !errors.Is(err, audio.ErrTalkReplaced) {
		t.Errorf("first talk's Err %v, want ErrTalkReplaced", err)
	}
	first.Write(packet(99)) // a no-op: it must not reach the second stream
	if s := streamEnded(t, r.spk); s.Periods != 1 || !errors.Is(s.Err, context.Canceled) {
		t.Errorf("first stream %d periods, %v; want dropped after its one period", s.Periods, s.Err)
	}
	streamStarted(t, r.spk)
	write(t, second, packets(50, 53))
	pull(t, r.spk, 3)
	s := r.spk.Streams()
	if len(s) != 2 || !slices.Equal(s[1].Samples, packets(50, 53)) || !slices.Equal(s[0].Samples, packet(0)) {
		t.Fatal("the second stream does not carry the second talk alone")
	}
	if second.Err() != nil {
		t.Errorf("second talk ended: %v", second.Err())
	}
	if st := r.p.Status(); !st.Talking || st.Talks != 2 || st.TalkFailed != 0 {
		t.Errorf("status %+v, want talking, 2 talks", st)
	}
}

func TestTalkCloseStopsPromptly(t *testing.T) {
	r, tk := talking(t)
	write(t, tk, packets(0, 15)) // 300 ms buffered
	pull(t, r.spk, 1)
	tk.Close()
	// The stream returns without another period pulled: the 280 ms still
	// buffered are dropped, not played out.
	s := streamEnded(t, r.spk)
	if s.Periods != 1 || !errors.Is(s.Err, context.Canceled) || !slices.Equal(s.Samples, packet(0)) {
		t.Errorf("stream %d periods, %v, want it dropped after its one period", s.Periods, s.Err)
	}
	if err := tk.Err(); !errors.Is(err, audio.ErrTalkClosed) {
		t.Errorf("Err %v, want ErrTalkClosed", err)
	}
	tk.Write(packet(1)) // a no-op
	tk.Close()          // twice: nothing
	waitFor(t, "not talking", func() bool { return !r.p.Status().Talking })
	st := r.p.Status()
	if now := r.clk.Now(); st.TalkVoiceUntil.After(now) {
		t.Errorf("TalkVoiceUntil %v after the close at %v: the speaker dropped its buffer", st.TalkVoiceUntil, now)
	}
	if st.TalkPlayed != pkt || st.TalkFailed != 0 || st.LastError != "" {
		t.Errorf("status %+v, want 1 packet played, no failure", st)
	}
	waitFor(t, "speaker closed", func() bool { return r.spk.Closes() >= 2 }) // probe + talk
}

func TestTalkWithoutSpeakerIsDegraded(t *testing.T) {
	r := talkRig(t, g711)
	r.opener.SetErr(fmt.Errorf("audio: speaker \"hw:Loopback,0\": card \"Loopback\" not found: %w", audio.ErrNoDevice))
	r.run(t)
	// Not openTalk: the session may already have ended by the time Talk
	// returns (Run's goroutine tried the speaker at once).
	tk := r.p.Talk("owner", 8000, 1)
	select {
	case <-tk.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the talk did not end without a speaker")
	}
	if err := tk.Err(); !errors.Is(err, audio.ErrNoDevice) {
		t.Errorf("Err %v, want ErrNoDevice", err)
	}
	tk.Write(packet(0)) // dropped
	waitFor(t, "talk failed", func() bool { return r.p.Status().TalkFailed == 1 })
	st := r.p.Status()
	if st.Available || st.Talking || !strings.Contains(st.LastError, "hw:Loopback,0") || st.TalkPlayed != 0 {
		t.Errorf("status %+v, want unavailable, not talking, an error naming the device", st)
	}
	// Plugged in again: the next talk plays.
	r.opener.SetErr(nil)
	tk = openTalk(t, r.p)
	streamStarted(t, r.spk)
	write(t, tk, packets(10, 13))
	pull(t, r.spk, 1)
	if st := r.p.Status(); !st.Available || st.TalkPlayed != pkt || st.TalkDropped != 0 {
		t.Errorf("status %+v, want available, 1 packet played, nothing dropped", st)
	}
	if s := lastStream(t, r.spk); !slices.Equal(s.Samples, packet(10)) {
		t.Error("the write to the failed talk reached the speaker")
	}
}

func TestTalkVoiceUntil(t *testing.T) {
	r, tk := talking(t)
	t0 := r.clk.Now()
	if st := r.p.Status(); !st.TalkVoiceUntil.IsZero() {
		t.Fatalf("TalkVoiceUntil %v before any voice", st.TalkVoiceUntil)
	}
	// Quiet packets (about -59 dBFS) do not count as voice.
	quiet := make([]int16, pkt)
	for i := range quiet {
		quiet[i] = int16(50 * (1 - 2*(i%2)))
	}
	write(t, tk, quiet)
	if st := r.p.Status(); !st.TalkVoiceUntil.IsZero() {
		t.Fatalf("TalkVoiceUntil %v after a quiet packet", st.TalkVoiceUntil)
	}
	// A loud packet while the prefill gathers: it comes out no sooner than
	// the 60 ms prefill, plus the speaker's 80 ms.
	write(t, tk, packet(0))
	if got, want := r.p.Status().TalkVoiceUntil, t0.Add(140*time.Millisecond); !got.Equal(want) {
		t.Fatalf("TalkVoiceUntil %v, want %v (write + 60 ms prefill + 80 ms device)", got, want)
	}
	r.clk.Advance(20 * time.Millisecond)
	write(t, tk, packets(1, 6)) // 140 ms buffered now
	if got, want := r.p.Status().TalkVoiceUntil, t0.Add(20*time.Millisecond+220*time.Millisecond); !got.Equal(want) {
		t.Fatalf("TalkVoiceUntil %v, want %v (write + 140 ms buffered + 80 ms device)", got, want)
	}
	pull(t, r.spk, 2)
	r.clk.Advance(40 * time.Millisecond)
	write(t, tk, quiet) // silence does not extend it
	if got, want := r.p.Status().TalkVoiceUntil, t0.Add(240*time.Millisecond); !got.Equal(want) {
		t.Fatalf("TalkVoiceUntil %v after a quiet write, want still %v", got, want)
	}
	tk.Close()
	if got, want := r.p.Status().TalkVoiceUntil, t0.Add(60*time.Millisecond); !got.Equal(want) {
		t.Errorf("TalkVoiceUntil %v after Close, want the close's time %v", got, want)
	}
}

func TestTalkRefusesBadInput(t *testing.T) {
	r := talkRig(t, audio.Format{Rate: 8000, Channels: 2, Bits: 16})
	r.run(t)
	r.p.Play("leave_at_door", tone(100))
	started(t, r.spk)
	for _, tc := range []struct {
		rate, ch int
		want     string
	}{{96000, 1, "96000"}, {8000, 0, "0 channels"}, {8000, 3, "3 channels"}} {
		tk := r.p.Talk("owner", tc.rate, tc.ch)
		select {
		case <-tk.Done():
		default:
			t.Fatalf("Talk(%d, %d) is open", tc.rate, tc.ch)
		}
		if err := tk.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Talk(%d, %d): %v, want an error naming %s", tc.rate, tc.ch, err, tc.want)
		}
		tk.Write(packet(0))
		tk.Close()
	}
	st := r.p.Status()
	if st.TalkFailed != 3 || st.Talking || st.Playing != "leave_at_door" || st.Replaced != 0 || !strings.Contains(st.LastError, "3 channels") {
		t.Errorf("status %+v, want 3 failed talks, the reply still playing", st)
	}
	r.spk.Finish()
	waitFor(t, "played", func() bool { return r.p.Status().Played == 1 })
	// A partial stereo frame: its tail is dropped, the whole frame plays.
	tk := r.p.Talk("owner", 8000, 2)
	streamStarted(t, r.spk)
	tk.Write(append(slices.Repeat([]int16{7, -7}, 480), 9)) // 60 ms and a half frame
	pull(t, r.spk, 1)
	if s := lastStream(t, r.spk); !slices.Equal(s.Samples, slices.Repeat([]int16{7, -7}, 160)) {
		t.Errorf("stereo talk got %v…, want whole frames of 7, -7", s.Samples[:4])
	}
	if st := r.p.Status(); st.TalkDropped != 1 || st.TalkPlayed != 160 {
		t.Errorf("status %+v, want the partial frame dropped, 160 frames played", st)
	}
}

func TestPlayerStopEndsTheTalk(t *testing.T) {
	r := talkRig(t, g711)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.p.Run(ctx) }()
	tk := openTalk(t, r.p)
	streamStarted(t, r.spk)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := tk.Err(); !errors.Is(err, audio.ErrStopped) {
		t.Errorf("Err %v, want ErrStopped", err)
	}
	if r.p.Status().Talking {
		t.Error("still talking after Run returned")
	}
}

// BenchmarkTalkLatency measures what a talk adds between a Write and the
// speaker getting the samples, with a writer and a device in step (one
// 20 ms packet, then one 20 ms period): the jitter buffer's delay in
// audio time (the prefill dominates; an ALSA speaker adds up to
// StreamDelay on top), and, per packet, the wall time of the hand-over
// through the Player to the fake speaker (ns/op).
func BenchmarkTalkLatency(b *testing.B) {
	spk := audiotest.NewSpeaker(g711)
	p := audio.NewPlayer(audio.PlayerOptions{Open: audiotest.NewOpener(spk).Open, Probe: -1,
		Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	tk := p.Talk("bench", 8000, 1)
	<-spk.StreamStarted()
	buf := make([]int16, pkt)
	step := func(k int) {
		for i := range buf {
			buf[i] = int16(k%30000 + 1) // the packet's number
		}
		tk.Write(buf)
		if err := spk.Pull(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
	// Which packet each period carries, over the first 4 s.
	first, lagSum, lagN := -1, 0, 0
	for k := range 200 {
		step(k)
		s := spk.Streams()[0].Samples
		if v := s[len(s)-1]; v != 0 {
			if first < 0 {
				first = k
			}
			lagSum += k - int(v-1)
			lagN++
		}
	}
	if lagN == 0 {
		b.Fatal("no packet reached the speaker")
	}
	k := 200
	for b.Loop() {
		step(k)
		if k++; k%500 == 0 {
			spk.Forget()
		}
	}
	b.ReportMetric(float64(lagSum)/float64(lagN)*20, "buffer-ms")
	b.ReportMetric(float64(first)*20, "first-sound-ms")
	if st := p.Status(); st.TalkUnderruns != 0 {
		b.Fatalf("%d underruns with the writer and the device in step", st.TalkUnderruns)
	}
}
