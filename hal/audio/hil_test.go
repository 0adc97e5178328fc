//go:build hil

// Emulated-hardware tests: run inside the qemu guest of scripts/hil.sh,
// against the real snd-aloop driver (loaded with pcm_substreams=1): what
// is played on hw:Loopback,0 is captured on hw:Loopback,1.
//
//	go test -c -tags hil ./hal/audio && ./audio.test -test.v -loopback Loopback
//
// TestHILUnpluggedCard removes the module, so it runs last.
package audio_test

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/hal/audio"
	"github.com/doorbelld/doorbelld/hal/audio/audiotest"
)

var loopback = flag.String("loopback", os.Getenv("HIL_LOOPBACK"), "ALSA card id of snd-aloop (Loopback)")

func loopbackCard(t *testing.T) string {
	t.Helper()
	if *loopback == "" {
		t.Fatal("-loopback not set: run inside scripts/hil.sh (snd-aloop loaded)")
	}
	return *loopback
}

// testSignal is 1 s at 16 kHz mono: three 200 ms tones, then a 400 ms
// chirp from 300 Hz to 3 kHz, at half scale.
func testSignal() *audio.Sound { return signalAt(16000) }

// signalAt is testSignal at rate Hz (at least 8000: the chirp ends at 3 kHz).
func signalAt(rate int) *audio.Sound {
	s := &audio.Sound{Rate: rate, Channels: 1, Samples: make([]int16, rate)}
	phase := 0.0
	for i := range s.Samples {
		t := float64(i) / float64(rate)
		var f float64
		switch {
		case t < 0.2:
			f = 440
		case t < 0.4:
			f = 880
		case t < 0.6:
			f = 660
		default:
			f = 300 + (3000-300)*(t-0.6)/0.4
		}
		phase += 2 * math.Pi * f / float64(rate)
		s.Samples[i] = int16(16000 * math.Sin(phase))
	}
	return s
}

// writeWAV writes s as a 16-bit PCM WAV file.
func writeWAV(t *testing.T, path string, s *audio.Sound) { audiotest.WriteWAV(t, path, s) }

// recorder reads a microphone in 20 ms chunks until stopped.
type recorder struct {
	mic     audio.Microphone
	mu      sync.Mutex
	samples []int16
	err     error
	done    chan struct{}
}

func record(mic audio.Microphone) *recorder {
	r := &recorder{mic: mic, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		f := mic.Format()
		buf := make([]int16, f.Rate/50*f.Channels)
		for {
			n, err := mic.Read(buf)
			r.mu.Lock()
			r.samples = append(r.samples, buf[:n]...)
			if err != nil {
				if !errors.Is(err, audio.ErrClosed) {
					r.err = err
				}
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
		}
	}()
	return r
}

// frames returns how many frames have been captured.
func (r *recorder) frames() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples) / r.mic.Format().Channels
}

func (r *recorder) stop(t *testing.T) []int16 {
	t.Helper()
	if err := r.mic.Close(); err != nil {
		t.Error(err)
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("microphone Read not unblocked by Close")
	}
	if r.err != nil {
		t.Fatalf("capture: %v", r.err)
	}
	return r.samples
}

// active is the first and last index where |x| exceeds thr.
func active(x []float64, thr float64) (int, int) {
	first, last := -1, -1
	for i, v := range x {
		if math.Abs(v) > thr {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

// match finds ref in got by cross-correlation around got's onset and
// returns the normalised correlation at the best lag, the lag, and the
// active lengths (above 5% of full scale) of both.
func match(got, ref []float64) (corr float64, lag, gotLen, refLen int) {
	const thr = 0.05 * 32768
	g0, g1 := active(got, thr)
	r0, r1 := active(ref, thr)
	if g0 < 0 || r0 < 0 {
		return 0, 0, 0, r1 - r0
	}
	best, bestLag := -2.0, 0
	for l := g0 - r0 - 400; l <= g0-r0+400; l++ {
		var xy, xx, yy float64
		for i, y := range ref {
			j := l + i
			x := 0.0
			if j >= 0 && j < len(got) {
				x = got[j]
			}
			xy += x * y
			xx += x * x
			yy += y * y
		}
		if c := xy / math.Sqrt(xx*yy+1e-9); c > best {
			best, bestLag = c, l
		}
	}
	return best, bestLag, g1 - g0, r1 - r0
}

// loopbackPlay plays snd through play while recording mic, and judges the
// capture against snd.
func loopbackPlay(t *testing.T, mic audio.Microphone, snd *audio.Sound, play func() error) {
	t.Helper()
	f := mic.Format()
	rec := record(mic)
	// Let capture run for 100 ms before playing, so the onset is inside it.
	deadline := time.Now().Add(10 * time.Second)
	for rec.frames() < f.Rate/10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := play(); err != nil {
		rec.stop(t)
		t.Fatalf("play: %v", err)
	}
	took := time.Since(start)
	// and 300 ms after the drain
	want := rec.frames() + f.Rate*3/10
	for rec.frames() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	samples := rec.stop(t)
	got := make([]float64, len(samples)/f.Channels)
	for i := range got {
		got[i] = float64(samples[i*f.Channels])
		if f.Channels == 2 && samples[i*2+1] != samples[i*2] {
			t.Fatalf("frame %d: left %d ≠ right %d for a mono reply", i, samples[i*2], samples[i*2+1])
		}
	}
	refB := audio.Convert(snd, audio.Format{Rate: f.Rate, Channels: 1, Bits: 16})
	ref := make([]float64, len(refB)/2)
	for i := range ref {
		ref[i] = float64(int16(binary.LittleEndian.Uint16(refB[2*i:])))
	}
	corr, lag, gotLen, refLen := match(got, ref)
	dLen := time.Duration(gotLen-refLen) * time.Second / time.Duration(f.Rate)
	t.Logf("loopback %v: captured %d frames; signal at %.1f ms, normalised correlation %.4f, length %v vs %v (%+v); Play took %v",
		f, len(got), float64(lag)*1000/float64(f.Rate), corr,
		time.Duration(gotLen)*time.Second/time.Duration(f.Rate), time.Duration(refLen)*time.Second/time.Duration(f.Rate), dLen, took.Round(time.Millisecond))
	if corr < 0.9 {
		t.Errorf("normalised correlation %.4f, want ≥ 0.9", corr)
	}
	if dLen < -20*time.Millisecond || dLen > 20*time.Millisecond {
		t.Errorf("captured signal %v longer than the reply, want within ±20ms", dLen)
	}
	if took < snd.Duration()-20*time.Millisecond {
		t.Errorf("Play returned after %v, before the %v sound can have drained", took, snd.Duration())
	}
}

func TestHILLoopbackReply(t *testing.T) {
	lb := loopbackCard(t)
	path := "/tmp/hil-reply.wav"
	writeWAV(t, path, testSignal())
	snd, err := audio.LoadWAV(path)
	if err != nil {
		t.Fatal(err)
	}

	// The first side of the loopback to be prepared fixes the format of
	// the other: the microphone, opened first, makes the speaker take
	// its format, so Play converts to it.
	t.Run("native 16k mono S16", func(t *testing.T) {
		mic, err := audio.OpenMicrophone("hw:"+lb+",1", audio.Format{Rate: 16000, Channels: 1, Bits: 16})
		if err != nil {
			t.Fatal(err)
		}
		spk, err := audio.OpenSpeaker("hw:" + lb + ",0")
		if err != nil {
			mic.Close()
			t.Fatal(err)
		}
		defer spk.Close()
		if f := spk.Format(); f != mic.Format() {
			t.Fatalf("speaker opened at %v, microphone at %v: the loopback should have matched them", f, mic.Format())
		}
		loopbackPlay(t, mic, snd, func() error { return spk.Play(context.Background(), snd) })
	})

	t.Run("converted to 48k stereo S32 by the Player", func(t *testing.T) {
		mic, err := audio.OpenMicrophone("hw:"+lb+",1", audio.Format{Rate: 48000, Channels: 2, Bits: 32})
		if err != nil {
			t.Fatal(err)
		}
		if f := mic.Format(); f != (audio.Format{Rate: 48000, Channels: 2, Bits: 32}) {
			t.Fatalf("microphone opened at %v, want 48000 Hz 2ch S32_LE", f)
		}
		var opened audio.Format
		p := audio.NewPlayer(audio.PlayerOptions{Probe: -1, Open: func() (audio.Speaker, error) {
			s, err := audio.OpenSpeaker("hw:" + lb + ",0")
			if err == nil {
				opened = s.Format()
			}
			return s, err
		}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		loopbackPlay(t, mic, snd, func() error {
			p.Play("hil_reply", snd)
			deadline := time.Now().Add(20 * time.Second)
			for p.Status().Played+p.Status().Failed == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if st := p.Status(); st.Played != 1 {
				return errors.New("player status " + st.LastError)
			}
			return nil
		})
		if opened != mic.Format() {
			t.Errorf("speaker opened at %v, want the microphone's %v", opened, mic.Format())
		}
	})
	// Cancelling Play drops the rest: judged by what the loopback
	// carried, not by the clock.
	t.Run("cancel drops at once", func(t *testing.T) {
		mic, err := audio.OpenMicrophone("hw:"+lb+",1", audio.Format{Rate: 16000, Channels: 1, Bits: 16})
		if err != nil {
			t.Fatal(err)
		}
		spk, err := audio.OpenSpeaker("hw:" + lb + ",0")
		if err != nil {
			mic.Close()
			t.Fatal(err)
		}
		defer spk.Close()
		rec := record(mic)
		heard := func() int { // frames since the signal's onset
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for i, v := range rec.samples {
				if v > 1600 || v < -1600 {
					return len(rec.samples) - i
				}
			}
			return 0
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- spk.Play(ctx, snd) }()
		deadline := time.Now().Add(10 * time.Second)
		for heard() < snd.Rate*3/10 && time.Now().Before(deadline) { // 300 ms of it
			time.Sleep(5 * time.Millisecond)
		}
		cancelled := time.Now()
		cancel()
		var perr error
		select {
		case perr = <-errc:
		case <-time.After(10 * time.Second):
			rec.stop(t)
			t.Fatal("Play did not return after the cancel")
		}
		stopped := time.Since(cancelled)
		// Keep recording 300 ms past the drop, then measure what came.
		want := rec.frames() + snd.Rate*3/10
		for rec.frames() < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		samples := rec.stop(t)
		x := make([]float64, len(samples))
		for i, v := range samples {
			x[i] = float64(v)
		}
		first, last := active(x, 1600)
		played := time.Duration(last-first) * time.Second / time.Duration(snd.Rate)
		t.Logf("cancelled after 300 ms heard: Play returned %v later (%v); the loopback carried %v of the %v reply",
			stopped.Round(time.Microsecond), perr, played.Round(time.Millisecond), snd.Duration())
		if !errors.Is(perr, context.Canceled) {
			t.Errorf("Play after cancel: %v, want context.Canceled", perr)
		}
		if played > snd.Duration()*3/4 {
			t.Errorf("%v of the reply was played after a cancel at 300 ms: drained, not dropped", played)
		}
		// The speaker plays again after a drop.
		short := &audio.Sound{Rate: snd.Rate, Channels: 1, Samples: snd.Samples[:snd.Rate/10]}
		if err := spk.Play(context.Background(), short); err != nil {
			t.Errorf("Play after a drop: %v", err)
		}
	})
}

// TestHILLoopbackTalk writes 1 s of 8 kHz mono (the back-channel's G.711
// rate) to a Talk in 20 ms packets at the real-time pace, as the network
// brings them, and judges what the loopback carried. The microphone,
// opened first at 16 kHz, fixes the loopback's format, so the stream is
// resampled on the way. The lag from the first Write to the signal's
// onset is logged (jitter buffer prefill + the device's buffer), not
// asserted.
func TestHILLoopbackTalk(t *testing.T) {
	lb := loopbackCard(t)
	snd := signalAt(8000)
	mic, err := audio.OpenMicrophone("hw:"+lb+",1", audio.Format{Rate: 16000, Channels: 1, Bits: 16})
	if err != nil {
		t.Fatal(err)
	}
	f := mic.Format()
	p := audio.NewPlayer(audio.PlayerOptions{Probe: -1, Logger: slog.Default(),
		Open: func() (audio.Speaker, error) { return audio.OpenSpeaker("hw:" + lb + ",0") }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	rec := record(mic)
	// Let capture run for 100 ms before talking, so the onset is inside it.
	deadline := time.Now().Add(20 * time.Second)
	for rec.frames() < f.Rate/10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	tk := p.Talk("hil_talk", snd.Rate, 1)
	defer tk.Close()
	// 20 ms packets at the network's pace.
	pkt := snd.Rate / 50
	tick := time.NewTicker(20 * time.Millisecond)
	at0 := rec.frames() // captured when the first packet is written
	for i := 0; i < len(snd.Samples); i += pkt {
		if i > 0 {
			<-tick.C
		}
		tk.Write(snd.Samples[i:min(i+pkt, len(snd.Samples))])
	}
	tick.Stop()
	// Until the speaker has had it all, then 300 ms more of capture
	// (its buffer) before the talk ends and drops what is left.
	for p.Status().TalkPlayed < uint64(snd.Frames()) && tk.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	want := rec.frames() + f.Rate*3/10
	for rec.frames() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := p.Status()
	if err := tk.Err(); err != nil {
		rec.stop(t)
		t.Fatalf("talk ended before it was closed: %v (status %+v)", err, st)
	}
	tk.Close()
	samples := rec.stop(t)
	got := make([]float64, len(samples)/f.Channels)
	for i := range got {
		got[i] = float64(samples[i*f.Channels])
	}
	refB := audio.Convert(snd, audio.Format{Rate: f.Rate, Channels: 1, Bits: 16})
	ref := make([]float64, len(refB)/2)
	for i := range ref {
		ref[i] = float64(int16(binary.LittleEndian.Uint16(refB[2*i:])))
	}
	corr, lag, gotLen, refLen := match(got, ref)
	ms := func(frames int) time.Duration { return time.Duration(frames) * time.Second / time.Duration(f.Rate) }
	t.Logf("loopback talk %v: captured %d frames; normalised correlation %.4f; signal %v long (sent %v); "+
		"onset ≈ %v after the first Write (prefill + device buffer + capture period); "+
		"talk played %d frames, %d underruns, %d dropped",
		f, len(got), corr, ms(gotLen), ms(refLen), ms(lag-at0), st.TalkPlayed, st.TalkUnderruns, st.TalkDropped)
	if corr < 0.9 {
		t.Errorf("normalised correlation %.4f, want ≥ 0.9", corr)
	}
	if st.Talks != 1 || st.TalkFailed != 0 || st.TalkPlayed < uint64(snd.Frames()) {
		t.Errorf("player status %+v, want one talk that played all %d frames", st, snd.Frames())
	}
}

// TestHILUnpluggedCard removes snd-aloop: the card is gone, as when a USB
// card is pulled. Run it last (tests run in the order of this file).
func TestHILUnpluggedCard(t *testing.T) {
	lb := loopbackCard(t)
	if out, err := exec.Command("rmmod", "snd_aloop").CombinedOutput(); err != nil {
		t.Fatalf("rmmod snd_aloop: %v: %s", err, out)
	}
	dev := "hw:" + lb + ",0"
	_, err := audio.OpenSpeaker(dev)
	if !errors.Is(err, audio.ErrNoDevice) || !strings.Contains(err.Error(), dev) {
		t.Errorf("OpenSpeaker(%q) after rmmod: %v, want ErrNoDevice naming it", dev, err)
	}
	t.Logf("by name: %v", err)
	_, err = audio.OpenSpeaker("hw:0,0")
	if !errors.Is(err, audio.ErrNoDevice) || !strings.Contains(err.Error(), "/dev/snd/pcmC0D0p") {
		t.Errorf("OpenSpeaker(hw:0,0) after rmmod: %v, want ErrNoDevice naming /dev/snd/pcmC0D0p", err)
	}
	t.Logf("by number: %v", err)

	p := audio.NewPlayer(audio.PlayerOptions{Probe: -1, Logger: slog.Default(),
		Open: func() (audio.Speaker, error) { return audio.OpenSpeaker(dev) }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	p.Play("leave_at_door", testSignal())
	deadline := time.Now().Add(10 * time.Second)
	for p.Status().Failed == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := p.Status()
	if st.Available || st.Failed != 1 || !strings.Contains(st.LastError, dev) {
		t.Errorf("player status %+v, want unavailable, one failed reply, an error naming %s", st, dev)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
