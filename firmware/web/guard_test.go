package web

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// failAfter bounds every wait of these tests so that a broken server
// fails them instead of hanging them; no test waits for it to pass.
const failAfter = 30 * time.Second

// countingBackend counts the calls that reached it.
type countingBackend struct{ status, jpeg atomic.Int32 }

func (b *countingBackend) Status() any { b.status.Add(1); return map[string]string{"camera": "ok"} }
func (b *countingBackend) LatestJPEG(context.Context) ([]byte, error) {
	b.jpeg.Add(1)
	return []byte{0xff, 0xd8, 0xff, 0xd9}, nil
}

// serve runs a real server on a free loopback port until the test ends.
func serve(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Backend == nil {
		opts.Backend = &countingBackend{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := New(opts)
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
	})
	return s
}

// request sends one request on a new connection, naming host in Host.
func request(t *testing.T, s *Server, method, host, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: failAfter}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func port(t *testing.T, s *Server) string {
	t.Helper()
	_, p, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A DNS rebinding page makes the browser send its own name in Host; the
// API refuses every name it was not told about before a handler runs.
func TestHostCheck(t *testing.T) {
	b := &countingBackend{}
	s := serve(t, Options{Backend: b, Hosts: []string{"Doorbell.Local", "cam.example:8443"}})
	p := port(t, s)
	tests := []struct {
		host string
		code int
	}{
		{"localhost:" + p, 200},
		{"localhost", 200},
		{"LOCALHOST.:" + p, 200},
		{"127.0.0.1:" + p, 200},
		{"127.0.0.1", 200},
		{"[::1]:" + p, 200},
		{"[::1]", 200},
		{"[::ffff:127.0.0.1]:" + p, 200},
		{"doorbell.local", 200}, // from Options.Hosts; case does not matter
		{"doorbell.local.:" + p, 200},
		{"cam.example:" + p, 200}, // the port in Hosts does not matter
		{"evil.example", 421},
		{"evil.example:" + p, 421},
		{"localhost.evil.example:" + p, 421},
		{"127.0.0.1.nip.io:" + p, 421},
		{"doorbell.local.evil.example", 421},
		{"10.9.9.9:" + p, 421}, // an IP the connection did not arrive on
		{"[2001:db8::1]:" + p, 421},
	}
	var ok, refused int32
	for _, tt := range tests {
		resp, body := request(t, s, "GET", tt.host, "/api/snapshot.jpg")
		if resp.StatusCode != tt.code {
			t.Errorf("Host %q: %d %q, want %d", tt.host, resp.StatusCode, body, tt.code)
		}
		if tt.code == 200 {
			ok++
		} else {
			refused++
			if !strings.Contains(body, "misdirected") || strings.Contains(body, tt.host) {
				t.Errorf("Host %q: body %q, want a short reason that does not echo the host", tt.host, body)
			}
		}
	}
	if got := b.jpeg.Load(); got != ok {
		t.Errorf("backend saw %d snapshot requests, want %d: a refused one reached it", got, ok)
	}
	if got := s.Stats().HostRefused; got != uint64(refused) {
		t.Errorf("Stats().HostRefused = %d, want %d", got, refused)
	}

	// HTTP/1.0 may leave Host out (no browser does); net/http itself
	// answers 400 to HTTP/1.1 without it.
	for req, want := range map[string]int{
		"GET /healthz HTTP/1.0\r\n\r\n":                                                            200,
		"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n":                                       400,
		"GET http://evil.example/healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n": 421,
	} {
		if got := raw(t, s, req); got != want {
			t.Errorf("%q = %d, want %d", req, got, want)
		}
	}
}

// raw sends req as it is on a new connection and returns the status.
func raw(t *testing.T, s *Server, req string) int {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(failAfter))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The IP literal the connection arrived on is allowed, another one not,
// whatever Listen says.
func TestHostCheckLocalAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here (Linux routes all of 127/8 to lo): %v", err)
	}
	ln.Close()
	s := serve(t, Options{Listen: "127.0.0.2:0"})
	if resp, body := request(t, s, "GET", s.Addr(), "/healthz"); resp.StatusCode != 200 {
		t.Errorf("Host %s = %d %q, want 200", s.Addr(), resp.StatusCode, body)
	}
	if resp, _ := request(t, s, "GET", "127.0.0.3", "/healthz"); resp.StatusCode != 421 {
		t.Errorf("Host 127.0.0.3 = %d, want 421", resp.StatusCode)
	}
}

// Every answer, refusals and errors included, carries the headers.
func TestSecurityHeaders(t *testing.T) {
	sim := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	s := serve(t, Options{Backend: fakeBackend{}, Sim: sim}) // no camera: snapshot is 503
	want := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"Cache-Control":                "no-store",
		"X-Frame-Options":              "DENY",
		"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":              "no-referrer",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	tests := []struct {
		method, host, path string
		hdr                []string
		code               int
	}{
		{"GET", "localhost", "/healthz", nil, 200},
		{"GET", "localhost", "/api/status", nil, 200},
		{"GET", "localhost", "/api/snapshot.jpg", nil, 503},
		{"GET", "localhost", "/nope", nil, 404},
		{"POST", "localhost", "/api/sim/ring", nil, 202},
		{"GET", "evil.example", "/healthz", nil, 421},
		{"POST", "localhost", "/api/sim/ring", []string{"Sec-Fetch-Site", "cross-site"}, 403},
	}
	for _, tt := range tests {
		resp, _ := request(t, s, tt.method, tt.host, tt.path, tt.hdr...)
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s (Host %s) = %d, want %d", tt.method, tt.path, tt.host, resp.StatusCode, tt.code)
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s (%d): %s = %q, want %q", tt.method, tt.path, resp.StatusCode, k, got, v)
			}
		}
	}
}

// A page cannot ring the simulated doorbell with a cross-site POST, while
// curl and the page's own origin can.
func TestCrossOrigin(t *testing.T) {
	var calls atomic.Int32
	sim := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusAccepted)
	})
	s := serve(t, Options{Sim: sim})
	host := "localhost:" + port(t, s)
	tests := []struct {
		hdr  []string
		code int
	}{
		{nil, 202}, // curl
		{[]string{"Sec-Fetch-Site", "same-origin"}, 202},
		{[]string{"Sec-Fetch-Site", "none"}, 202}, // typed into the address bar
		{[]string{"Origin", "http://" + host}, 202},
		{[]string{"Sec-Fetch-Site", "cross-site"}, 403},
		{[]string{"Sec-Fetch-Site", "same-site"}, 403},
		{[]string{"Origin", "http://evil.example"}, 403},
	}
	var ok int32
	for _, tt := range tests {
		resp, body := request(t, s, "POST", host, "/api/sim/ring", tt.hdr...)
		if resp.StatusCode != tt.code {
			t.Errorf("POST with %q = %d %q, want %d", tt.hdr, resp.StatusCode, body, tt.code)
		}
		if tt.code == 202 {
			ok++
		}
	}
	if calls.Load() != ok {
		t.Errorf("sim handler called %d times, want %d", calls.Load(), ok)
	}
	if got := s.Stats().CrossOriginRefused; got != 3 {
		t.Errorf("Stats().CrossOriginRefused = %d, want 3", got)
	}
	// Safe methods change nothing and pass.
	if resp, _ := request(t, s, "GET", host, "/api/status", "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 200 {
		t.Errorf("cross-site GET /api/status = %d, want 200", resp.StatusCode)
	}
}

// waitConns waits until s has want connections open.
func waitConns(t *testing.T, s *Server, want int) {
	t.Helper()
	timeout := time.After(failAfter)
	for {
		n, changed := s.ln.Load().state()
		if n == want {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("open connections = %d, want %d", n, want)
		}
	}
}

// closedByPeer reports whether err is what reading a connection the
// server closed gives.
func closedByPeer(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET)
}

// Idle connections cannot take the server: it holds MaxConns of them,
// closes every further one at once, and serves again as soon as the idle
// ones go.
func TestConnCap(t *testing.T) {
	const maxConns, excess = 16, 500
	// The held connections never send a header: a long ReadHeaderTimeout
	// keeps them held until the test closes them.
	s := serve(t, Options{MaxConns: maxConns, ReadHeaderTimeout: time.Hour})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(failAfter))
		t.Cleanup(func() { c.Close() })
		return c
	}
	held := make([]net.Conn, maxConns)
	for i := range held {
		held[i] = dial()
	}
	over := make([]net.Conn, excess)
	for i := range over {
		over[i] = dial()
	}
	// The kernel hands connections to Accept in the order they were
	// made, so the first maxConns take every slot and each later one is
	// answered 503 (while a refuser is free) or closed at once.
	answered := 0
	for i, c := range over {
		b, err := io.ReadAll(c)
		switch {
		case len(b) == 0 && (err == nil || closedByPeer(err)):
		case strings.HasPrefix(string(b), "HTTP/1.1 503 ") && strings.Contains(string(b), "too many connections"):
			answered++
		default:
			t.Fatalf("connection %d over the cap: read %q, %v; want a 503 or the connection closed", maxConns+i, b, err)
		}
		c.Close()
	}
	if answered == 0 {
		t.Errorf("no connection over the cap was answered 503")
	}
	t.Logf("over the cap: %d answered 503, %d closed", answered, excess-answered)
	if st := s.Stats(); st.Conns != maxConns || st.ConnRefused != excess {
		t.Fatalf("Stats() = %+v, want %d open, %d refused", st, maxConns, excess)
	}
	// With every slot taken, a request is refused too, with a 503 that
	// says why, once the refusers are free again.
	for deadline := time.Now().Add(failAfter); len(s.ln.Load().refusing) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d refusers still busy after %v", len(s.ln.Load().refusing), failAfter)
		}
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: failAfter}
	resp, err := c.Get("http://" + s.Addr() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz with every slot taken: %v, want a 503", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(b), "too many connections") {
		t.Fatalf("GET /healthz with every slot taken = %d %q (Retry-After %q), want 503", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	// A held connection is served, not merely parked.
	if _, err := io.WriteString(held[0], "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.ReadResponse(bufio.NewReader(held[0]), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("request on a held connection: %v, %v", resp, err)
	}
	// Once the idle ones go, the next request is served.
	for _, c := range held {
		c.Close()
	}
	waitConns(t, s, 0)
	if resp, body := request(t, s, "GET", "localhost", "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("GET /healthz after the idle connections closed = %d %q", resp.StatusCode, body)
	}
	if got := s.Stats().ConnRefused; got != excess+1 {
		t.Errorf("Stats().ConnRefused = %d, want %d", got, excess+1)
	}
}

// A slowloris client, which sends half a header and then nothing, is cut
// off by ReadHeaderTimeout without an answer.
func TestSlowlorisHeader(t *testing.T) {
	s := serve(t, Options{ReadHeaderTimeout: 50 * time.Millisecond})
	for _, partial := range []string{
		"",                                     // connects and says nothing
		"GET /healthz HTTP/1.1\r\nHost: local", // stops in the middle of a header
	} {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		// A bound, not a wait: the server closes after 50ms. It is
		// under the 5s default, so that a server ignoring
		// Options.ReadHeaderTimeout fails here.
		c.SetReadDeadline(time.Now().Add(4 * time.Second))
		if _, err := io.WriteString(c, partial); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || len(b) != 0 {
			t.Errorf("after %q: read %q, %v; want the server to close the connection", partial, b, err)
		}
	}
	waitConns(t, s, 0)
}

// A header over MaxHeaderBytes (plus net/http's 4 KiB) gets 431.
func TestHeaderTooLarge(t *testing.T) {
	s := serve(t, Options{})
	big := "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("a", 32<<10) + "\r\n\r\n"
	if got := raw(t, s, big); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("32 KiB header = %d, want 431", got)
	}
	if got := raw(t, s, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: "+strings.Repeat("a", 8<<10)+"\r\nConnection: close\r\n\r\n"); got != 200 {
		t.Errorf("8 KiB header = %d, want 200", got)
	}
}

// WriteTimeout cuts a response that is not done in time; moving the write
// deadline before each frame, as a live stream does, moves it on.
func TestWriteTimeout(t *testing.T) {
	body := strings.Repeat("frame", 1<<10)
	sim := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("extend") {
			if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(failAfter)); err != nil {
				t.Errorf("moving the write deadline: %v", err)
			}
		}
		io.WriteString(w, body)
	})
	// The deadline WriteTimeout sets when the request's header has been
	// read has passed before the handler writes a byte.
	s := serve(t, Options{Sim: sim, WriteTimeout: time.Nanosecond})
	if resp, got := request(t, s, "GET", "localhost", "/api/sim/stream?extend"); resp.StatusCode != 200 || got != body {
		t.Errorf("with the write deadline moved: %d, %d bytes; want 200 and %d bytes", resp.StatusCode, len(got), len(body))
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: failAfter}
	if resp, err := c.Get("http://" + s.Addr() + "/api/sim/stream"); err == nil {
		resp.Body.Close()
		t.Errorf("without moving the write deadline: %d, want the response cut off by WriteTimeout", resp.StatusCode)
	}
}

func TestOptionsDefaults(t *testing.T) {
	s := New(Options{Backend: fakeBackend{}})
	got := []any{s.opts.MaxConns, s.srv.ReadHeaderTimeout, s.srv.ReadTimeout, s.srv.WriteTimeout, s.srv.IdleTimeout, s.srv.MaxHeaderBytes}
	want := []any{64, 5 * time.Second, 10 * time.Second, 30 * time.Second, 60 * time.Second, 16 << 10}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("defaults: got %v, want %v", got, want)
			break
		}
	}
	s = New(Options{Backend: fakeBackend{}, MaxConns: 3, ReadHeaderTimeout: 1, ReadTimeout: 2, WriteTimeout: 3, IdleTimeout: 4, MaxHeaderBytes: 5})
	got = []any{s.opts.MaxConns, s.srv.ReadHeaderTimeout, s.srv.ReadTimeout, s.srv.WriteTimeout, s.srv.IdleTimeout, s.srv.MaxHeaderBytes}
	want = []any{3, time.Duration(1), time.Duration(2), time.Duration(3), time.Duration(4), 5}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("set: got %v, want %v", got, want)
			break
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// A flood of refused requests costs one log line a minute, with a count
// and the Host quoted and cut short.
func TestRefusalLogRateLimited(t *testing.T) {
	clock := clockwork.NewFakeClock()
	var logs syncBuffer
	s := New(Options{Backend: fakeBackend{}, Clock: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	refuse := func(host string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/status", nil)
		req.Host = host
		s.srv.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusMisdirectedRequest {
			t.Fatalf("Host %q = %d, want 421", host, rec.Code)
		}
	}
	for range 100 {
		refuse("evil.example")
	}
	if l := logs.lines(); len(l) != 1 || !strings.Contains(l[0], `host="\"evil.example\""`) || !strings.Contains(l[0], "refused_total=1") {
		t.Fatalf("after 100 refusals in a minute, log = %q; want one line naming the host", l)
	}
	clock.Advance(time.Minute)
	long := strings.Repeat("a", 5000) + "\n.evil.example"
	refuse(long)
	l := logs.lines()
	if len(l) != 2 || !strings.Contains(l[1], "suppressed=99") || !strings.Contains(l[1], "refused_total=101") {
		t.Fatalf("a minute later, log = %q; want a second line with suppressed=99 refused_total=101", l)
	}
	if len(l[1]) > 400 || !strings.Contains(l[1], "(5014 bytes)") {
		t.Errorf("long host logged as %q; want it quoted and cut short", l[1])
	}
	if got := s.Stats().HostRefused; got != 101 {
		t.Errorf("Stats().HostRefused = %d, want 101", got)
	}
}

func TestHostName(t *testing.T) {
	for in, want := range map[string]string{
		"localhost":           "localhost",
		"LocalHost:8080":      "localhost",
		"localhost.":          "localhost",
		"doorbell.local.:80":  "doorbell.local",
		"127.0.0.1:8080":      "127.0.0.1",
		"[::1]:8080":          "::1",
		"[::1]":               "::1",
		"[0:0:0::1]":          "::1",
		"[::ffff:127.0.0.1]":  "127.0.0.1",
		"[fe80::1%eth0]:8080": "fe80::1",
		"evil.example:8080":   "evil.example",
		"":                    "",
	} {
		if got := hostName(in); got != want {
			t.Errorf("hostName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzHostName: a name comes only from the start of the Host header, with
// nothing after it but dots and a port, so no other host turns into an
// allowed one ("localhost.evil.example" stays itself).
func FuzzHostName(f *testing.F) {
	for _, s := range []string{"localhost", "LocalHost.:8080", "[::1]:80", "::1", "127.0.0.1:8080",
		"[::ffff:127.0.0.1]", "evil.example", "localhost.evil.example", "[fe80::1%eth0]:80", "[a:b]", "", "[", "]:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		n := hostName(h)
		if n == "" {
			return
		}
		if _, err := netip.ParseAddr(n); err == nil {
			return // an IP address in canonical form: TestHostName
		}
		l := strings.ToLower(h)
		rest, ok := strings.CutPrefix(l, n)
		if !ok {
			rest, ok = strings.CutPrefix(strings.TrimPrefix(l, "["), n)
		}
		if !ok {
			t.Fatalf("hostName(%q) = %q: not the start of the header", h, n)
		}
		rest = strings.TrimLeft(rest, ".")
		if rest != "" && rest[0] != ':' && rest[0] != ']' {
			t.Fatalf("hostName(%q) = %q: followed by %q", h, n, rest)
		}
	})
}

// net/http's own log lines (TLS handshake errors and the like, which a
// client can cause) are rate-limited like the refusals.
func TestServerErrorLogRateLimited(t *testing.T) {
	var logs syncBuffer
	s := New(Options{Backend: fakeBackend{}, Clock: clockwork.NewFakeClock(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for range 50 {
		s.srv.ErrorLog.Printf("http: TLS handshake error from 192.0.2.1:4444: EOF")
	}
	l := logs.lines()
	if len(l) != 1 || !strings.Contains(l[0], "web: net/http") || !strings.Contains(l[0], "handshake error") {
		t.Fatalf("after 50 net/http errors in a minute, log = %q; want one line", l)
	}
}
