package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/doorbelld/doorbelld/hal/audio"
)

// toneLen is the tone played into the microphone during a clip.
const toneLen = 300 * time.Millisecond

// tone is a 1 kHz tone played on the loopback card's playback side while
// a clip records, which doorbelld's microphone (its capture side) hears:
// its onset in the clip's sound track must be where the clip's start and
// the time it was played put it (hil.sh decodes the track with ffmpeg).
type tone struct {
	dev string // "" skips

	mu            sync.Mutex
	before, after time.Time // the onset lies in [before, after]
	err           error
	done          chan struct{}
}

// play starts the tone in the background.
func (t *tone) play() {
	t.done = make(chan struct{})
	go func() {
		defer close(t.done)
		n := int(toneLen.Seconds() * 16000)
		s := &audio.Sound{Rate: 16000, Channels: 1, Samples: make([]int16, n)}
		for i := range s.Samples {
			s.Samples[i] = int16(16000 * math.Sin(2*math.Pi*1000*float64(i)/16000))
		}
		spk, err := audio.OpenSpeaker(t.dev)
		if err != nil {
			t.mu.Lock()
			t.err = err
			t.mu.Unlock()
			return
		}
		defer spk.Close()
		before := time.Now()
		err = spk.Play(context.Background(), s)
		after := time.Now().Add(-toneLen) // it played to the end: it began by then
		t.mu.Lock()
		t.before, t.after, t.err = before, after, err
		t.mu.Unlock()
	}()
}

// report prints where in the clip starting at start the tone must be,
// for hil.sh, and says whether it was played.
func (t *tone) report(clipID string, start time.Time, audioDesc string) {
	if t.dev == "" || t.done == nil {
		return
	}
	select {
	case <-t.done:
	case <-time.After(10 * time.Second):
		result("clip-sound", false, "the tone on %s did not finish playing", t.dev)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		result("clip-sound", false, "play the tone on %s: %v", t.dev, t.err)
		return
	}
	ok := audioDesc != ""
	result("clip-sound", ok, "clip %s sound %q; a 1 kHz tone played on %s from %v..%v after the clip's start",
		clipID, audioDesc, t.dev, t.before.Sub(start).Round(time.Millisecond), t.after.Sub(start).Round(time.Millisecond))
	if ok {
		fmt.Printf("HIL-CLIPTONE: from_ms=%.1f to_ms=%.1f\n",
			float64(t.before.Sub(start).Microseconds())/1000, float64(t.after.Sub(start).Microseconds())/1000)
	}
}
