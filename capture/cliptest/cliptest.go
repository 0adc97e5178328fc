package cliptest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"image/color"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/capturetest"
	"github.com/doorbelld/doorbelld/capture/simcam"
)

//go:embed testdata/h264_160x120_15fps_30frames.h264
var h264Stream []byte

// H264 frame properties of H264Frames.
const (
	H264Width    = 160
	H264Height   = 120
	H264FPS      = 15
	H264GOP      = 10 // frames 0, 10, 20 are key frames
	H264NumFrame = 30
)

// H264Frames returns 30 H.264 frames (one access unit each, Annex-B, in
// pixel format capture.PixH264), 1/15 s apart from start. Each call returns new
// copies.
func H264Frames(start time.Time) []capture.Frame {
	f := capture.Format{PixelFormat: capture.PixH264, Width: H264Width, Height: H264Height, FPS: H264FPS}
	aus := splitAUs(h264Stream)
	out := make([]capture.Frame, len(aus))
	for i, au := range aus {
		out[i] = capture.Frame{
			Data:   bytes.Clone(au),
			At:     start.Add(time.Duration(i) * time.Second / H264FPS),
			Seq:    uint64(i + 1),
			Format: f,
		}
	}
	return out
}

// splitAUs cuts an Annex-B stream before each access unit delimiter.
func splitAUs(b []byte) [][]byte {
	aud := []byte{0, 0, 0, 1, 9}
	var out [][]byte
	for len(b) > 0 {
		next := bytes.Index(b[1:], aud)
		if next < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:next+1])
		b = b[next+1:]
	}
	return out
}

// Frames returns n frames in format f, spaced by the format's interval
// (1/15 s if it has no frame rate) from start, with Seq 1..n. MJPEG and
// YUYV frames are real images of the format's size whose colour changes
// from frame to frame.
func Frames(f capture.Format, n int, start time.Time) []capture.Frame {
	iv := f.Interval()
	if iv <= 0 {
		iv = time.Second / 15
	}
	out := make([]capture.Frame, n)
	for i := range out {
		out[i] = capture.Frame{
			Data:   Image(f, i),
			At:     start.Add(time.Duration(i) * iv),
			Seq:    uint64(i + 1),
			Format: f,
		}
	}
	return out
}

// Image returns the i-th test image in format f (MJPEG or YUYV).
func Image(f capture.Format, i int) []byte {
	c := color.RGBA{R: uint8(i * 37), G: uint8(255 - i*11), B: uint8(i * 5), A: 255}
	if f.PixelFormat == capture.PixYUYV {
		return capturetest.YUYV(f.Width, f.Height, c)
	}
	return capturetest.JPEG(f.Width, f.Height, c)
}

// Probe is what ffprobe says about the first video stream of a file.
type Probe struct {
	Codec    string          // ffprobe's codec_name: "mjpeg", "h264"
	Tag      string          // the sample entry: "mp4v", "avc1"
	Width    int             // pixels
	Height   int             // pixels
	Frames   int             // frames decoded (nb_read_frames)
	Duration time.Duration   // the stream's duration
	PTS      []time.Duration // each packet's presentation time, in order
}

// ProbeFile runs ffprobe on path, decoding every frame. It skips the test
// if ffprobe is not on PATH and fails it if ffprobe reports an error.
func ProbeFile(tb testing.TB, path string) Probe {
	tb.Helper()
	bin, err := exec.LookPath("ffprobe")
	if err != nil {
		tb.Skip("ffprobe not on PATH (Debian: apt install ffmpeg); clips cannot be judged")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,codec_tag_string,width,height,nb_read_frames,duration:packet=pts_time",
		"-of", "json", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		tb.Fatalf("ffprobe %s: %v: %s", path, err, stderr.Bytes())
	}
	var res struct {
		Streams []struct {
			Codec    string `json:"codec_name"`
			Tag      string `json:"codec_tag_string"`
			Width    int    `json:"width"`
			Height   int    `json:"height"`
			Frames   string `json:"nb_read_frames"`
			Duration string `json:"duration"`
		} `json:"streams"`
		Packets []struct {
			PTS string `json:"pts_time"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		tb.Fatalf("ffprobe %s: parse output: %v\n%s", path, err, out)
	}
	if len(res.Streams) != 1 {
		tb.Fatalf("ffprobe %s: %d video streams, want 1\n%s", path, len(res.Streams), out)
	}
	s := res.Streams[0]
	p := Probe{Codec: s.Codec, Tag: s.Tag, Width: s.Width, Height: s.Height}
	p.Frames, err = strconv.Atoi(s.Frames)
	if err != nil {
		tb.Fatalf("ffprobe %s: nb_read_frames %q: %v", path, s.Frames, err)
	}
	p.Duration = seconds(tb, s.Duration)
	for _, pk := range res.Packets {
		p.PTS = append(p.PTS, seconds(tb, pk.PTS))
	}
	return p
}

func seconds(tb testing.TB, s string) time.Duration {
	tb.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		tb.Fatalf("ffprobe: time %q: %v", s, err)
	}
	return time.Duration(f * float64(time.Second))
}

// SimFrames returns n frames of the sim camera (simcam: MJPEG, a moving
// test pattern with a clock, about 40 KB at 640x480), taken at the
// camera's frame interval from start.
func SimFrames(width, height, fps, n int, start time.Time) ([]capture.Frame, error) {
	clk := clockwork.NewFakeClockAt(start)
	cam := simcam.New(width, height, fps, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type pushed struct {
		data []byte
		at   time.Time
	}
	frames := make(chan pushed, 1)
	done := make(chan error, 1)
	go func() {
		done <- cam.Stream(ctx, func(capture.Format) {}, func(b []byte, at time.Time) {
			frames <- pushed{bytes.Clone(b), at}
		})
	}()
	out := make([]capture.Frame, 0, n)
	for i := 0; i < n; i++ {
		if err := clk.BlockUntilContext(ctx, 1); err != nil {
			return nil, err
		}
		clk.Advance(time.Second / time.Duration(fps))
		select {
		case p := <-frames:
			out = append(out, capture.Frame{Data: p.data, At: p.at, Seq: uint64(i + 1), Format: cam.Format()})
		case err := <-done:
			return nil, fmt.Errorf("cliptest: sim camera: %w", err)
		}
	}
	cancel()
	return out, <-done
}
