package audio_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/hal/audio"
	"github.com/doorbelld/doorbelld/hal/audio/audiotest"
)

// waitFor polls cond (cheap, lock-protected reads) until it holds, for up
// to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func started(t *testing.T, spk *audiotest.Speaker) *audio.Sound {
	t.Helper()
	select {
	case s := <-spk.Started():
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no playback started")
		return nil
	}
}

type rig struct {
	spk    *audiotest.Speaker
	opener *audiotest.Opener
	clk    *clockwork.FakeClock
	p      *audio.Player
}

func newRig(t *testing.T, probe time.Duration) *rig {
	t.Helper()
	r := &rig{spk: audiotest.NewSpeaker(audio.Format{Rate: 48000, Channels: 2, Bits: 16}), clk: clockwork.NewFakeClock()}
	r.opener = audiotest.NewOpener(r.spk)
	r.p = audio.NewPlayer(audio.PlayerOptions{Open: r.opener.Open, Probe: probe, Clock: r.clk,
		Logger: slog.New(slog.DiscardHandler)})
	return r
}

func (r *rig) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		r.spk.SetStuck(false)
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
}

func tone(ms int) *audio.Sound { return sine(16000, 1, 440, float64(ms)/1000) }

func TestPlayerNewReplyReplacesRunningOne(t *testing.T) {
	r := newRig(t, -1)
	r.run(t)
	a, b := tone(1000), tone(500)
	r.p.Play("leave_at_door", a)
	if s := started(t, r.spk); s != a {
		t.Fatal("first playback is not the first reply")
	}
	waitFor(t, "Playing leave_at_door", func() bool { return r.p.Status().Playing == "leave_at_door" })
	r.p.Play("coming", b)
	if s := started(t, r.spk); s != b {
		t.Fatal("second playback is not the newest reply")
	}
	r.spk.Finish()
	waitFor(t, "one played", func() bool { return r.p.Status().Played == 1 })
	st := r.p.Status()
	if st.Replaced != 1 || st.Failed != 0 || st.Playing != "" || !st.Available {
		t.Errorf("status %+v, want 1 played, 1 replaced, idle, available", st)
	}
	plays := r.spk.Plays()
	if len(plays) != 2 || !errors.Is(plays[0].Err, context.Canceled) || plays[1].Err != nil {
		t.Fatalf("plays %+v, want the first dropped (context canceled), the second played", plays)
	}
	if got, want := len(plays[1].Bytes), 24000*4; got != want {
		t.Errorf("speaker got %d bytes for 0.5 s at 48 kHz stereo S16, want %d", got, want)
	}
	if n := r.spk.Closes(); n < 2 {
		t.Errorf("speaker closed %d times, want once per playback (2)", n)
	}
}

func TestPlayerWaitingReplyIsReplaced(t *testing.T) {
	r := newRig(t, -1)
	r.spk.SetStuck(true) // the running playback ignores its context
	r.run(t)
	a, b, c := tone(100), tone(100), tone(100)
	r.p.Play("a", a)
	started(t, r.spk)
	r.p.Play("b", b) // cuts a short (a does not notice: stuck)
	r.p.Play("c", c) // replaces b, which waits
	r.spk.SetStuck(false)
	r.spk.Finish() // a returns
	if s := started(t, r.spk); s != c {
		t.Fatal("after a, the player did not play the newest reply c")
	}
	r.spk.Finish()
	waitFor(t, "c played", func() bool { return r.p.Status().Played == 1 })
	if st := r.p.Status(); st.Replaced != 2 || st.Failed != 0 {
		t.Errorf("status %+v, want a and b replaced, c played", st)
	}
}

func TestPlayNeverBlocksOnAStuckSpeaker(t *testing.T) {
	r := newRig(t, -1)
	r.spk.SetStuck(true)
	r.run(t)
	r.p.Play("first", tone(100))
	started(t, r.spk)
	done := make(chan struct{})
	go func() {
		for i := range 1000 {
			r.p.Play(fmt.Sprint("reply", i), tone(10))
			_ = r.p.Status()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Play blocked behind a stuck speaker")
	}
	if st := r.p.Status(); st.Playing != "first" || st.Replaced != 1000 {
		t.Errorf("status %+v, want still playing first, 1000 replaced", st)
	}
	r.spk.Finish()
	if s := started(t, r.spk); s.Frames() != 160 {
		t.Errorf("next playback has %d frames, want the last reply's 160", s.Frames())
	}
	r.spk.Finish()
}

func TestPlayerDegradedWithoutDevice(t *testing.T) {
	r := newRig(t, -1)
	unplugged := fmt.Errorf("audio: speaker \"hw:Loopback,0\": card \"Loopback\" not found: %w", audio.ErrNoDevice)
	r.opener.SetErr(unplugged)
	r.run(t)
	waitFor(t, "the start probe", func() bool { return r.p.Status().LastError != "" })
	if st := r.p.Status(); st.Available || !strings.Contains(st.LastError, "hw:Loopback,0") {
		t.Errorf("status %+v, want unavailable, error naming the device", st)
	}
	r.p.Play("leave_at_door", tone(100))
	waitFor(t, "a failed playback", func() bool { return r.p.Status().Failed == 1 })
	if n := r.opener.Opens(); n != 2 {
		t.Errorf("%d opens, want 2 (probe, playback)", n)
	}
	r.opener.SetErr(nil) // plugged in again: the next reply retries
	r.p.Play("leave_at_door", tone(100))
	started(t, r.spk)
	r.spk.Finish()
	waitFor(t, "played", func() bool { return r.p.Status().Played == 1 })
	if st := r.p.Status(); !st.Available || st.LastError != "" || st.Failed != 1 {
		t.Errorf("status %+v, want available again, error cleared", st)
	}
}

func TestPlayerProbesWhileIdle(t *testing.T) {
	r := newRig(t, time.Minute)
	r.run(t)
	waitFor(t, "the start probe", func() bool { return r.p.Status().Available })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.clk.BlockUntilContext(ctx, 1); err != nil { // the probe ticker
		t.Fatal(err)
	}
	r.opener.SetErr(fmt.Errorf("usb card gone: %w", audio.ErrNoDevice))
	r.clk.Advance(time.Minute)
	waitFor(t, "the probe to see the card gone", func() bool { return !r.p.Status().Available })
	if n := r.opener.Opens(); n != 2 {
		t.Errorf("%d opens, want 2 (start, one probe)", n)
	}
}

func TestPlayerDropsAStuckPlayback(t *testing.T) {
	r := newRig(t, -1)
	r.run(t)
	s := tone(1000)
	r.p.Play("leave_at_door", s)
	started(t, r.spk)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.clk.BlockUntilContext(ctx, 1); err != nil { // the playback's time limit
		t.Fatal(err)
	}
	r.clk.Advance(s.Duration() + 5*time.Second - time.Millisecond)
	if st := r.p.Status(); st.Failed != 0 || st.Playing != "leave_at_door" {
		t.Fatalf("status %+v before the limit, want still playing", st)
	}
	r.clk.Advance(time.Millisecond)
	waitFor(t, "the stuck playback to fail", func() bool { return r.p.Status().Failed == 1 })
	if st := r.p.Status(); !strings.Contains(st.LastError, "stuck") || st.Playing != "" {
		t.Errorf("status %+v, want a stuck error, idle", st)
	}
}

func TestPlayerRefusesBadSound(t *testing.T) {
	r := newRig(t, -1)
	r.run(t)
	r.p.Play("broken", &audio.Sound{Rate: 96000, Channels: 1})
	r.p.Play("nil", nil)
	waitFor(t, "two failures", func() bool { return r.p.Status().Failed+r.p.Status().Replaced == 2 })
	if st := r.p.Status(); st.Failed == 0 || !strings.Contains(st.LastError, "audio:") {
		t.Errorf("status %+v, want a failure naming the problem", st)
	}
}
