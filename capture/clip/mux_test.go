package clip_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/cliptest"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var (
	mjpeg = capture.Format{PixelFormat: capture.PixMJPEG, Width: 64, Height: 48, FPS: 15}
	yuyv  = capture.Format{PixelFormat: capture.PixYUYV, Width: 64, Height: 48, FPS: 15}
)

// muxFile muxes frames into a file in a temporary directory.
func muxFile(t *testing.T, frames []capture.Frame) (clip.Info, string) {
	t.Helper()
	var buf bytes.Buffer
	info, err := clip.Mux(frames, &buf)
	if err != nil {
		t.Fatalf("Mux: %v", err)
	}
	if info.Size != int64(buf.Len()) {
		t.Errorf("Info.Size = %d, wrote %d bytes", info.Size, buf.Len())
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return info, path
}

// wantDuration is what a clip of these frame times lasts: first to last
// plus one (the median) interval.
func wantDuration(times []time.Time, median time.Duration) time.Duration {
	return times[len(times)-1].Sub(times[0]) + median
}

func frameTimes(frames []capture.Frame) []time.Time {
	out := make([]time.Time, len(frames))
	for i, f := range frames {
		out[i] = f.At
	}
	return out
}

// checkTimes compares the packet times ffprobe reports with the frames'
// capture times, relative to the first.
func checkTimes(t *testing.T, p cliptest.Probe, times []time.Time) {
	t.Helper()
	if len(p.PTS) != len(times) {
		t.Fatalf("ffprobe: %d packets, want %d", len(p.PTS), len(times))
	}
	for i, pts := range p.PTS {
		want := times[i].Sub(times[0])
		if d := pts - want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("packet %d at %v, want %v (the frame's capture time)", i, pts, want)
		}
	}
}

func TestMuxMJPEG(t *testing.T) {
	frames := cliptest.Frames(mjpeg, 30, t0)
	// Real cameras jitter and drop frames: shift some, drop two.
	frames[3].At = frames[3].At.Add(9 * time.Millisecond)
	frames[4].At = frames[4].At.Add(-7 * time.Millisecond)
	frames = append(frames[:10], frames[12:]...)
	times := frameTimes(frames)

	info, path := muxFile(t, frames)
	if info.Codec != clip.CodecMJPEG || info.Frames != 28 || info.Skipped != 0 || info.Width != 64 || info.Height != 48 {
		t.Errorf("Info = %+v, want mjpeg 64x48, 28 frames", info)
	}
	want := wantDuration(times, time.Second/15)
	if !info.Start.Equal(t0) || absDur(info.Duration()-want) > time.Millisecond {
		t.Errorf("Info: start %v, duration %v; want %v, %v", info.Start, info.Duration(), t0, want)
	}

	p := cliptest.ProbeFile(t, path)
	if p.Codec != "mjpeg" || p.Tag != "mp4v" || p.Frames != 28 || p.Width != 64 || p.Height != 48 {
		t.Errorf("ffprobe: %+v, want mjpeg in mp4v, 28 frames, 64x48", p)
	}
	if absDur(p.Duration-want) > time.Second/15 {
		t.Errorf("ffprobe: duration %v, want %v within one frame interval", p.Duration, want)
	}
	checkTimes(t, p, times)
}

func TestMuxYUYV(t *testing.T) {
	frames := cliptest.Frames(yuyv, 10, t0)
	info, path := muxFile(t, frames)
	if info.Codec != clip.CodecMJPEG || info.Frames != 10 {
		t.Errorf("Info = %+v, want an mjpeg clip of 10 frames", info)
	}
	p := cliptest.ProbeFile(t, path)
	if p.Codec != "mjpeg" || p.Frames != 10 || p.Width != 64 || p.Height != 48 {
		t.Errorf("ffprobe: %+v, want 10 decodable mjpeg frames 64x48", p)
	}
	checkTimes(t, p, frameTimes(frames))
}

func TestMuxH264(t *testing.T) {
	tests := []struct {
		name       string
		first      int // index of the first frame passed
		wantFrames int
	}{
		{"from a key frame", 0, 30},
		// Frames before the next key frame (10) cannot be decoded: left out.
		{"mid GOP", 3, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := cliptest.H264Frames(t0)[tt.first:]
			info, path := muxFile(t, frames)
			if info.Codec != clip.CodecH264 || info.Frames != tt.wantFrames || info.Skipped != len(frames)-tt.wantFrames ||
				info.Width != cliptest.H264Width || info.Height != cliptest.H264Height {
				t.Errorf("Info = %+v, want h264 160x120, %d frames", info, tt.wantFrames)
			}
			kept := frameTimes(frames[len(frames)-tt.wantFrames:])
			if !info.Start.Equal(kept[0]) {
				t.Errorf("Info.Start = %v, want the first key frame's time %v", info.Start, kept[0])
			}
			p := cliptest.ProbeFile(t, path)
			if p.Codec != "h264" || p.Tag != "avc1" || p.Frames != tt.wantFrames {
				t.Errorf("ffprobe: %+v, want h264 in avc1, %d frames", p, tt.wantFrames)
			}
			want := wantDuration(kept, time.Second/cliptest.H264FPS)
			if absDur(p.Duration-want) > time.Second/cliptest.H264FPS {
				t.Errorf("ffprobe: duration %v, want %v within one frame interval", p.Duration, want)
			}
			checkTimes(t, p, kept)
		})
	}
}

func TestMuxMixedFrames(t *testing.T) {
	frames := cliptest.Frames(mjpeg, 6, t0)
	big := capture.Format{PixelFormat: capture.PixMJPEG, Width: 32, Height: 32, FPS: 15}
	frames[1].Format, frames[1].Data = big, cliptest.Image(big, 1)   // another size: left out
	frames[2].Format, frames[2].Data = yuyv, cliptest.Image(yuyv, 2) // YUYV of the same size: encoded
	frames[3].Data = []byte("not a jpeg")                            // undecodable: left out
	frames[4].Format.PixelFormat = capture.PixH264                   // another codec: left out

	info, path := muxFile(t, frames)
	if info.Codec != clip.CodecMJPEG || info.Frames != 3 || info.Skipped != 3 {
		t.Errorf("Info = %+v, want mjpeg, 3 frames, 3 skipped", info)
	}
	if p := cliptest.ProbeFile(t, path); p.Frames != 3 || p.Width != 64 {
		t.Errorf("ffprobe: %+v, want 3 frames 64 wide", p)
	}
}

func TestMuxNoFrames(t *testing.T) {
	bad := cliptest.Frames(mjpeg, 2, t0)
	bad[0].Data, bad[1].Data = []byte{1, 2, 3}, nil
	h264 := cliptest.H264Frames(t0)[1:5] // no key frame
	tests := map[string][]capture.Frame{
		"none":         nil,
		"undecodable":  bad,
		"no key frame": h264,
	}
	for name, frames := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := clip.Mux(frames, &buf); !errors.Is(err, clip.ErrNoFrames) {
				t.Errorf("Mux = %v, want ErrNoFrames", err)
			}
			if buf.Len() != 0 {
				t.Errorf("Mux wrote %d bytes on failure", buf.Len())
			}
		})
	}
}

func TestMuxSingleFrame(t *testing.T) {
	frames := cliptest.Frames(capture.Format{PixelFormat: capture.PixMJPEG, Width: 64, Height: 48, FPS: 10}, 1, t0)
	info, path := muxFile(t, frames)
	// One frame lasts the format's interval.
	if info.Duration() != 100*time.Millisecond {
		t.Errorf("Info.Duration = %v, want 100ms", info.Duration())
	}
	if p := cliptest.ProbeFile(t, path); p.Frames != 1 {
		t.Errorf("ffprobe: %d frames, want 1", p.Frames)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, errors.New("disk on fire")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestMuxWriteError(t *testing.T) {
	for _, n := range []int{0, 1000} {
		if _, err := clip.Mux(cliptest.Frames(mjpeg, 5, t0), &failWriter{n: n}); err == nil {
			t.Errorf("Mux to a writer failing after %d bytes: no error", n)
		}
	}
}

func FuzzMux(f *testing.F) {
	f.Add([]byte(nil), false)
	f.Add(cliptest.Image(mjpeg, 0), false)
	f.Add(cliptest.H264Frames(t0)[0].Data, true)
	f.Add([]byte{0, 0, 1, 0x65, 0, 0, 1}, true)
	f.Fuzz(func(t *testing.T, data []byte, isH264 bool) {
		fr := cliptest.Frames(mjpeg, 3, t0)
		if isH264 {
			fr = cliptest.H264Frames(t0)[:3]
		}
		fr[1].Data = data
		var buf bytes.Buffer
		info, err := clip.Mux(fr, &buf)
		if err == nil && (info.Frames == 0 || info.Size != int64(buf.Len())) {
			t.Fatalf("Mux = %+v with %d bytes written", info, buf.Len())
		}
	})
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// BenchmarkMux muxes a 15 s, 15 fps, 640x480 MJPEG clip (225 frames of
// about 40 KB, as the sim camera makes them).
func BenchmarkMux(b *testing.B) {
	frames, err := cliptest.SimFrames(640, 480, 15, 225, t0)
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, fr := range frames {
		size += int64(len(fr.Data))
	}
	var buf bytes.Buffer
	buf.Grow(int(size) + 1<<20)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := clip.Mux(frames, &buf); err != nil {
			b.Fatal(err)
		}
	}
}
