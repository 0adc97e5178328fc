package rtsp_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/rtsp"
	"github.com/doorbelld/doorbelld/firmware/rtsp/rtsptest"
)

// TestFFprobe: a real client reads the stream over TCP and UDP: codec
// and size as announced, and at least 2 s of frames with increasing
// timestamps.
func TestFFprobe(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	for _, tc := range []struct {
		codec, transport string
	}{{"mjpeg", "tcp"}, {"mjpeg", "udp"}, {"h264", "tcp"}, {"h264", "udp"}} {
		t.Run(tc.codec+"/"+tc.transport, func(t *testing.T) {
			var src *rtsptest.Source
			w, h := 640, 480
			if tc.codec == "h264" {
				src, w, h = h264Source(t), 320, 240
			} else {
				src = jpegSource(t)
			}
			_, url, _ := start(t, src, accounts, func(o *rtsp.Options) { o.UDPRTPPort = rtsp.AutoUDP })
			ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
			defer cancel()
			go src.Run(ctx, 15) //nolint:errcheck // ends with ctx
			out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-rtsp_transport", tc.transport,
				"-select_streams", "v:0", "-read_intervals", "%+#40",
				"-show_entries", "stream=codec_name,width,height:frame=pts_time",
				"-of", "json", url).Output()
			if err != nil {
				t.Fatalf("ffprobe: %v", err)
			}
			var res struct {
				Streams []struct {
					CodecName     string `json:"codec_name"`
					Width, Height int
				}
				Frames []struct {
					PTS string `json:"pts_time"`
				}
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("ffprobe output: %v\n%s", err, out)
			}
			if len(res.Streams) != 1 || res.Streams[0].CodecName != tc.codec || res.Streams[0].Width != w || res.Streams[0].Height != h {
				t.Fatalf("streams %+v, want one %s %dx%d", res.Streams, tc.codec, w, h)
			}
			var first, last float64
			n := 0
			for i, f := range res.Frames {
				if f.PTS == "" && i == 0 {
					// ffmpeg's RTSP demuxer gives the very first H.264
					// frame no timestamp (N/A): not counted.
					continue
				}
				pts, err := strconv.ParseFloat(f.PTS, 64)
				if err != nil {
					t.Fatalf("frame %d pts %q\n%s", i, f.PTS, out)
				}
				n++
				if n == 1 {
					first = pts
				} else if pts <= last {
					t.Fatalf("frame %d pts %v after %v: not increasing", i, pts, last)
				}
				last = pts
			}
			if n < 30 || last-first < 2 {
				t.Fatalf("%d frames over %.2f s, want ≥ 30 frames over ≥ 2 s", n, last-first)
			}
		})
	}
}

// TestFFprobeAudio: ffprobe reads a stream with the microphone over TCP
// and finds two streams, the video and pcm_mulaw at 8000 Hz mono, with
// audio packets flowing.
func TestFFprobeAudio(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	src, mic := jpegSource(t), rtsptest.NewMic()
	_, url, _ := start(t, src, accounts, func(o *rtsp.Options) { o.Audio = mic })
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	go src.Run(ctx, 15)       //nolint:errcheck // ends with ctx
	go mic.Run(ctx, 48000, 2) //nolint:errcheck // ends with ctx
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-rtsp_transport", "tcp",
		"-select_streams", "a:0", "-read_intervals", "%+#25",
		"-show_entries", "stream=codec_type,codec_name,sample_rate,channels:packet=pts_time,size",
		"-of", "json", url).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var res struct {
		Streams []struct {
			CodecType  string `json:"codec_type"`
			CodecName  string `json:"codec_name"`
			SampleRate string `json:"sample_rate"`
			Channels   int
		}
		Packets []struct {
			PTS  string `json:"pts_time"`
			Size string
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	if len(res.Streams) != 1 || res.Streams[0].CodecName != "pcm_mulaw" || res.Streams[0].SampleRate != "8000" || res.Streams[0].Channels != 1 {
		t.Fatalf("audio streams %+v, want pcm_mulaw 8000 Hz mono\n%s", res.Streams, out)
	}
	if len(res.Packets) < 20 {
		t.Fatalf("%d audio packets, want ≥ 20\n%s", len(res.Packets), out)
	}
	// And both streams are there.
	out, err = exec.CommandContext(ctx, ffprobe, "-v", "error", "-rtsp_transport", "tcp",
		"-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0", url).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "mjpeg,video" || got[1] != "pcm_mulaw,audio" {
		t.Fatalf("ffprobe streams %q, want mjpeg video and pcm_mulaw audio", got)
	}
}
