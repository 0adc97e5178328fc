package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/jonboulle/clockwork"
)

const alicePassword = "correct horse battery"

var (
	aliceHashOnce sync.Once
	aliceHash     string
)

// accounts is a store with alice (argon2id, made once per test binary).
func accounts(t *testing.T) *account.Store {
	t.Helper()
	aliceHashOnce.Do(func() { aliceHash, _ = account.HashPassword(alicePassword) })
	s, err := account.NewStore([]account.User{{Username: "alice", PasswordHash: aliceHash}}, account.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recorder is a handler that counts its calls and remembers web.User.
type recorder struct {
	calls atomic.Int32
	mu    sync.Mutex
	users []string
	code  int
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	h.mu.Lock()
	h.users = append(h.users, User(r))
	h.mu.Unlock()
	w.WriteHeader(h.code)
	io.WriteString(w, "handler "+r.URL.Path)
}

func (h *recorder) lastUser() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.users) == 0 {
		return "<none>"
	}
	return h.users[len(h.users)-1]
}

// handlers are the fakes of the mounted handlers.
type handlers struct{ app, live, metrics, sim *recorder }

func newHandlers() handlers {
	return handlers{&recorder{code: 200}, &recorder{code: 200}, &recorder{code: 200}, &recorder{code: 202}}
}

func (h handlers) mount(o *Options) {
	o.App, o.Live, o.Metrics, o.Sim = h.app, h.live, h.metrics, h.sim
}

func (h handlers) calls() int32 {
	return h.app.calls.Load() + h.live.calls.Load() + h.metrics.calls.Load() + h.sim.calls.Load()
}

// client speaks to one server, as localhost, over HTTP or HTTPS.
type client struct {
	t      *testing.T
	s      *Server
	scheme string
	tr     *http.Transport
}

func newClient(t *testing.T, s *Server) *client {
	return &client{t: t, s: s, scheme: "http", tr: &http.Transport{DisableKeepAlives: true}}
}

// do sends a request; hdr are header name, value pairs; a body starting
// with "{" is JSON, another one a form.
func (c *client) do(method, path, body string, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.scheme+"://"+c.s.Addr()+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Host = "localhost"
	if body != "" {
		if body[0] == '{' {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Transport: c.tr, Timeout: failAfter}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// login logs alice in and returns the session cookie and CSRF token.
func (c *client) login() (*http.Cookie, string) {
	c.t.Helper()
	resp, body := c.do("POST", "/api/login", `{"username":"alice","password":"`+alicePassword+`"}`)
	if resp.StatusCode != 200 {
		c.t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var info sessionInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil || info.User != "alice" || info.CSRF == "" || info.Open {
		c.t.Fatalf("login answer %s: %v", body, err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == CookieName {
			return ck, info.CSRF
		}
	}
	c.t.Fatalf("login set no %s cookie: %v", CookieName, resp.Header["Set-Cookie"])
	return nil, ""
}

func cookieHdr(c *http.Cookie) []string { return []string{"Cookie", CookieName + "=" + c.Value} }

func basicHdr(user, pass string) []string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return []string{"Authorization", r.Header.Get("Authorization")}
}

// Without accounts everything is served as before, and the session
// endpoint says the app is open.
func TestOpenMode(t *testing.T) {
	h := newHandlers()
	opts := Options{}
	h.mount(&opts)
	s := serve(t, opts)
	c := newClient(t, s)
	for _, tt := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/api/status", 200}, {"GET", "/api/snapshot.jpg", 200}, {"GET", "/api/live.mjpeg", 200},
		{"GET", "/metrics", 200}, {"POST", "/api/sim/ring", 202}, {"GET", "/settings", 200}, {"GET", "/", 200},
	} {
		if resp, body := c.do(tt.method, tt.path, ""); resp.StatusCode != tt.code {
			t.Errorf("open: %s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.code)
		}
	}
	if u := h.sim.lastUser(); u != "" {
		t.Errorf("User in open mode = %q, want \"\"", u)
	}
	resp, body := c.do("GET", "/api/session", "")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"open":true,"user":"","csrf":"","tls":false}` {
		t.Errorf("GET /api/session = %d %s", resp.StatusCode, body)
	}
	if resp, body := c.do("POST", "/api/login", `{"username":"a","password":"b"}`); resp.StatusCode != 409 || !strings.Contains(body, "no accounts") {
		t.Errorf("login in open mode = %d %s, want 409", resp.StatusCode, body)
	}
}

// With one account, every path but the public ones needs it, and no
// refused request reaches a handler.
func TestLoginRequired(t *testing.T) {
	h := newHandlers()
	b := &countingBackend{}
	opts := Options{Accounts: accounts(t), Backend: b}
	h.mount(&opts)
	s := serve(t, opts)
	c := newClient(t, s)
	for _, tt := range []struct {
		method, path string
		challenge    bool
	}{
		{"GET", "/api/status", true},
		{"GET", "/api/snapshot.jpg", true},
		{"HEAD", "/api/snapshot.jpg", true},
		{"GET", "/api/live.mjpeg", true},
		{"GET", "/metrics", true},
		{"GET", "/api/sim/state", true},
		{"POST", "/api/sim/ring", true},
		{"POST", "/api/logout", true},
		{"GET", "/api/nope", true},
		{"GET", "/settings", true},
		{"POST", "/", true},
	} {
		resp, body := c.do(tt.method, tt.path, "")
		if resp.StatusCode != 401 {
			t.Errorf("%s %s without login = %d %s, want 401", tt.method, tt.path, resp.StatusCode, body)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="doorbelld", charset="UTF-8"` {
			t.Errorf("%s %s: WWW-Authenticate %q", tt.method, tt.path, got)
		}
		if tt.method == "GET" && strings.HasPrefix(tt.path, "/api/") && strings.TrimSpace(body) != `{"error":"login required"}` {
			t.Errorf("%s %s: body %s", tt.method, tt.path, body)
		}
		// The web app's own requests get no challenge (no browser dialog).
		resp, _ = c.do(tt.method, tt.path, "", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Site", "same-origin")
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s %s from the app: %d, WWW-Authenticate %q; want 401 without", tt.method, tt.path,
				resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if n := h.calls() + b.status.Load() + b.jpeg.Load(); n != 0 {
		t.Errorf("%d refused requests reached a handler", n)
	}
	// Public: what the browser needs to show the login form.
	for _, p := range []string{"/healthz", "/", "/index.html", "/assets/app.js", "/favicon.ico"} {
		if resp, body := c.do("GET", p, ""); resp.StatusCode != 200 {
			t.Errorf("public GET %s = %d %s", p, resp.StatusCode, body)
		}
	}
	if resp, body := c.do("GET", "/api/session", ""); strings.TrimSpace(body) != `{"open":false,"user":"","csrf":"","tls":false}` {
		t.Errorf("GET /api/session = %d %s", resp.StatusCode, body)
	}
	if st := s.Stats(); st.Unauthorized != 22 {
		t.Errorf("Stats().Unauthorized = %d, want 22", st.Unauthorized)
	}
}

func TestLoginSessionCSRF(t *testing.T) {
	var logs syncBuffer
	h := newHandlers()
	opts := Options{Accounts: accounts(t), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	h.mount(&opts)
	s := serve(t, opts)
	c := newClient(t, s)

	for _, body := range []string{`{"username":"alice","password":"Wr0ngGuess"}`, "username=alice&password=Wr0ngGuess",
		`{"username":"bob","password":"` + alicePassword + `"}`} {
		if resp, got := c.do("POST", "/api/login", body); resp.StatusCode != 401 || len(resp.Cookies()) != 0 || !strings.Contains(got, "wrong username or password") {
			t.Errorf("login %s = %d %s %v, want 401 without cookie", body, resp.StatusCode, got, resp.Cookies())
		}
	}
	for body, want := range map[string]string{
		`{"username":"alice"}`:                          "want a JSON object",
		`{"username":"alice","password":"x","extra":1}`: "want a JSON object",
		"[1]": "want a JSON object",
		`{"username":"alice","password":"` + strings.Repeat("x", 5000) + `"}`: "body over 4096 bytes",
	} {
		if resp, got := c.do("POST", "/api/login", body); resp.StatusCode != 400 || !strings.Contains(got, want) || strings.Contains(got, "xxxx") {
			t.Errorf("login %.40s = %d %s, want 400 %q", body, resp.StatusCode, got, want)
		}
	}

	ck, csrf := c.login()
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure || ck.MaxAge != 30*24*3600 || len(ck.Value) != 43 {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over HTTP, Max-Age 30 days", ck)
	}
	if resp, body := c.do("GET", "/api/status", "", cookieHdr(ck)...); resp.StatusCode != 200 {
		t.Errorf("GET /api/status with session = %d %s", resp.StatusCode, body)
	}
	var info sessionInfo
	_, body := c.do("GET", "/api/session", "", cookieHdr(ck)...)
	if json.Unmarshal([]byte(body), &info); info.User != "alice" || info.CSRF != csrf || info.Open {
		t.Errorf("GET /api/session with session = %s", body)
	}
	// State-changing requests need the CSRF token.
	for _, tt := range []struct {
		hdr  []string
		code int
	}{
		{cookieHdr(ck), 403},
		{append(cookieHdr(ck), CSRFHeader, "wrong"), 403},
		{append(cookieHdr(ck), CSRFHeader, csrf[:len(csrf)-1]), 403},
		{append(cookieHdr(ck), CSRFHeader, csrf), 202},
	} {
		if resp, body := c.do("POST", "/api/sim/ring", "", tt.hdr...); resp.StatusCode != tt.code {
			t.Errorf("POST /api/sim/ring %v = %d %s, want %d", tt.hdr[2:], resp.StatusCode, body, tt.code)
		}
	}
	if n, u := h.sim.calls.Load(), h.sim.lastUser(); n != 1 || u != "alice" {
		t.Errorf("sim handler: %d calls, User %q; want 1, alice", n, u)
	}
	if st := s.Stats(); st.CSRFRefused != 3 || st.LoginFailed != 3 {
		t.Errorf("Stats() = %+v, want 3 CSRF refusals, 3 failed logins", st)
	}
	// A form login works too, and replaces the session it came with.
	resp, _ := c.do("POST", "/api/login", "username=alice&password="+strings.ReplaceAll(alicePassword, " ", "+"), cookieHdr(ck)...)
	if resp.StatusCode != 200 {
		t.Fatalf("form login = %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/api/status", "", cookieHdr(ck)...); resp.StatusCode != 401 {
		t.Errorf("old session after a new login = %d, want 401", resp.StatusCode)
	}
	ck2 := resp.Cookies()[0]
	_, body = c.do("GET", "/api/session", "", cookieHdr(ck2)...)
	json.Unmarshal([]byte(body), &info)

	// Logout: needs the token, then the cookie is worthless.
	if resp, _ := c.do("POST", "/api/logout", "", cookieHdr(ck2)...); resp.StatusCode != 403 {
		t.Errorf("logout without CSRF = %d, want 403", resp.StatusCode)
	}
	resp, _ = c.do("POST", "/api/logout", "", append(cookieHdr(ck2), CSRFHeader, info.CSRF)...)
	if resp.StatusCode != 204 || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge != -1 {
		t.Errorf("logout = %d %v, want 204 clearing the cookie", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := c.do("GET", "/api/status", "", cookieHdr(ck2)...); resp.StatusCode != 401 {
		t.Errorf("GET after logout = %d, want 401", resp.StatusCode)
	}

	// The log tells logins, failures and logouts, and no secret.
	all := strings.Join(logs.lines(), "\n")
	for _, want := range []string{`msg="web: login" user=alice`, `msg="web: login failed" user=alice`, `msg="web: logout" user=alice`} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
	for _, secret := range []string{alicePassword, "correct", "Wr0ngGuess", aliceHash, ck.Value, ck2.Value, csrf, info.CSRF, "bob"} {
		if strings.Contains(all, secret) {
			t.Errorf("log contains the secret %q:\n%s", secret, all)
		}
	}
}

// Home Assistant and Prometheus send Basic credentials with each GET;
// Basic never changes state.
func TestBasicAuth(t *testing.T) {
	h := newHandlers()
	b := &countingBackend{}
	opts := Options{Accounts: accounts(t), Backend: b}
	h.mount(&opts)
	s := serve(t, opts)
	c := newClient(t, s)
	for _, p := range []string{"/api/snapshot.jpg", "/api/live.mjpeg", "/metrics", "/api/status"} {
		if resp, body := c.do("GET", p, "", basicHdr("alice", alicePassword)...); resp.StatusCode != 200 {
			t.Errorf("GET %s with Basic = %d %s", p, resp.StatusCode, body)
		}
	}
	if b.jpeg.Load() != 1 || h.live.lastUser() != "alice" || h.metrics.calls.Load() != 1 {
		t.Errorf("handlers: jpeg %d, live user %q, metrics %d", b.jpeg.Load(), h.live.lastUser(), h.metrics.calls.Load())
	}
	resp, _ := c.do("GET", "/api/snapshot.jpg", "", basicHdr("alice", "nope")...)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("wrong Basic = %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp, body := c.do("POST", "/api/sim/ring", "", basicHdr("alice", alicePassword)...)
	if resp.StatusCode != 401 || !strings.Contains(body, "GET and HEAD only") || h.sim.calls.Load() != 0 {
		t.Errorf("POST with Basic = %d %s, sim calls %d; want 401 and no call", resp.StatusCode, body, h.sim.calls.Load())
	}
}

// The tenth wrong password in a row is refused without being checked,
// with Retry-After; so is the right one until the backoff has passed.
func TestLoginBackoff(t *testing.T) {
	clock := clockwork.NewFakeClock()
	s := serve(t, Options{Accounts: accounts(t), Clock: clock})
	c := newClient(t, s)
	var codes []int
	var last *http.Response
	for range 10 {
		last, _ = c.do("POST", "/api/login", `{"username":"alice","password":"guess"}`)
		codes = append(codes, last.StatusCode)
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") != "1" {
		t.Errorf("10th wrong try = %d, Retry-After %q; want 429, 1", last.StatusCode, last.Header.Get("Retry-After"))
	}
	if got := s.Stats(); got.LoginFailed != 6 || got.LoginThrottled != 4 {
		t.Errorf("codes %v, stats %+v: want 6 checked, 4 refused", codes, got)
	}
	if resp, _ := c.do("POST", "/api/login", `{"username":"alice","password":"`+alicePassword+`"}`); resp.StatusCode != 429 {
		t.Errorf("right password during backoff = %d, want 429", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/api/status", "", basicHdr("alice", alicePassword)...); resp.StatusCode != 429 {
		t.Errorf("Basic during backoff = %d, want 429", resp.StatusCode)
	}
	clock.Advance(time.Second)
	c.login() // after the backoff; resets the count
	if resp, _ := c.do("POST", "/api/login", `{"username":"alice","password":"guess"}`); resp.StatusCode != 401 {
		t.Errorf("wrong try after a success = %d, want 401 (count reset)", resp.StatusCode)
	}
}

func TestSessionExpiry(t *testing.T) {
	clock := clockwork.NewFakeClock()
	s := serve(t, Options{Accounts: accounts(t), Clock: clock})
	c := newClient(t, s)
	ck, _ := c.login()
	clock.Advance(7*24*time.Hour - time.Second)
	if resp, _ := c.do("GET", "/api/status", "", cookieHdr(ck)...); resp.StatusCode != 200 {
		t.Errorf("after 7 days less a second = %d, want 200", resp.StatusCode)
	}
	clock.Advance(7 * 24 * time.Hour)
	if resp, _ := c.do("GET", "/api/status", "", cookieHdr(ck)...); resp.StatusCode != 401 {
		t.Errorf("after 7 idle days = %d, want 401", resp.StatusCode)
	}
}

// A live stream behind the login still moves its own write deadline on.
func TestLiveExtendsWriteDeadline(t *testing.T) {
	body := strings.Repeat("frame", 1<<10)
	live := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(failAfter)); err != nil {
			t.Errorf("moving the write deadline: %v", err)
		}
		io.WriteString(w, body)
	})
	s := serve(t, Options{Accounts: accounts(t), Live: live, WriteTimeout: time.Nanosecond})
	c := newClient(t, s)
	if resp, got := c.do("GET", "/api/live.mjpeg", "", basicHdr("alice", alicePassword)...); resp.StatusCode != 200 || got != body {
		t.Errorf("live behind Basic: %d, %d bytes", resp.StatusCode, len(got))
	}
}

func TestOpenModeLoopbackOnly(t *testing.T) {
	s := New(Options{Listen: "0.0.0.0:0", Backend: fakeBackend{}, Logger: slog.New(slog.DiscardHandler)})
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "no accounts are configured") {
		t.Errorf("open mode on 0.0.0.0: %v, want refused", err)
	}
	s = New(Options{Listen: "0.0.0.0:0", Backend: fakeBackend{}, Accounts: accounts(t), Logger: slog.New(slog.DiscardHandler)})
	if err := s.Start(); err != nil {
		t.Errorf("with accounts on 0.0.0.0: %v", err)
	} else {
		s.ln.Load().Close()
	}
}

// selfSigned writes a certificate for localhost and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "doorbell test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	if _, err := LoadTLS(certFile, filepath.Join(t.TempDir(), "missing.pem")); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("LoadTLS with a missing key: %v", err)
	}
	cfg, err := LoadTLS(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, Options{Accounts: accounts(t), TLSConfig: cfg})
	c := newClient(t, s)
	c.scheme = "https"
	c.tr = &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, ForceAttemptHTTP2: true}
	ck, _ := c.login()
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie under TLS %+v: want Secure, HttpOnly, SameSite=Strict", ck)
	}
	resp, body := c.do("GET", "/api/session", "", cookieHdr(ck)...)
	if !strings.Contains(body, `"tls":true`) || !strings.Contains(body, `"user":"alice"`) || resp.ProtoMajor != 2 {
		t.Errorf("GET /api/session over TLS = %s %s", resp.Proto, body)
	}
	// Plain HTTP to the TLS port is not served.
	plain := newClient(t, s)
	if resp, _ := plain.do("GET", "/api/session", ""); resp.StatusCode != 400 {
		t.Errorf("plain HTTP to the TLS port = %d, want 400", resp.StatusCode)
	}
}

// The app's own API paths (timeline, clips, switches) reach the app, but
// only logged in, with the user, and state changes with the CSRF token.
func TestAppAPIBehindLogin(t *testing.T) {
	h := newHandlers()
	opts := Options{Accounts: accounts(t)}
	h.mount(&opts)
	s := serve(t, opts)
	c := newClient(t, s)
	if resp, _ := c.do("GET", "/api/events", ""); resp.StatusCode != 401 || h.app.calls.Load() != 0 {
		t.Fatalf("GET /api/events without login = %d (app calls %d), want 401 and none", resp.StatusCode, h.app.calls.Load())
	}
	ck, csrf := c.login()
	if resp, body := c.do("GET", "/api/events", "", cookieHdr(ck)...); resp.StatusCode != 200 || body != "handler /api/events" {
		t.Errorf("GET /api/events logged in = %d %q, want the app's answer", resp.StatusCode, body)
	}
	if u := h.app.lastUser(); u != "alice" {
		t.Errorf("app saw user %q, want alice", u)
	}
	if resp, _ := c.do("POST", "/api/switch/privacy", `{"on":true}`, cookieHdr(ck)...); resp.StatusCode != 403 {
		t.Errorf("POST /api/switch/privacy without CSRF = %d, want 403", resp.StatusCode)
	}
	before := h.app.calls.Load()
	if resp, body := c.do("POST", "/api/switch/privacy", `{"on":true}`, append(cookieHdr(ck), CSRFHeader, csrf)...); resp.StatusCode != 200 || h.app.calls.Load() != before+1 {
		t.Errorf("POST /api/switch/privacy with CSRF = %d %q, want the app's answer", resp.StatusCode, body)
	}
	// Without an app, the same paths are 404 after the login check.
	s2 := serve(t, Options{Accounts: accounts(t)})
	c2 := newClient(t, s2)
	ck2, _ := c2.login()
	if resp, _ := c2.do("GET", "/api/events", "", cookieHdr(ck2)...); resp.StatusCode != 404 {
		t.Errorf("GET /api/events without an app = %d, want 404", resp.StatusCode)
	}
}
