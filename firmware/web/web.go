package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/wire"
	"github.com/jonboulle/clockwork"
)

// ErrPrivate is what Backend.LatestJPEG returns (wrapped) in privacy
// mode: GET /api/snapshot.jpg answers 403 with its text.
var ErrPrivate = errors.New("privacy mode is on: the camera is not shown")

// Backend is what the API shows.
type Backend interface {
	// Status is served as JSON on /api/status.
	Status() any
	// LatestJPEG is the newest camera frame as JPEG.
	LatestJPEG(ctx context.Context) ([]byte, error)
}

// Options configure the server. The zero value of each bound is its
// default (ensureDefaults).
type Options struct {
	Listen  string // host:port
	Backend Backend
	// Sim serves /api/sim/ (package firmware/sim); nil outside sim mode,
	// where those endpoints are 404.
	Sim    http.Handler
	Logger *slog.Logger
	// Audit, when set, records each successful login (audit.ActionLogin,
	// Actor "web:<user>", From the remote address). Refused logins are
	// counted and logged, not audited: a guesser must not be able to
	// flush the audit trail's rotation.
	Audit func(audit.Entry)

	// Accounts guard everything but the public paths (see the package
	// comment). Nil or without users is open mode: everything is served
	// to anyone, and Start refuses an address that is not loopback.
	Accounts *account.Store
	// Sessions are the logins. Default: in memory, with Clock.
	Sessions *account.Sessions
	// Limiter slows password guessing (logins and Basic credentials).
	// Default: account.NewLimiter with Clock. The RTSP server may share it.
	Limiter *account.Limiter
	// TLSConfig, with a certificate, makes the server speak HTTPS only;
	// cookies are then Secure. Nil: plain HTTP. See LoadTLS.
	TLSConfig *tls.Config

	// App is the web app (package firmware/webapp), on every path not
	// taken below. Its shell and assets (GET /, /index.html,
	// /favicon.ico, /assets/...) are public; the rest needs a login.
	// It must set its own Content-Security-Policy: the default one
	// allows nothing. Nil: 404.
	App http.Handler
	// Live serves GET /api/live.mjpeg, a long-lived response that moves
	// its write deadline on itself (http.ResponseController.SetWriteDeadline). Nil: 404.
	Live http.Handler
	// Metrics serves GET /metrics (Prometheus). Nil: 404.
	Metrics http.Handler

	// Hosts are further host names the API answers to (http.hosts in the
	// config, e.g. "doorbell.local"), with or without a port; case and a
	// trailing dot do not matter. Always allowed besides: "localhost",
	// 127.0.0.1, ::1, the IP address the request's connection arrived on
	// (so the IP literal of the bound address, or of any interface when
	// Listen is ":port"), and the host name in Listen, if it has one. A
	// request for any other host is refused with 421 (DNS rebinding).
	Hosts []string

	// MaxConns bounds the open connections. One more is closed as soon as
	// it is accepted, and counted (Stats.ConnRefused). Default 64.
	MaxConns int

	// ReadHeaderTimeout bounds reading a request's header (a slowloris
	// client, or a connection that never sends a byte). Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	// Default 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response, counted from the end of its
	// request's header. A long-lived response (an MJPEG live stream) must
	// move it on as it goes (http.ResponseController.SetWriteDeadline, as
	// capture/live.MJPEG does). Default 30s.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for its
	// next request. Default 60s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header; net/http reads 4 KiB more
	// before it answers 431. Default 16 KiB.
	MaxHeaderBytes int

	// Clock paces the refusal logs (one line a minute for each kind).
	// Default: the real clock.
	Clock clockwork.Clock
}

func (o *Options) ensureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 64
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 5 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 16 << 10
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Sessions == nil {
		o.Sessions = account.NewSessions(account.SessionOptions{Clock: o.Clock})
	}
	if o.Limiter == nil {
		o.Limiter = account.NewLimiter(account.LimiterOptions{Clock: o.Clock})
	}
}

// logEvery is how often each kind of refusal may be logged.
const logEvery = time.Minute

// Stats are the API's counters, for the daemon's status page.
type Stats struct {
	Conns              int    `json:"conns"`                // open now
	ConnRefused        uint64 `json:"conn_refused"`         // closed when accepted: MaxConns were open
	HostRefused        uint64 `json:"host_refused"`         // 421: a host the API does not answer to
	CrossOriginRefused uint64 `json:"cross_origin_refused"` // 403: a browser's cross-site POST
	Unauthorized       uint64 `json:"unauthorized"`         // 401: no or wrong credentials
	CSRFRefused        uint64 `json:"csrf_refused"`         // 403: session cookie without its CSRF token
	LoginFailed        uint64 `json:"login_failed"`         // wrong password (login or Basic)
	LoginThrottled     uint64 `json:"login_throttled"`      // 429: refused by the login backoff
}

// Server is the HTTP API.
type Server struct {
	opts  Options
	hosts map[string]bool // normalized by hostName
	xo    *http.CrossOriginProtection
	ln    atomic.Pointer[limitListener] // set by Start
	srv   *http.Server

	hostRefused, xoRefused atomic.Uint64
	hostLog, xoLog         *rateLog

	unauthorizedTotal, csrfRefused, loginFailed, loginThrottled atomic.Uint64
	csrfLog, failLog, throttleLog                               *rateLog
}

// New builds the server; Start binds it.
func New(opts Options) *Server {
	opts.ensureDefaults()
	s := &Server{
		opts:    opts,
		hosts:   map[string]bool{"localhost": true},
		xo:      http.NewCrossOriginProtection(),
		hostLog: newRateLog(opts, "web: request refused: host not allowed (DNS rebinding?)"),
		xoLog:   newRateLog(opts, "web: request refused: cross-origin"),

		csrfLog:     newRateLog(opts, "web: request refused: CSRF token missing or wrong"),
		failLog:     newRateLog(opts, "web: login failed"),
		throttleLog: newRateLog(opts, "web: login refused: backoff after failures"),
	}
	for _, h := range opts.Hosts {
		if n := hostName(h); n != "" {
			s.hosts[n] = true
		}
	}
	if h, _, err := net.SplitHostPort(opts.Listen); err == nil && h != "" {
		if _, err := netip.ParseAddr(h); err != nil {
			s.hosts[hostName(h)] = true // a name; IP literals are matched against the connection
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("GET /api/session", s.public(http.HandlerFunc(s.sessionInfo)))
	mux.Handle("POST /api/login", s.public(http.HandlerFunc(s.login)))
	mux.Handle("POST /api/logout", s.protect(http.HandlerFunc(s.logout)))
	mux.Handle("GET /api/status", s.protect(http.HandlerFunc(s.status)))
	mux.Handle("GET /api/snapshot.jpg", s.protect(http.HandlerFunc(s.snapshot)))
	if opts.Live != nil {
		mux.Handle("GET /api/live.mjpeg", s.protect(opts.Live))
	}
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", s.protect(opts.Metrics))
	}
	if opts.Sim != nil {
		mux.Handle("/api/sim/", s.protect(opts.Sim))
	}
	// The other API paths are the app's (timeline, clips, switches);
	// without an app they are 404, after the login check.
	if opts.App != nil {
		mux.Handle("/api/", s.protect(opts.App))
	} else {
		mux.Handle("/api/", s.protect(http.NotFoundHandler()))
	}
	if opts.App != nil {
		mux.Handle("/", s.app(opts.App))
	}
	s.srv = &http.Server{
		Handler:           s.guard(mux),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		// net/http's own complaints (TLS handshakes, semicolons in a
		// query, ...) are caused by clients: one line a minute.
		ErrorLog: log.New(serverErrors{newRateLog(opts, "web: net/http")}, "", 0),
	}
	if opts.TLSConfig != nil {
		s.srv.TLSConfig = opts.TLSConfig.Clone()
		if s.srv.TLSConfig.MinVersion == 0 {
			s.srv.TLSConfig.MinVersion = tls.VersionTLS12
		}
	}
	return s
}

// serverErrors is net/http's ErrorLog, through a rateLog.
type serverErrors struct{ l *rateLog }

func (e serverErrors) Write(p []byte) (int, error) {
	e.l.log("err", wire.Quote(strings.TrimSpace(string(p))))
	return len(p), nil
}

// Start binds the listen address, so a taken port fails before startup ends.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", s.opts.Listen, err)
	}
	if s.open() {
		if ip := ln.Addr().(*net.TCPAddr).AddrPort().Addr().Unmap(); !ip.IsLoopback() {
			ln.Close()
			return fmt.Errorf("web: listen on %s: no accounts are configured, so anyone who reaches %s would see the door: "+
				"listen on a loopback address, or add users: (doorbellctl passwd USERNAME)", s.opts.Listen, ln.Addr())
		}
	}
	s.ln.Store(newLimitListener(ln, s.opts.MaxConns, newRateLog(s.opts, "web: connection refused: too many open"), s.opts.TLSConfig == nil))
	s.opts.Logger.Info("web: HTTP API listening", "addr", ln.Addr().String(), "sim", s.opts.Sim != nil,
		"max_conns", s.opts.MaxConns, "tls", s.srv.TLSConfig != nil, "accounts", s.opts.Accounts.Len())
	if s.open() {
		s.opts.Logger.Warn("web: no accounts configured: the API and app are open to whoever reaches the loopback port")
	}
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Load().Addr().String() }

// Stats returns the counters. It is safe for concurrent use, also with
// Start and before it (zero connections).
func (s *Server) Stats() Stats {
	st := Stats{HostRefused: s.hostRefused.Load(), CrossOriginRefused: s.xoRefused.Load(),
		Unauthorized: s.unauthorizedTotal.Load(), CSRFRefused: s.csrfRefused.Load(),
		LoginFailed: s.loginFailed.Load(), LoginThrottled: s.loginThrottled.Load()}
	if ln := s.ln.Load(); ln != nil {
		st.Conns, _ = ln.state()
		st.ConnRefused = ln.refused.Load()
	}
	return st
}

// Run serves until ctx is done, then shuts down within a second.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		if s.srv.TLSConfig != nil {
			// The certificate is in TLSConfig; ServeTLS adds h2.
			errc <- s.srv.ServeTLS(s.ln.Load(), "", "")
			return
		}
		errc <- s.srv.Serve(s.ln.Load())
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: serve: %w", err)
	}
	return nil
}

// guard wraps every handler: security headers on every response, then
// the Host check, then the cross-origin check. It never wraps the
// ResponseWriter, so http.ResponseController reaches the connection.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		// An API of JSON and JPEG loads nothing and is framed by nothing;
		// a future HTML page must widen default-src for what it loads.
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !s.hostAllowed(r) {
			n := s.hostRefused.Add(1)
			s.hostLog.log("host", wire.Quote(r.Host), "remote", r.RemoteAddr, "refused_total", n)
			http.Error(w, "misdirected request: this server does not answer to that host name", http.StatusMisdirectedRequest)
			return
		}
		if err := s.xo.Check(r); err != nil {
			n := s.xoRefused.Add(1)
			s.xoLog.log("method", r.Method, "path", wire.Quote(r.URL.Path), "remote", r.RemoteAddr, "err", err, "refused_total", n)
			http.Error(w, "forbidden: cross-origin request", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether r names a host the API answers to. A DNS
// rebinding page makes the browser send its own name (evil.example), which
// is never on the list; an IP literal cannot be rebound.
func (s *Server) hostAllowed(r *http.Request) bool {
	if r.Host == "" {
		// Only HTTP/1.0 may leave Host out (net/http answers 400 to
		// HTTP/1.1 without one); browsers always send it.
		return true
	}
	h := hostName(r.Host)
	if s.hosts[h] {
		return true
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return false
	}
	if ip == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || ip == netip.IPv6Loopback() {
		return true
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return la.AddrPort().Addr().Unmap().WithZone("") == ip
	}
	return false
}

// hostName is the host of a Host header or of a configured name, in one
// form: no port, no brackets, lower case, no trailing dots, an IP address
// in netip's canonical form. A bad port is left to net/http's parser,
// which rejects what it must; the name alone decides here.
func hostName(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	} else if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	h = strings.TrimRight(strings.ToLower(h), ".")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().WithZone("").String()
	}
	return h
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.opts.Backend.Status())
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	b, err := s.opts.Backend.LatestJPEG(ctx)
	if err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrPrivate) {
			code = http.StatusForbidden // on purpose, not a failure: as the live stream
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	_, _ = w.Write(b)
}
