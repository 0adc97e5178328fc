package rtsp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
	"github.com/doorbelld/doorbelld/firmware/rtsp"
	"github.com/doorbelld/doorbelld/firmware/rtsp/rtsptest"
	"github.com/doorbelld/doorbelld/hal/audio"
	"github.com/doorbelld/doorbelld/hal/audio/audiotest"
)

// TestGo2RTC runs the real go2rtc (the path in DOORBELL_GO2RTC;
// scripts/test.sh builds it) against the server, as Home Assistant's
// go2rtc would: its RTSP source is our stream, and
//   - what it re-serves carries our video and our microphone (ffprobe
//     reads mjpeg and pcm_mulaw from go2rtc);
//   - its two-way audio ("play an audio file on the camera": the API's
//     dst=doorbell&src=ffmpeg:file#audio=pcmu) reaches the speaker over
//     our back-channel, logged in as the stream's user.
func TestGo2RTC(t *testing.T) {
	bin := os.Getenv("DOORBELL_GO2RTC")
	if bin == "" {
		t.Skip("DOORBELL_GO2RTC not set (scripts/test.sh builds go2rtc and sets it)")
	}
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (go2rtc transcodes the file with it)")
	}
	src, mic, sp := jpegSource(t), rtsptest.NewMic(), rtsptest.NewSpeaker()
	_, ourURL, _ := start(t, src, accounts, func(o *rtsp.Options) { o.Audio, o.Talk = mic, sp })
	ctx, cancel := context.WithTimeout(context.Background(), 3*deadline)
	defer cancel()
	go src.Run(ctx, 15)       //nolint:errcheck // ends with ctx
	go mic.Run(ctx, 16000, 1) //nolint:errcheck // ends with ctx

	dir := t.TempDir()
	api, rtspAddr := mosquittotest.FreeAddr(t), mosquittotest.FreeAddr(t)
	u, _ := url.Parse(ourURL)
	u.User = url.UserPassword("alice", accounts["alice"])
	cfg := fmt.Sprintf("api:\n  listen: %q\nrtsp:\n  listen: %q\nwebrtc:\n  listen: \"\"\nsrtp:\n  listen: \"\"\nrtmp:\n  listen: \"\"\nstreams:\n  doorbell: %q\nlog:\n  level: debug\n",
		api, rtspAddr, u.String())
	cfgPath := filepath.Join(dir, "go2rtc.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	g := exec.CommandContext(ctx, bin, "-config", cfgPath)
	g.Stdout, g.Stderr = &logs, &logs
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		g.Process.Kill()
		g.Wait()
		if t.Failed() {
			t.Logf("go2rtc log:\n%s", logs.String())
		}
	}()
	waitFor(t, "go2rtc's API", func() bool {
		res, err := http.Get("http://" + api + "/api/streams")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})

	// 1. Watching through go2rtc: video and sound.
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-rtsp_transport", "tcp",
		"-show_entries", "stream=codec_type,codec_name,sample_rate", "-of", "json",
		"rtsp://"+rtspAddr+"/doorbell").Output()
	if err != nil {
		t.Fatalf("ffprobe through go2rtc: %v", err)
	}
	var probe struct {
		Streams []struct {
			Type  string `json:"codec_type"`
			Codec string `json:"codec_name"`
			Rate  string `json:"sample_rate"`
		}
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range probe.Streams {
		kinds = append(kinds, s.Type+":"+s.Codec)
	}
	// In either order: go2rtc lists the tracks in the order its producer
	// set them up, which a loaded machine showed varies.
	slices.Sort(kinds)
	if strings.Join(kinds, ",") != "audio:pcm_mulaw,video:mjpeg" {
		t.Errorf("go2rtc re-serves %v, want audio:pcm_mulaw and video:mjpeg", kinds)
	}

	// 2. Two-way audio: a chirp played "on the camera" through go2rtc.
	chirp := make([]int16, 8000)
	for i := range chirp {
		x := float64(i) / 8000
		chirp[i] = int16(12000 * math.Sin(2*math.Pi*(300*x+1100*x*x)))
	}
	wav := filepath.Join(dir, "chirp.wav")
	audiotest.WriteWAV(t, wav, &audio.Sound{Rate: 8000, Channels: 1, Samples: chirp})
	q := url.Values{"dst": {"doorbell"}, "src": {"ffmpeg:" + wav + "#audio=pcmu#input=file"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+api+"/api/streams?"+q.Encode(), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("go2rtc POST /api/streams (play on the camera): %s", res.Status)
	}
	// go2rtc sends the file at its pace (ffmpeg -re); the talk ends
	// rtsp.TalkIdle after its last packet: then every sample is in.
	if err := sp.Wait(ctx, "go2rtc's talk to end", func(ts []*rtsptest.Talk) bool {
		return len(ts) > 0 && ts[len(ts)-1].IsClosed()
	}); err != nil {
		t.Fatal(err)
	}
	talk := sp.Sessions()[len(sp.Sessions())-1]
	if talk.User != "alice" {
		t.Errorf("talk by %q, want the stream's user alice", talk.User)
	}
	got := talk.Samples()
	// The best alignment of the chirp with what arrived, over at least 3/4
	// of the chirp (ffmpeg and go2rtc may trim or pad the ends).
	corr := 0.0
	for lag := -len(chirp) / 4; lag <= len(got)-len(chirp)*3/4; lag++ {
		var gw, gg, ww float64
		for i, v := range chirp {
			j := lag + i
			if j < 0 || j >= len(got) {
				continue
			}
			g := float64(got[j])
			gw, gg, ww = gw+g*float64(v), gg+g*g, ww+float64(v)*float64(v)
		}
		if gg > 0 {
			corr = max(corr, gw/math.Sqrt(gg*ww))
		}
	}
	t.Logf("go2rtc's two-way audio: %d samples reached the speaker, normalised correlation with the chirp %.4f", len(got), corr)
	if corr < 0.9 {
		t.Errorf("the speaker got %d samples correlating %.3f with the chirp, want ≥ 0.9", len(got), corr)
	}
}
