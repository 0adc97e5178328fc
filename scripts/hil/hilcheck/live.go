package main

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmjpeg"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/pion/rtp"
)

// The live view on the real V4L2 camera (vivid, YUYV: every frame a
// viewer gets is JPEG-encoded once by the hub): MJPEG over HTTP, RTSP, and
// privacy mode ending both.

// liveFrames is how many frames each check reads.
const liveFrames = 10

// mjpegStream opens /api/live.mjpeg and returns its part reader.
func mjpegStream(url string) (*http.Response, *multipart.Reader, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		resp.Body.Close()
		return resp, nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		resp.Body.Close()
		return resp, nil, fmt.Errorf("content type %q: %v", resp.Header.Get("Content-Type"), err)
	}
	return resp, multipart.NewReader(resp.Body, params["boundary"]), nil
}

// liveMJPEG reads frames of the MJPEG stream: each must decode at the
// camera's size, with capture times (X-Timestamp) increasing. The delay
// from capture to received is logged, not judged.
func (c *checker) liveMJPEG(url string) {
	resp, mr, err := mjpegStream(url)
	if err != nil {
		result("live-mjpeg", false, "GET %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	var stamps []float64
	var delays []time.Duration
	for len(stamps) < liveFrames {
		p, err := mr.NextPart()
		if err != nil {
			result("live-mjpeg", false, "part %d: %v", len(stamps), err)
			return
		}
		b, err := io.ReadAll(p)
		rx := time.Now()
		if err != nil {
			result("live-mjpeg", false, "part %d: %v", len(stamps), err)
			return
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() != c.width || img.Bounds().Dy() != c.height {
			result("live-mjpeg", false, "part %d: %d bytes, decode %v, size %v (want %dx%d)", len(stamps), len(b), err, img, c.width, c.height)
			return
		}
		ts, err := strconv.ParseFloat(p.Header.Get("X-Timestamp"), 64)
		if err != nil {
			result("live-mjpeg", false, "part %d: X-Timestamp %q", len(stamps), p.Header.Get("X-Timestamp"))
			return
		}
		stamps = append(stamps, ts)
		delays = append(delays, rx.Sub(time.Unix(0, int64(ts*1e9))))
	}
	increasing := true
	for i := 1; i < len(stamps); i++ {
		increasing = increasing && stamps[i] > stamps[i-1]
	}
	slices.Sort(delays)
	result("live-mjpeg", increasing, "%d JPEG parts %dx%d, capture times increasing %v over %.0fms; capture to received median %v, max %v",
		len(stamps), c.width, c.height, increasing, (stamps[len(stamps)-1]-stamps[0])*1000,
		delays[len(delays)/2].Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond))
}

// liveRTSP plays the RTSP stream with gortsplib's client and decodes
// liveFrames JPEGs from its RFC 2435 packets.
func (c *checker) liveRTSP(url string) {
	u, err := base.ParseURL(url)
	if err != nil {
		result("live-rtsp", false, "URL %s: %v", url, err)
		return
	}
	cl := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, ReadTimeout: 20 * time.Second}
	if err := cl.Start(); err != nil {
		result("live-rtsp", false, "connect %s: %v", url, err)
		return
	}
	defer cl.Close()
	desc, _, err := cl.Describe(u)
	if err != nil {
		result("live-rtsp", false, "DESCRIBE %s: %v", url, err)
		return
	}
	var forma *format.MJPEG
	medi := desc.FindFormat(&forma)
	if medi == nil {
		result("live-rtsp", false, "DESCRIBE %s: no MJPEG media in %d medias", url, len(desc.Medias))
		return
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		result("live-rtsp", false, "MJPEG decoder: %v", err)
		return
	}
	if _, err := cl.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		result("live-rtsp", false, "SETUP: %v", err)
		return
	}
	frames := make(chan []byte, liveFrames)
	bad := make(chan error, 1)
	cl.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		b, err := dec.Decode(pkt)
		switch {
		case errors.Is(err, rtpmjpeg.ErrMorePacketsNeeded), errors.Is(err, rtpmjpeg.ErrNonStartingPacketAndNoPrevious):
		case err != nil:
			select {
			case bad <- err:
			default:
			}
		default:
			select {
			case frames <- b:
			default: // enough
			}
		}
	})
	if _, err := cl.Play(nil); err != nil {
		result("live-rtsp", false, "PLAY: %v", err)
		return
	}
	t0 := time.Now()
	for n := 0; n < liveFrames; n++ {
		select {
		case b := <-frames:
			img, err := jpeg.Decode(bytes.NewReader(b))
			if err != nil || img.Bounds().Dx() != c.width || img.Bounds().Dy() != c.height {
				result("live-rtsp", false, "frame %d: %d bytes, decode %v (want %dx%d)", n, len(b), err, c.width, c.height)
				return
			}
		case err := <-bad:
			result("live-rtsp", false, "frame %d: RTP: %v", n, err)
			return
		case <-time.After(20 * time.Second):
			result("live-rtsp", false, "frame %d: none within 20s", n)
			return
		}
	}
	result("live-rtsp", true, "%d JPEGs %dx%d decoded from RFC 2435 RTP in %v", liveFrames, c.width, c.height,
		time.Since(t0).Round(time.Millisecond))
}

// livePrivacy switches privacy mode on over MQTT while an MJPEG stream
// runs: the stream must end and a new one be refused with 403; off again,
// a new one is served.
func (c *checker) livePrivacy(cl mqtt.Client, cmdTopic, url string) {
	resp, mr, err := mjpegStream(url)
	if err != nil {
		result("live-privacy", false, "GET %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	if _, err := mr.NextPart(); err != nil {
		result("live-privacy", false, "first part: %v", err)
		return
	}
	ended := make(chan error, 1)
	go func() {
		for {
			p, err := mr.NextPart()
			if err != nil {
				ended <- err
				return
			}
			_, _ = io.Copy(io.Discard, p)
		}
	}()
	t0 := time.Now()
	cl.Publish(cmdTopic, 1, false, "ON").WaitTimeout(10 * time.Second)
	var endErr error
	select {
	case endErr = <-ended:
	case <-time.After(20 * time.Second):
		result("live-privacy", false, "privacy ON: the MJPEG stream still runs after 20s")
		return
	}
	took := time.Since(t0)
	refused := waitFor(10*time.Second, func() bool {
		r, err := http.Get(url)
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusForbidden
	})
	cl.Publish(cmdTopic, 1, false, "OFF").WaitTimeout(10 * time.Second)
	back := waitFor(20*time.Second, func() bool {
		r, _, err := mjpegStream(url)
		if r != nil {
			r.Body.Close()
		}
		return err == nil
	})
	result("live-privacy", refused && back, "privacy ON ended the stream after %v (%v); new viewer refused with 403 %v; OFF: served again %v",
		took.Round(time.Millisecond), endErr, refused, back)
}
