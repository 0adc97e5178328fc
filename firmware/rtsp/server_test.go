package rtsp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/doorbelld/doorbelld/firmware/rtsp"
	"github.com/doorbelld/doorbelld/firmware/rtsp/rtsptest"
)

const deadline = 20 * time.Second

var accounts = rtsptest.Accounts{"alice": "s3cret:with:colons"}

// logBuf collects the server's log for checks (e.g. that no password
// appears).
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func jpegSource(t testing.TB) *rtsptest.Source {
	t.Helper()
	info, frames, err := rtsptest.JPEGFrames(640, 480, 15)
	if err != nil {
		t.Fatal(err)
	}
	return rtsptest.New(info, frames, nil)
}

func h264Source(t testing.TB) *rtsptest.Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	info, frames, err := rtsptest.H264Frames(ctx, 320, 240, 15, 15, 3)
	if errors.Is(err, rtsptest.ErrNoFFmpeg) {
		t.Skip("ffmpeg not installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	return rtsptest.New(info, frames, nil)
}

// start runs a server on 127.0.0.1 until the test ends and returns it
// with its stream URL (credentials of alice included) and log.
func start(t testing.TB, src rtsp.Source, auth rtsp.Auth, edit func(*rtsp.Options)) (*rtsp.Server, string, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	opts := rtsp.Options{
		Listen: "127.0.0.1:0",
		Path:   "doorbell-1",
		Source: src,
		Auth:   auth,
		Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&opts)
	}
	s := rtsp.New(opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if strings.Contains(lb.String(), "s3cret") {
			t.Errorf("the password appears in the log")
		}
	})
	scheme := "rtsp"
	if opts.TLSConfig != nil {
		scheme = "rtsps"
	}
	return s, scheme + "://alice:s3cret:with:colons@" + s.Addr().String() + "/doorbell-1", lb
}

// play plays url with rtsptest's client, trusting the test's own
// certificate for rtsps.
func play(t testing.TB, url string, proto gortsplib.Protocol) (*rtsptest.Reader, error) {
	t.Helper()
	var tc *tls.Config
	if strings.HasPrefix(url, "rtsps:") {
		tc = insecureTLS()
	}
	return rtsptest.Play(t, url, proto, tc)
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAuth(t *testing.T) {
	src := jpegSource(t)
	s, url, lb := start(t, src, accounts, nil)
	noCreds := strings.Replace(url, "alice:s3cret:with:colons@", "", 1)
	wrong := strings.Replace(url, "s3cret:with:colons", "guess", 1)
	if _, err := play(t, noCreds, gortsplib.ProtocolTCP); rtsptest.Status(err) != base.StatusUnauthorized {
		t.Fatalf("without credentials: %v, want 401", err)
	}
	if _, err := play(t, wrong, gortsplib.ProtocolTCP); rtsptest.Status(err) != base.StatusUnauthorized {
		t.Fatalf("wrong password: %v, want 401", err)
	}
	r, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	src.Publish()
	img, err := jpeg.Decode(bytes.NewReader(r.Next(t, deadline)[0]))
	if err != nil || img.Bounds().Dx() != 640 || img.Bounds().Dy() != 480 {
		t.Fatalf("received frame: %v, %v; want a 640x480 JPEG", err, img)
	}
	st := s.Stats()
	if st.Challenged == 0 || st.RefusedAuth == 0 || st.Readers != 1 {
		t.Fatalf("stats %+v: want challenges, a refusal and 1 reader", st)
	}
	if !strings.Contains(lb.String(), "rtsp: reader started") || !strings.Contains(lb.String(), "user=alice") {
		t.Fatalf("no audit line for alice in log:\n%s", lb.String())
	}
}

func TestOpenAndNotFound(t *testing.T) {
	src := jpegSource(t)
	_, url, _ := start(t, src, rtsptest.Accounts{}, nil)
	if _, err := play(t, strings.Replace(url, "doorbell-1", "other", 1), gortsplib.ProtocolTCP); rtsptest.Status(err) != base.StatusNotFound {
		t.Fatalf("other path: %v, want 404", err)
	}
	anon := strings.Replace(url, "alice:s3cret:with:colons@", "", 1)
	r, err := play(t, anon, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatalf("no accounts: %v", err)
	}
	src.Publish()
	r.Next(t, deadline)
}

func TestPrivacyAndNoCamera(t *testing.T) {
	src := jpegSource(t)
	s, url, _ := start(t, src, accounts, nil)

	src.SetPrivate(true)
	_, err := play(t, url, gortsplib.ProtocolTCP)
	var bad liberrors.ErrClientBadStatusCode
	if !errors.As(err, &bad) || bad.Code != base.StatusForbidden || !strings.Contains(bad.Message, "privacy") {
		t.Fatalf("privacy on: %v, want 403 naming privacy", err)
	}
	src.SetPrivate(false)
	src.SetNoCamera(true)
	if _, err := play(t, url, gortsplib.ProtocolTCP); rtsptest.Status(err) != base.StatusServiceUnavailable {
		t.Fatalf("no camera: %v, want 503", err)
	}
	src.SetNoCamera(false)

	r1, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	src.Publish()
	r1.Next(t, deadline)
	r2.Next(t, deadline)
	src.SetPrivate(true)
	for _, r := range []*rtsptest.Reader{r1, r2} {
		select {
		case <-r.Done():
		case <-time.After(deadline):
			t.Fatal("session still running after privacy switched on")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := src.WaitViewers(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.RefusedPrivacy != 1 || st.RefusedNoCamera != 1 || st.EndedPrivacy != 2 {
		t.Fatalf("stats %+v: want 1 privacy refusal, 1 no-camera refusal, 2 sessions ended", st)
	}
}

// TestSharing: many readers, one viewer at the source, closed with the
// last reader.
func TestSharing(t *testing.T) {
	src := jpegSource(t)
	s, url, _ := start(t, src, accounts, nil)
	var rs []*rtsptest.Reader
	for i := 0; i < 4; i++ {
		r, err := play(t, url, gortsplib.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	for i := 0; i < 3; i++ {
		src.Publish()
		for _, r := range rs {
			r.Next(t, deadline)
		}
	}
	if n := src.Subscribes(); n != 1 {
		t.Fatalf("%d viewers opened at the source, want 1 shared", n)
	}
	// A frame is counted after its packets are written: wait for the count.
	waitFor(t, "3 frames counted", func() bool { return s.Stats().FramesSent >= 3 })
	if st := s.Stats(); st.FramesSent != 3 || st.Readers != 4 {
		t.Fatalf("stats %+v: want 3 frames packetized once each, 4 readers", st)
	}
	for _, r := range rs {
		r.Client().Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := src.WaitViewers(ctx, 0); err != nil {
		t.Fatalf("viewer not closed after the last reader left: %v", err)
	}
}

// TestFastStart: a reader joining a running stream gets the frames since
// the last key frame at once, without waiting for a new one; for H.264
// the first access unit it gets is a key frame and the rest of the GOP
// follows in order.
func TestFastStart(t *testing.T) {
	t.Run("jpeg", func(t *testing.T) {
		src := jpegSource(t)
		_, url, _ := start(t, src, accounts, nil)
		r1, err := play(t, url, gortsplib.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		src.Publish()
		want := r1.Next(t, deadline)[0]
		r2, err := play(t, url, gortsplib.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		// No frame published since: r2 must get the last one.
		if got := r2.Next(t, deadline)[0]; !bytes.Equal(got, want) {
			t.Fatal("joiner got another frame than the last one")
		}
	})
	t.Run("h264", func(t *testing.T) {
		src := h264Source(t)
		_, url, _ := start(t, src, accounts, nil)
		r1, err := play(t, url, gortsplib.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		// A key frame and 5 more of its GOP.
		for i := 0; i < 6; i++ {
			src.Publish()
		}
		var gop [][][]byte
		for i := 0; i < 6; i++ {
			gop = append(gop, r1.Next(t, deadline))
		}
		if !h264.IsRandomAccess(gop[0]) {
			t.Fatal("first reader's first access unit is not a key frame")
		}
		r2, err := play(t, url, gortsplib.ProtocolTCP)
		if err != nil {
			t.Fatal(err)
		}
		for i := range gop {
			au := r2.Next(t, deadline)
			if i == 0 && !h264.IsRandomAccess(au) {
				t.Fatal("joiner's first access unit is not a key frame")
			}
			if !equalAU(au, gop[i]) {
				t.Fatalf("joiner's access unit %d differs from the first reader's", i)
			}
		}
		// And it goes on live with the others.
		src.Publish()
		if !equalAU(r1.Next(t, deadline), r2.Next(t, deadline)) {
			t.Fatal("live access unit differs between readers")
		}
	})
}

func equalAU(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestFormatChange(t *testing.T) {
	src := jpegSource(t)
	_, url, _ := start(t, src, accounts, nil)
	r, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	src.Publish()
	r.Next(t, deadline)
	info, frames, err := rtsptest.JPEGFrames(320, 240, 2)
	if err != nil {
		t.Fatal(err)
	}
	src.SetFormat(info, frames)
	select {
	case <-r.Done():
	case <-time.After(deadline):
		t.Fatal("session still running after the format changed")
	}
	r2, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	src.Publish()
	img, err := jpeg.Decode(bytes.NewReader(r2.Next(t, deadline)[0]))
	if err != nil || img.Bounds().Dx() != 320 {
		t.Fatalf("after format change: %v %v, want 320x240", err, img)
	}
}

func TestUnsupportedJPEGSize(t *testing.T) {
	info, frames, err := rtsptest.JPEGFrames(642, 480, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, url, _ := start(t, rtsptest.New(info, frames, nil), accounts, nil)
	_, err = play(t, url, gortsplib.ProtocolTCP)
	var bad liberrors.ErrClientBadStatusCode
	if !errors.As(err, &bad) || bad.Code != base.StatusUnsupportedMediaType || !strings.Contains(bad.Message, "642x480") {
		t.Fatalf("642x480: %v, want 415 naming the size", err)
	}
}

func TestUDP(t *testing.T) {
	src := jpegSource(t)
	s, url, _ := start(t, src, accounts, func(o *rtsp.Options) { o.UDPRTPPort = rtsp.AutoUDP })
	if p, q := s.UDPPorts(); p%2 != 0 || q != p+1 {
		t.Fatalf("UDP ports %d/%d", p, q)
	}
	r, err := play(t, url, gortsplib.ProtocolUDP)
	if err != nil {
		t.Fatal(err)
	}
	if tr := r.Client().Transport(); tr == nil || tr.Session == nil || tr.Session.Protocol != gortsplib.ProtocolUDP {
		t.Fatalf("transport %+v, want UDP", tr)
	}
	// UDP may lose a packet even on loopback: publish until a frame is whole.
	got := make(chan struct{})
	go func() {
		for {
			select {
			case <-got:
				return
			default:
				src.Publish()
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	r.Next(t, deadline)
	close(got)
}

func TestTLS(t *testing.T) {
	src := jpegSource(t)
	_, url, _ := start(t, src, accounts, func(o *rtsp.Options) { o.TLSConfig = serverTLS(t) })
	r, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	src.Publish()
	r.Next(t, deadline)
}

// rawRequest sends b on a fresh connection and returns what came back
// until the server closed it or sent a whole response head.
func rawRequest(t *testing.T, addr string, b []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(deadline))
	go c.Write(b) //nolint:errcheck // the server may close before reading it all
	var out bytes.Buffer
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		out.WriteString(line)
		if err != nil || line == "\r\n" {
			return out.String()
		}
	}
}

func TestHostileInput(t *testing.T) {
	src := jpegSource(t)
	s, url, _ := start(t, src, accounts, func(o *rtsp.Options) {
		o.ReadTimeout = 300 * time.Millisecond
		o.MaxConns = 4
	})
	addr := s.Addr().String()
	cases := map[string][]byte{
		"garbage":         []byte("\x00\x01\x02garbage\r\n\r\n"),
		"no cseq":         []byte("DESCRIBE rtsp://" + addr + "/doorbell-1 RTSP/1.0\r\n\r\n"),
		"huge header":     []byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: " + strings.Repeat("a", 100000) + "\r\n\r\n"),
		"many headers":    []byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n" + strings.Repeat("X: y\r\n", 1000) + "\r\n"),
		"http tunnel":     []byte("GET /doorbell-1 HTTP/1.1\r\nAccept: application/x-rtsp-tunnelled\r\nX-Sessioncookie: a\r\n\r\n"),
		"huge body":       []byte("DESCRIBE rtsp://" + addr + "/doorbell-1 RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n"),
		"bad basic":       []byte("DESCRIBE rtsp://" + addr + "/doorbell-1 RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic !!!\r\n\r\n"),
		"setup no play":   []byte("SETUP rtsp://" + addr + "/doorbell-1/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;interleaved=0-1\r\n\r\n"),
		"interleaved":     []byte("$\x00\x00\x10" + strings.Repeat("x", 16)),
		"announce":        []byte("ANNOUNCE rtsp://" + addr + "/doorbell-1 RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
		"binary in token": []byte("DESC\xffRIBE rtsp://x/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			out := rawRequest(t, addr, b)
			if strings.Contains(out, "RTSP/1.0 200") {
				t.Fatalf("answered 200:\n%s", out)
			}
		})
	}
	// Slowloris: a connection that sends nothing is closed.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(deadline))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("silent connection not closed by the server: %v", err)
	}
	c.Close()
	// Over MaxConns: closed at once.
	var held []net.Conn
	waitFor(t, "connections released", func() bool { return s.Stats().Conns == 0 })
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	waitFor(t, "4 connections", func() bool { return s.Stats().Conns == 4 })
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	extra.SetReadDeadline(time.Now().Add(deadline))
	if n, err := extra.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connection over the limit: read %d, %v; want closed", n, err)
	}
	for _, c := range held {
		c.Close()
	}
	if st := s.Stats(); st.RefusedConns == 0 || st.RefusedTunnels == 0 {
		t.Fatalf("stats %+v: want refused connections and tunnels counted", st)
	}
	// Still serving.
	waitFor(t, "connections released", func() bool { return s.Stats().Conns == 0 })
	r, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatalf("after hostile input: %v", err)
	}
	src.Publish()
	r.Next(t, deadline)
}

// TestStalledReader: a reader that stops reading loses packets (or is
// closed); the others get every frame.
func TestStalledReader(t *testing.T) {
	src := jpegSource(t)
	s, url, _ := start(t, src, accounts, func(o *rtsp.Options) { o.WriteQueueSize = 16 })
	good, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	// The stalled reader: plays over raw TCP and never reads.
	addr := s.Addr().String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	auth := "Authorization: Basic YWxpY2U6czNjcmV0OndpdGg6Y29sb25z\r\n"
	send := func(req string) string {
		t.Helper()
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			head.WriteString(line)
			if line == "\r\n" {
				return head.String()
			}
		}
	}
	res := send("SETUP rtsp://" + addr + "/doorbell-1/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n" + auth + "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")
	i := strings.Index(res, "Session: ")
	if i < 0 {
		t.Fatalf("SETUP answer:\n%s", res)
	}
	id := strings.SplitN(strings.TrimSpace(res[i+len("Session: "):]), ";", 2)[0]
	id = strings.SplitN(id, "\r", 2)[0]
	if res := send("PLAY rtsp://" + addr + "/doorbell-1 RTSP/1.0\r\nCSeq: 2\r\n" + auth + "Session: " + id + "\r\n\r\n"); !strings.Contains(res, "200") {
		t.Fatalf("PLAY answer:\n%s", res)
	}
	waitFor(t, "2 readers", func() bool { return s.Stats().Readers == 2 })
	for n := 0; s.Stats().Dropped == 0 && s.Stats().Readers == 2; n++ {
		if n > 5000 {
			t.Fatal("no drop after 5000 frames to a stalled reader")
		}
		src.Publish()
		good.Next(t, deadline)
	}
}
