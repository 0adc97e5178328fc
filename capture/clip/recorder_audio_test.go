package clip_test

import (
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/cliptest"
)

// avFrames advances the clock by d, pushing a frame at every interval and
// the sound of that interval (20 ms chunks of wave), as a camera and a
// microphone deliver them.
func (r *rig) avFrames(mic *capture.AudioRing, d time.Duration, wave func(time.Time) float64) {
	iv := r.format.Interval()
	for end := r.clk.Now().Add(d); r.clk.Now().Before(end); {
		from := r.clk.Now()
		r.clk.Advance(iv)
		for _, c := range cliptest.AudioChunks(from, iv, 20*time.Millisecond, rate, 1, wave) {
			mic.Push(c)
		}
		r.ring.Push(cliptest.Image(r.format, r.n), r.clk.Now(), r.format)
		r.n++
	}
}

func TestRecorderSound(t *testing.T) {
	mic := capture.NewAudioRing(5 * time.Second)
	r := newRig(t, capture.NewRing(8<<20), nil, fmt10, clip.Options{PreRoll: 2 * time.Second, PostRoll: 3 * time.Second, Audio: mic})
	// The visitor speaks 300 ms after pressing: a 1 kHz tone from then.
	tone := cliptest.Constant(0)
	wave := func(t time.Time) float64 { return tone(t) }
	r.avFrames(mic, 5*time.Second, wave)
	at := r.clk.Now()
	onset := at.Add(300*time.Millisecond + 1234*time.Microsecond)
	tone = cliptest.ToneBurst(onset, time.Time{}, 1000)
	r.rec.Trigger(at, "ring1")
	r.avFrames(mic, 10*time.Second, wave)
	m := r.clips(1)[0]
	r.checkClip(m, at.Add(-2*time.Second), at.Add(3*time.Second), "ring1")
	if m.Audio != "pcm_s16le 16000 Hz 1ch" {
		t.Errorf("Meta.Audio = %q, want pcm_s16le 16000 Hz 1ch", m.Audio)
	}
	if st := r.rec.Stats(); st.Clips != 1 || st.WithSound != 1 {
		t.Errorf("Stats = %+v, want 1 clip with sound", st)
	}
	path := r.file(m)
	ss := cliptest.ProbeStreams(t, path)
	if len(ss) != 2 || ss[1].Codec != clip.CodecPCM || ss[1].Rate != rate {
		t.Fatalf("ffprobe: %+v, want video and 16 kHz %s", ss, clip.CodecPCM)
	}
	pcm := cliptest.DecodeAudio(t, path)
	if want := int(m.Duration() * rate / time.Second); len(pcm) != want {
		t.Errorf("decoded %d samples, want %d (the clip's %v)", len(pcm), want, m.Duration())
	}
	got, ok := cliptest.Onset(pcm, rate, 0.1)
	if want := onset.Sub(m.Start); !ok || absDur(got-want) > 5*time.Millisecond {
		t.Errorf("tone onset at %v (found: %v), want %v within 5ms", got, ok, want)
	} else {
		t.Logf("recorded clip: tone onset at %v, captured at %v: offset %v", got, want, got-want)
	}
	// The sound lasts to the clip's end.
	if _, ok := cliptest.Onset(pcm[len(pcm)-rate/10:], rate, 0.4); !ok {
		t.Errorf("no tone in the clip's last 100 ms")
	}
}

// A microphone that hears nothing (missing, or privacy mode) neither
// delays clips nor gives them a sound track.
func TestRecorderNoSound(t *testing.T) {
	mic := capture.NewAudioRing(5 * time.Second)
	r := newRig(t, capture.NewRing(8<<20), nil, fmt10, clip.Options{PreRoll: time.Second, PostRoll: time.Second, Audio: mic})
	r.frames(3 * time.Second)
	at := r.clk.Now()
	r.rec.Trigger(at, "e")
	r.frames(5 * time.Second)
	m := r.clips(1)[0]
	r.checkClip(m, at.Add(-time.Second), at.Add(time.Second), "e")
	if m.Audio != "" {
		t.Errorf("Meta.Audio = %q, want none", m.Audio)
	}
	if ss := cliptest.ProbeStreams(t, r.file(m)); len(ss) != 1 {
		t.Errorf("ffprobe: %d streams, want video only", len(ss))
	}
	if st := r.rec.Stats(); st.WithSound != 0 {
		t.Errorf("Stats.WithSound = %d", st.WithSound)
	}
}
