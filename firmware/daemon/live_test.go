package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/rtsp/rtsptest"
)

// The live view end to end: real clients (ffprobe, gortsplib, net/http
// as Home Assistant's MJPEG camera) against the whole sim daemon with an
// account, alice.

const (
	liveUser = "alice"
	livePass = "door-s3cret-42" // no character a URL would need escaped
	// liveWait bounds every wait on a condition: generous, so that a
	// loaded machine makes the tests slower, not failed.
	liveWait = 30 * time.Second
)

// liveConfig is a sim config with one account, alice (an argon2id hash,
// as doorbellctl passwd makes).
func liveConfig(t testing.TB) config.Config {
	t.Helper()
	hash, err := account.HashPassword(livePass)
	if err != nil {
		t.Fatal(err)
	}
	c := simConfig(t, testBroker())
	c.Users = []config.User{{Username: liveUser, PasswordHash: hash}}
	return c
}

func webURL(r *running, path string) string { return "http://" + r.d.web.Addr() + path }

// basicURL is webURL with alice's credentials in it.
func basicURL(r *running, path string) string {
	return "http://" + liveUser + ":" + livePass + "@" + r.d.web.Addr() + path
}

// rtspURL is the stream's URL, with alice's credentials when creds.
func rtspURL(r *running, creds bool) string {
	u := "rtsp://"
	if creds {
		u += liveUser + ":" + livePass + "@"
	}
	return u + r.d.rtsp.Addr().String() + "/" + r.d.cfg.Device.ID
}

// noRedirect is a client that shows redirects instead of following them.
func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: liveWait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// loginClient logs alice in with POST /api/login and returns a client
// holding the session cookie (it does not follow redirects).
func loginClient(t testing.TB, r *running) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)
	res, err := c.Post(webURL(r, "/api/login"), "application/json",
		strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, liveUser, livePass)))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("login: %d %s", res.StatusCode, b)
	}
	return c
}

// httpGet GETs url with c and returns the status and body.
func httpGet(t testing.TB, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// metric reads one sample (name with its labels, as the text format
// writes it) from /metrics with alice's Basic credentials.
func metric(t testing.TB, r *running, sample string) (float64, bool) {
	t.Helper()
	res, body := httpGet(t, http.DefaultClient, basicURL(r, "/metrics"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics with Basic credentials: %d %s", res.StatusCode, body)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("/metrics line %q: %v", line, err)
			}
			return f, true
		}
	}
	return 0, false
}

func ffprobe(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed (apt-get install ffmpeg): the real-client test needs it")
	}
	return p
}

// probe runs ffprobe with args and returns its stdout, or its error with
// stderr.
func probe(t testing.TB, bin string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*liveWait)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("ffprobe %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// probed is what ffprobe -of json says of a stream's first seconds.
type probed struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
	Packets []struct {
		PTS string `json:"pts_time"`
	} `json:"packets"`
}

// rtspPlay plays url over TCP with rtsptest's client.
func rtspPlay(t testing.TB, url string) (*rtsptest.Reader, error) {
	t.Helper()
	return rtsptest.Play(t, url, gortsplib.ProtocolTCP, nil)
}

// mjpegParts reads a multipart/x-mixed-replace answer's parts.
func mjpegParts(t testing.TB, res *http.Response) *multipart.Reader {
	t.Helper()
	mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] == "" {
		t.Fatalf("live stream Content-Type %q: want multipart/x-mixed-replace with a boundary", res.Header.Get("Content-Type"))
	}
	return multipart.NewReader(res.Body, params["boundary"])
}

// nextJPEG reads the next part of mr and decodes it.
func nextJPEG(mr *multipart.Reader) (width, height int, err error) {
	p, err := mr.NextPart()
	if err != nil {
		return 0, 0, err
	}
	b, err := io.ReadAll(p)
	if err != nil {
		return 0, 0, err
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return 0, 0, fmt.Errorf("part of %d bytes: %w", len(b), err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy(), nil
}

// A real RTSP client (ffprobe, TCP) reads alice's stream: MJPEG at the
// camera's size, seconds of frames with increasing timestamps; without
// credentials it is refused with 401.
func TestLiveRTSPFFprobe(t *testing.T) {
	bin := ffprobe(t)
	c := liveConfig(t)
	r := start(t, c)
	waitCamera(t, r)

	out, err := probe(t, bin, "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
		"-read_intervals", "%+3", "-show_entries", "stream=codec_name,width,height:packet=pts_time",
		"-of", "json", rtspURL(r, true))
	if err != nil {
		t.Fatal(err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	if len(p.Streams) != 1 || p.Streams[0].CodecName != "mjpeg" || p.Streams[0].Width != c.Camera.Width || p.Streams[0].Height != c.Camera.Height {
		t.Fatalf("streams %+v, want one mjpeg %dx%d", p.Streams, c.Camera.Width, c.Camera.Height)
	}
	var first, last float64
	for i, pk := range p.Packets {
		pts, err := strconv.ParseFloat(pk.PTS, 64)
		if err != nil {
			t.Fatalf("packet %d pts %q: %v", i, pk.PTS, err)
		}
		if i == 0 {
			first = pts
		} else if pts <= last {
			t.Fatalf("packet %d pts %v after %v: not increasing", i, pts, last)
		}
		last = pts
	}
	if len(p.Packets) < 10 || last-first < 2 {
		t.Fatalf("%d frames over %.2f s, want ≥ 2 s of frames", len(p.Packets), last-first)
	}
	t.Logf("ffprobe: %d frames over %.2f s", len(p.Packets), last-first)

	if _, err := probe(t, bin, "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_name",
		"-of", "json", rtspURL(r, false)); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("ffprobe without credentials: %v, want a failure with 401", err)
	}
}

// The MJPEG stream with Basic credentials in the URL, as Home Assistant's
// MJPEG camera and ffmpeg send them: ffprobe reads MJPEG frames; without
// credentials the answer is 401 with a Basic challenge.
func TestLiveMJPEGBasic(t *testing.T) {
	bin := ffprobe(t)
	c := liveConfig(t)
	r := start(t, c)
	waitCamera(t, r)

	out, err := probe(t, bin, "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#10",
		"-show_entries", "stream=codec_name,width,height:packet=pts_time", "-of", "json", basicURL(r, "/api/live.mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	if len(p.Streams) != 1 || p.Streams[0].CodecName != "mjpeg" || p.Streams[0].Width != c.Camera.Width || p.Streams[0].Height != c.Camera.Height {
		t.Fatalf("streams %+v, want one mjpeg %dx%d", p.Streams, c.Camera.Width, c.Camera.Height)
	}
	if len(p.Packets) < 5 {
		t.Fatalf("ffprobe read %d frames, want ≥ 5", len(p.Packets))
	}

	// Go's client, as Home Assistant's: frames with credentials, 401
	// without.
	res, err := http.Get(basicURL(r, "/api/live.mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/live.mjpeg with Basic credentials: %d", res.StatusCode)
	}
	mr := mjpegParts(t, res)
	for i := 0; i < 3; i++ {
		w, h, err := nextJPEG(mr)
		if err != nil || w != c.Camera.Width || h != c.Camera.Height {
			t.Fatalf("part %d: %dx%d, %v; want a %dx%d JPEG", i, w, h, err, c.Camera.Width, c.Camera.Height)
		}
	}
	noCreds, body := httpGet(t, http.DefaultClient, webURL(r, "/api/live.mjpeg"))
	if noCreds.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(noCreds.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("without credentials: %d %q %s, want 401 with a Basic challenge", noCreds.StatusCode, noCreds.Header.Get("WWW-Authenticate"), body)
	}
	if _, err := probe(t, bin, "-v", "error", "-show_entries", "stream=codec_name", "-of", "json", webURL(r, "/api/live.mjpeg")); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("ffprobe without credentials: %v, want a failure with 401", err)
	}
}

// Privacy on over MQTT ends a playing RTSP session and a running MJPEG
// stream; new ones are refused with 403.
func TestLivePrivacyEndsStreams(t *testing.T) {
	c := liveConfig(t)
	r := start(t, c)
	waitCamera(t, r)

	rd, err := rtspPlay(t, rtspURL(r, true))
	if err != nil {
		t.Fatalf("rtsp play: %v", err)
	}
	rd.Next(t, liveWait)

	res, err := http.Get(basicURL(r, "/api/live.mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/live.mjpeg: %d", res.StatusCode)
	}
	mr := mjpegParts(t, res)
	if _, _, err := nextJPEG(mr); err != nil {
		t.Fatalf("first MJPEG part: %v", err)
	}
	mjpegEnded := make(chan error, 1)
	go func() {
		for {
			if _, _, err := nextJPEG(mr); err != nil {
				mjpegEnded <- err
				return
			}
		}
	}()

	commandsReady(t, r)
	publish(t, r.d.brokerURL(), r.d.Topics().Command("privacy"), false, "ON")

	select {
	case err := <-rd.Done():
		t.Logf("rtsp session ended: %v", err)
	case <-time.After(liveWait):
		t.Fatalf("the RTSP session still plays %v after privacy ON", liveWait)
	}
	select {
	case err := <-mjpegEnded:
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Logf("mjpeg stream ended: %v", err)
		}
	case <-time.After(liveWait):
		t.Fatalf("the MJPEG stream still runs %v after privacy ON", liveWait)
	}
	if privacy, _ := r.d.sw.get(); !privacy {
		t.Fatal("streams ended but the privacy switch is off")
	}

	if _, err := rtspPlay(t, rtspURL(r, true)); rtsptest.Status(err) != base.StatusForbidden {
		t.Fatalf("new RTSP reader in privacy mode: %v, want 403", err)
	}
	again, body := httpGet(t, http.DefaultClient, basicURL(r, "/api/live.mjpeg"))
	if again.StatusCode != http.StatusForbidden || !strings.Contains(strings.ToLower(string(body)), "privacy") {
		t.Fatalf("new MJPEG stream in privacy mode: %d %s, want 403 saying privacy", again.StatusCode, body)
	}
}

// /metrics, behind Basic auth, counts the RTSP reader and the time from
// a press to its event's publish.
func TestLiveMetrics(t *testing.T) {
	c := liveConfig(t)
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), tp.Event)
	waitCamera(t, r)

	if v, ok := metric(t, r, `doorbelld_live_viewers{kind="rtsp"}`); !ok || v != 0 {
		t.Fatalf(`doorbelld_live_viewers{kind="rtsp"} = %v (present %v) before any reader, want 0`, v, ok)
	}
	rd, err := rtspPlay(t, rtspURL(r, true))
	if err != nil {
		t.Fatalf("rtsp play: %v", err)
	}
	rd.Next(t, liveWait)
	waitFor(t, "the RTSP reader in /metrics", func() bool {
		v, _ := metric(t, r, `doorbelld_live_viewers{kind="rtsp"}`)
		if v > 1 {
			t.Fatalf(`doorbelld_live_viewers{kind="rtsp"} = %v with one reader`, v)
		}
		return v == 1
	})

	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, ch, tp, liveWait)
	waitFor(t, "the event's edge-to-publish time in /metrics", func() bool {
		// live, or replay when the press came while the sender was
		// still replaying the journal at startup (then it queues behind)
		live, _ := metric(t, r, `doorbelld_edge_to_publish_seconds_count{delivery="live"}`)
		replay, _ := metric(t, r, `doorbelld_edge_to_publish_seconds_count{delivery="replay"}`)
		return live+replay >= 1
	})

	res, body := httpGet(t, http.DefaultClient, webURL(r, "/metrics"))
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without credentials: %d %s, want 401", res.StatusCode, body)
	}
	rd.Close()
	waitFor(t, "the reader gone from /metrics", func() bool {
		v, _ := metric(t, r, `doorbelld_live_viewers{kind="rtsp"}`)
		return v == 0
	})
}

// 200 snapshot requests at once: each is answered 200 with a JPEG or 503
// saying why, or its connection is closed at once over the server's
// connection cap (counted); none hangs, and a ring meanwhile still
// arrives as an event.
func TestLiveSnapshotFlood(t *testing.T) {
	const n = 200
	c := liveConfig(t)
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), tp.Event)
	waitCamera(t, r)
	cl := loginClient(t, r)
	// A transport of its own: every request on a connection of its own.
	flood := &http.Client{Jar: cl.Jar, Timeout: 2 * liveWait,
		Transport: &http.Transport{MaxIdleConnsPerHost: n, DisableKeepAlives: true}}
	refusedBefore := r.d.web.Stats().ConnRefused

	type answer struct {
		code int
		body []byte
		err  error
	}
	answers := make(chan answer, n)
	var answered atomic.Int64
	for i := 0; i < n; i++ {
		go func() {
			defer answered.Add(1)
			res, err := flood.Get(webURL(r, "/api/snapshot.jpg"))
			if err != nil {
				answers <- answer{err: err}
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			answers <- answer{code: res.StatusCode, body: b, err: err}
		}()
	}
	waitFor(t, "the flood to reach the server", func() bool {
		st := r.d.web.Stats()
		return st.Conns > 1 || st.ConnRefused > refusedBefore || answered.Load() > 0
	})
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e, _ := nextEvent(t, ch, tp, liveWait)
	t.Logf("ring during the flood: event %s", e.ID)

	var ok, busy, closed int
	deadline := time.After(3 * liveWait)
	for i := 0; i < n; i++ {
		select {
		case a := <-answers:
			var ne net.Error
			switch {
			case errors.As(a.err, &ne) && ne.Timeout():
				t.Errorf("a snapshot request hung: %v", a.err)
			case a.err != nil:
				closed++
			case a.code == http.StatusOK:
				if _, err := jpeg.Decode(bytes.NewReader(a.body)); err != nil {
					t.Errorf("200 with %d bytes that are no JPEG: %v", len(a.body), err)
				}
				ok++
			case a.code == http.StatusServiceUnavailable:
				if len(bytes.TrimSpace(a.body)) == 0 {
					t.Error("503 without a reason")
				}
				busy++
			default:
				t.Errorf("answer %d: %s", a.code, a.body)
			}
		case <-deadline:
			t.Fatalf("%d of %d snapshot requests still unanswered after %v", n-i, n, 3*liveWait)
		}
	}
	refused := r.d.web.Stats().ConnRefused - refusedBefore
	t.Logf("%d × 200, %d × 503, %d connections closed (server refused %d over its cap)", ok, busy, closed, refused)
	if uint64(closed) > refused {
		t.Errorf("%d requests failed without an answer, but the server closed only %d connections over its cap", closed, refused)
	}
	if ok == 0 {
		t.Error("no snapshot served at all")
	}
	// The server still serves.
	if res, body := httpGet(t, cl, webURL(r, "/api/snapshot.jpg")); res.StatusCode != http.StatusOK {
		t.Fatalf("snapshot after the flood: %d %s", res.StatusCode, body)
	}
}

// rawGet sends "GET target HTTP/1.1" exactly as given (no client
// cleaning or escaping) with the session cookies of cl, and returns the
// answer with its body.
func rawGet(t testing.TB, r *running, cl *http.Client, target string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", r.d.web.Addr(), liveWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(liveWait))
	req, _ := http.NewRequest(http.MethodGet, webURL(r, "/"), nil)
	var cookies []string
	for _, ck := range cl.Jar.Cookies(req.URL) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nConnection: close\r\n\r\n", target, r.d.web.Addr(), strings.Join(cookies, "; "))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// Every path that names a clip or an event refuses ids that climb out of
// their store, plain, encoded or double-encoded: 400 or 404, never a
// file's content.
func TestLivePathTraversal(t *testing.T) {
	c := liveConfig(t)
	r := start(t, c)
	waitCamera(t, r)
	cl := loginClient(t, r)
	// Files a climb out of the clip directory could reach.
	secret := "TRAVERSAL-SENTINEL-7d1e"
	for _, p := range []string{filepath.Join(c.Storage.Dir, "sentinel.mp4"), filepath.Join(filepath.Dir(c.Storage.Dir), "sentinel.mp4"),
		filepath.Join(c.Storage.Dir, "sentinel", "snapshot.jpg")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if res, _ := httpGet(t, cl, webURL(r, "/api/clips")); res.StatusCode != http.StatusOK {
		t.Fatalf("session does not work: /api/clips %d", res.StatusCode)
	}
	for _, target := range []string{
		"/api/clips/..%2f..%2fetc%2fpasswd.mp4",
		"/api/clips/..%2fsentinel.mp4",
		"/api/clips/..%2f..%2fsentinel.mp4",
		"/api/clips/%2e%2e%2fsentinel.mp4",
		"/api/clips/%252e%252e%252fsentinel.mp4",
		"/api/clips/..%252f..%252fetc%252fpasswd.mp4",
		"/api/clips/%2e%2e/play.mjpeg",
		"/api/clips/%252e%252e/play.mjpeg",
		"/api/clips/..%2fsentinel/play.mjpeg",
		"/api/clips/..%5csentinel.mp4",
		"/api/clips/%2fetc%2fpasswd.mp4",
		"/api/clips/sentinel%00.mp4",
		"/api/events/%2e%2e/snapshot.jpg",
		"/api/events/..%2fsentinel/snapshot.jpg",
		"/api/events/%252e%252e%252fsentinel/snapshot.jpg",
		"/api/events/..%2f..%2f..%2fetc%2fpasswd/snapshot.jpg",
		"/api/events/%2fetc%2fpasswd/snapshot.jpg",
	} {
		res, body := rawGet(t, r, cl, target)
		t.Logf("GET %s = %d", target, res.StatusCode)
		if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d (%s), want 400 or 404", target, res.StatusCode, res.Header.Get("Location"))
		}
		if bytes.Contains(body, []byte(secret)) || bytes.Contains(body, []byte("root:")) {
			t.Errorf("GET %s served a file's content: %q", target, body)
		}
	}
	// Unencoded dot segments: the server answers for the path they name
	// (RFC 3986 removes them, as every browser does before sending), so a
	// redirect to a path under /api/ is right, a file never.
	for _, target := range []string{
		"/api/events/../snapshot.jpg",
		"/api/clips/../../etc/passwd.mp4",
		"/api/clips/../clips/x/play.mjpeg",
		"/api/events/../../../etc/passwd",
	} {
		res, body := rawGet(t, r, cl, target)
		t.Logf("GET %s = %d %s", target, res.StatusCode, res.Header.Get("Location"))
		switch res.StatusCode {
		case http.StatusBadRequest, http.StatusNotFound:
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			if loc := res.Header.Get("Location"); strings.Contains(loc, "..") || !strings.HasPrefix(loc, "/") {
				t.Errorf("GET %s redirects to %q", target, loc)
			}
		default:
			t.Errorf("GET %s = %d, want 400, 404 or a redirect to the cleaned path", target, res.StatusCode)
		}
		if bytes.Contains(body, []byte(secret)) || bytes.Contains(body, []byte("root:")) {
			t.Errorf("GET %s served a file's content: %q", target, body)
		}
		if loc := res.Header.Get("Location"); loc != "" && !strings.Contains(loc, "..") && strings.HasPrefix(loc, "/") {
			// Where the redirect leads serves no file either.
			res, body := rawGet(t, r, cl, loc)
			if bytes.Contains(body, []byte(secret)) || bytes.Contains(body, []byte("root:")) {
				t.Errorf("GET %s (redirected from %s) = %d, a file's content: %q", loc, target, res.StatusCode, body)
			}
		}
	}
}
