package audiotest_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/hal/audio"
	"github.com/doorbelld/doorbelld/hal/audio/audiotest"
)

func TestSpeakerDropsOnCancel(t *testing.T) {
	spk := audiotest.NewSpeaker(audio.Format{Rate: 16000, Channels: 1, Bits: 16})
	s := &audio.Sound{Rate: 8000, Channels: 1, Samples: []int16{1, 2, 3, 4}}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- spk.Play(ctx, s) }()
	<-spk.Started()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Play: %v, want context.Canceled", err)
	}
	go func() { errc <- spk.Play(context.Background(), s) }()
	<-spk.Started()
	spk.Finish()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	p := spk.Plays()
	if len(p) != 2 || len(p[1].Bytes) != 16 { // 8 frames at 16 kHz S16
		t.Fatalf("plays %+v, want 2, the second 16 bytes", p)
	}
}

func TestOpenerUnplugged(t *testing.T) {
	o := audiotest.NewOpener(audiotest.NewSpeaker(audio.Format{Rate: 48000, Channels: 2, Bits: 32}))
	o.SetErr(audio.ErrNoDevice)
	if _, err := o.Open(); !errors.Is(err, audio.ErrNoDevice) {
		t.Fatalf("Open: %v", err)
	}
	o.SetErr(nil)
	if s, err := o.Open(); err != nil || s.Format().Bits != 32 || o.Opens() != 2 {
		t.Fatalf("Open: %v, %v, %d opens", s, err, o.Opens())
	}
}

func TestMicrophoneHearsTheSound(t *testing.T) {
	m := audiotest.NewMicrophone(&audio.Sound{Rate: 16000, Channels: 2, Samples: []int16{1, 2, 3, 4, 5, 6}})
	buf := make([]int16, 5) // two whole frames
	if n, err := m.Read(buf); n != 4 || err != nil || buf[3] != 4 {
		t.Fatalf("Read: %d %v %v", n, err, buf)
	}
	if n, err := m.Read(buf); n != 2 || err != nil || buf[1] != 6 {
		t.Fatalf("Read: %d %v %v", n, err, buf)
	}
	if _, err := m.Read(buf); err != io.EOF {
		t.Fatalf("Read at the end: %v, want EOF", err)
	}
	m.Close()
	if _, err := m.Read(buf); !errors.Is(err, audio.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

func TestSpeakerStreamsWhenPulled(t *testing.T) {
	spk := audiotest.NewSpeaker(audio.Format{Rate: 16000, Channels: 2, Bits: 16})
	if spk.Period() != 320 {
		t.Fatalf("period %d frames, want 320 (20 ms at 16 kHz)", spk.Period())
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	next := int16(0)
	go func() {
		errc <- spk.Stream(ctx, 8000, 1, func(p []int16) int {
			n := len(p) / 2 // half the period, then silence
			for i := range n {
				next++
				p[i] = next
			}
			return n
		})
	}()
	if f := <-spk.StreamStarted(); f != (audio.Format{Rate: 8000, Channels: 1, Bits: 16}) {
		t.Fatalf("stream started at %v", f)
	}
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	if err := spk.Pull(pctx, 2); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream: %v, want context.Canceled", err)
	}
	s := <-spk.StreamEnded()
	if s.Periods != 2 || s.Filled != 160 || len(s.Samples) != 320 || len(s.Bytes) != 2*320*4 || !s.Done {
		t.Fatalf("stream record: %d periods, %d filled, %d samples, %d bytes", s.Periods, s.Filled, len(s.Samples), len(s.Bytes))
	}
	if s.Samples[0] != 1 || s.Samples[79] != 80 || s.Samples[80] != 0 || s.Samples[160] != 81 {
		t.Fatalf("samples %v…: want 80 counted, 80 silent, then on", s.Samples[:4])
	}
	done, dcancel := context.WithCancel(context.Background())
	dcancel()
	if err := spk.Pull(done, 1); !errors.Is(err, audiotest.ErrNoStream) {
		t.Fatalf("Pull with no stream: %v, want ErrNoStream", err)
	}
	spk.Forget()
	if s := spk.Streams(); len(s) != 1 || s[0].Periods != 2 || len(s[0].Samples) != 0 {
		t.Fatalf("after Forget: %+v, want the counts kept and the samples gone", s)
	}
}
