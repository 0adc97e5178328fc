package rtsp_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
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
