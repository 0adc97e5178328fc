package live_test

import (
	"bytes"
	"errors"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture/capturetest"
	"github.com/doorbelld/doorbelld/capture/live"
)

// serveMJPEG serves the rig's hub as a real HTTP server, with the
// server-wide write timeout of the web server set so short that a stream
// only works if the handler extends it.
func serveMJPEG(t *testing.T, r *rig) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(live.MJPEG(r.hub, live.MJPEGOptions{}))
	srv.Config.WriteTimeout = time.Nanosecond
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// openStream GETs the stream and returns its multipart reader.
func openStream(t *testing.T, srv *httptest.Server) (*http.Response, *multipart.Reader) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET: %s: %s", resp.Status, b)
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] != "frame" {
		t.Fatalf("Content-Type %q (%v)", resp.Header.Get("Content-Type"), err)
	}
	return resp, multipart.NewReader(resp.Body, params["boundary"])
}

// readPart reads one part and checks its headers and JPEG.
func readPart(t *testing.T, mr *multipart.Reader, wantW, wantH int) ([]byte, time.Time) {
	t.Helper()
	p, err := mr.NextPart()
	if err != nil {
		t.Fatalf("next part: %v", err)
	}
	body, err := io.ReadAll(p)
	if err != nil {
		t.Fatalf("read part: %v", err)
	}
	if ct := p.Header.Get("Content-Type"); ct != "image/jpeg" {
		t.Errorf("part Content-Type %q", ct)
	}
	if n, err := strconv.Atoi(p.Header.Get("Content-Length")); err != nil || n != len(body) {
		t.Errorf("part Content-Length %q, body %d bytes", p.Header.Get("Content-Length"), len(body))
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("decode part: %v", err)
	}
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("image %v, want %dx%d", b, wantW, wantH)
	}
	ts := p.Header.Get("X-Timestamp")
	sec, frac, ok := strings.Cut(ts, ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	us, err2 := strconv.ParseInt(frac, 10, 64)
	if !ok || len(frac) != 6 || err1 != nil || err2 != nil {
		t.Fatalf("X-Timestamp %q, want seconds.micros", ts)
	}
	return body, time.Unix(s, us*1000)
}

func TestMJPEGStream(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{})
	r.clk.Advance(123456 * time.Microsecond) // a fraction to format
	at1 := r.push(jpegN(1))
	srv := serveMJPEG(t, r)
	resp, mr := openStream(t, srv)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	body, at := readPart(t, mr, 64, 48) // fast start
	if !bytes.Equal(body, jpegN(1)) || !at.Equal(at1) {
		t.Errorf("first part: %d bytes at %v; want frame 1 at %v", len(body), at, at1)
	}
	for i := 2; i <= 4; i++ {
		r.clk.Advance(100 * time.Millisecond)
		ati := r.push(jpegN(i))
		body, at := readPart(t, mr, 64, 48)
		if !bytes.Equal(body, jpegN(i)) || !at.Equal(ati) {
			t.Errorf("part %d: %d bytes at %v; want %v", i, len(body), at, ati)
		}
	}
	if n := r.hub.Stats().Viewers[live.KindMJPEG]; n != 1 {
		t.Errorf("mjpeg viewers %d, want 1", n)
	}

	// Privacy ends the stream, and refuses the next one.
	r.hub.SetPrivate(true)
	if _, err := mr.NextPart(); err == nil {
		t.Error("stream goes on in privacy mode")
	}
	resp2, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "privacy mode is on") {
		t.Errorf("in privacy mode: %s %q, want 403 privacy mode is on", resp2.Status, b)
	}
}

// The client going away ends the viewer.
func TestMJPEGClientGoes(t *testing.T) {
	r := newRig(t, mjpg, rigOpts{})
	r.push(jpegN(1))
	srv := serveMJPEG(t, r)
	resp, mr := openStream(t, srv)
	readPart(t, mr, 64, 48)
	resp.Body.Close()
	eventually(t, "viewer gone", func() bool {
		r.push(jpegN(2)) // a write to the closed connection fails
		return r.hub.Stats().Viewers[live.KindMJPEG] == 0
	})
}

func TestMJPEGYUYV(t *testing.T) {
	r := newRig(t, yuyv, rigOpts{})
	srv := serveMJPEG(t, r)
	_, mr := openStream(t, srv)
	r.push(capturetest.YUYV(64, 48, colourN(3)))
	readPart(t, mr, 64, 48)
}

func TestMJPEGRefusals(t *testing.T) {
	get := func(t *testing.T, h http.Handler, method string) (int, string) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, "/live.mjpeg", nil))
		return w.Code, w.Body.String()
	}
	t.Run("h264", func(t *testing.T) {
		r := newRig(t, h264, rigOpts{})
		code, body := get(t, live.MJPEG(r.hub, live.MJPEGOptions{}), "GET")
		if code != http.StatusNotImplemented || !strings.Contains(body, "RTSP") {
			t.Errorf("%d %q, want 501 naming RTSP", code, body)
		}
		eventually(t, "viewer closed", func() bool { return r.hub.Stats().Viewers[live.KindMJPEG] == 0 })
	})
	t.Run("no camera", func(t *testing.T) {
		r := newRig(t, mjpg, rigOpts{noStart: true, openErr: errors.New("no device")})
		code, _ := get(t, live.MJPEG(r.hub, live.MJPEGOptions{}), "GET")
		if code != http.StatusServiceUnavailable {
			t.Errorf("%d, want 503", code)
		}
	})
	t.Run("post", func(t *testing.T) {
		r := newRig(t, mjpg, rigOpts{})
		if code, _ := get(t, live.MJPEG(r.hub, live.MJPEGOptions{}), "POST"); code != http.StatusMethodNotAllowed {
			t.Errorf("%d, want 405", code)
		}
	})
	t.Run("head", func(t *testing.T) {
		r := newRig(t, mjpg, rigOpts{})
		w := httptest.NewRecorder()
		live.MJPEG(r.hub, live.MJPEGOptions{Kind: live.KindWeb}).ServeHTTP(w, httptest.NewRequest("HEAD", "/", nil))
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/x-mixed-replace") {
			t.Errorf("HEAD: %d %q", w.Code, w.Header().Get("Content-Type"))
		}
	})
}
