package web

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/wire"
)

// CookieName is the session cookie.
const CookieName = "doorbelld_session"

// CSRFHeader carries a session's CSRF token on every state-changing
// request made with the session cookie.
const CSRFHeader = "X-CSRF-Token"

// maxLoginBody bounds a POST /api/login body.
const maxLoginBody = 4 << 10

type userKey struct{}

// User is the account a request was authenticated as: "" when no
// accounts are configured (open mode) or on a public path without a
// session. For audit logs of the handlers behind Server.
func User(r *http.Request) string { return UserFrom(r.Context()) }

// UserFrom is User for a request's context (or one derived from it).
func UserFrom(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

func withUser(r *http.Request, user string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), userKey{}, user))
}

// open reports whether no accounts are configured: everything is served
// to anyone who reaches the port (Start allows that on loopback only).
func (s *Server) open() bool { return s.opts.Accounts.Open() }

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// session is the live session of r's cookie, if any.
func (s *Server) session(r *http.Request) (sess sessionView, ok bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return sessionView{}, false
	}
	got, ok := s.opts.Sessions.Lookup(c.Value)
	if !ok || !s.opts.Accounts.Has(got.User) {
		return sessionView{}, false
	}
	return sessionView{user: got.User, csrf: got.CSRF, token: got.Token}, true
}

type sessionView struct{ user, csrf, token string }

// protect serves h only to a request with a session cookie (and, for a
// state-changing method, its CSRF token) or, for GET and HEAD, with
// HTTP Basic credentials of an account. In open mode it serves everyone.
func (s *Server) protect(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.open() {
			h.ServeHTTP(w, withUser(r, ""))
			return
		}
		if sess, ok := s.session(r); ok {
			if !safeMethod(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(sess.csrf)) != 1 {
				n := s.csrfRefused.Add(1)
				s.csrfLog.log("method", r.Method, "path", wire.Quote(r.URL.Path), "user", sess.user, "remote", r.RemoteAddr, "refused_total", n)
				writeError(w, http.StatusForbidden, "CSRF token missing or wrong: send the "+CSRFHeader+" header with the csrf value of GET /api/session")
				return
			}
			h.ServeHTTP(w, withUser(r, sess.user))
			return
		}
		if user, pass, ok := r.BasicAuth(); ok {
			if !safeMethod(r.Method) {
				s.unauthorizedTotal.Add(1)
				writeError(w, http.StatusUnauthorized, "HTTP Basic credentials are taken for GET and HEAD only: log in (POST /api/login) and send "+CSRFHeader)
				return
			}
			if !s.checkPassword(w, r, user, pass, "basic") {
				return
			}
			h.ServeHTTP(w, withUser(r, user))
			return
		}
		s.unauthorized(w, r, "login required")
	})
}

// public serves h to everyone, with the user of a valid session cookie
// (User) when there is one.
func (s *Server) public(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := ""
		if sess, ok := s.session(r); ok && !s.open() {
			user = sess.user
		}
		h.ServeHTTP(w, withUser(r, user))
	})
}

// appPublic reports whether r asks for the web app's shell or static
// files, which a browser needs before it can show the login form. They
// hold no picture and nothing about the door.
func appPublic(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	return p == "/" || p == "/index.html" || p == "/favicon.ico" || strings.HasPrefix(p, "/assets/")
}

// app serves the web app: its shell and assets to everyone, the rest
// behind protect.
func (s *Server) app(h http.Handler) http.Handler {
	pub, priv := s.public(h), s.protect(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if appPublic(r) {
			pub.ServeHTTP(w, r)
			return
		}
		priv.ServeHTTP(w, r)
	})
}

// wantsChallenge reports whether a 401 to r should carry
// WWW-Authenticate: Basic. A browser shows a password dialog for it,
// which is right when someone typed a stream's URL (Sec-Fetch-Mode:
// navigate) and for clients that are no browser (Home Assistant, VLC,
// Prometheus, curl: no Sec-Fetch-Mode), and wrong for the web app's own
// fetch and <img> requests, which show the login form instead.
func wantsChallenge(r *http.Request) bool {
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	m := r.Header.Get("Sec-Fetch-Mode")
	return m == "" || m == "navigate"
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	s.unauthorizedTotal.Add(1)
	if wantsChallenge(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="doorbelld", charset="UTF-8"`)
	}
	writeError(w, http.StatusUnauthorized, msg)
}

// remoteIP is the IP address of r's peer. No X-Forwarded-For: nothing
// trusted sits in front of the doorbell.
func remoteIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// checkPassword checks a login or Basic credentials through the rate
// limiter, and on failure answers r itself (429 or 401) and returns
// false. how is "password" (login form) or "basic".
func (s *Server) checkPassword(w http.ResponseWriter, r *http.Request, user, pass, how string) bool {
	ip := remoteIP(r)
	// A failed guess logs the username only when it is an account: a
	// password typed into the username field stays out of the log.
	logUser := "(not an account)"
	if s.opts.Accounts.Has(user) {
		logUser = user
	}
	if ok, wait := s.opts.Limiter.Allow(ip, user); !ok {
		n := s.loginThrottled.Add(1)
		s.throttleLog.log("user", logUser, "remote", r.RemoteAddr, "via", how, "retry_after", wait, "throttled_total", n)
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{
			"error":       fmt.Sprintf("too many failed logins: try again in %d s", secs),
			"retry_after": secs,
		})
		return false
	}
	ok, err := s.opts.Accounts.CheckContext(r.Context(), user, pass)
	if err != nil { // the client went away while waiting for a slot
		writeError(w, http.StatusServiceUnavailable, "busy checking other logins")
		return false
	}
	if !ok {
		failures := s.opts.Limiter.Failure(ip, user)
		n := s.loginFailed.Add(1)
		s.failLog.log("user", logUser, "remote", r.RemoteAddr, "via", how, "failures", failures, "failed_total", n)
		if how == "basic" {
			s.unauthorized(w, r, "wrong username or password")
		} else {
			s.unauthorizedTotal.Add(1)
			writeError(w, http.StatusUnauthorized, "wrong username or password")
		}
		return false
	}
	s.opts.Limiter.Success(ip, user)
	if how == "basic" {
		s.opts.Logger.Debug("web: basic auth", "user", user, "remote", r.RemoteAddr, "path", wire.Quote(r.URL.Path))
	}
	return true
}

// sessionInfo is the answer of GET /api/session and POST /api/login.
type sessionInfo struct {
	Open bool   `json:"open"` // no accounts: anyone who reaches the port sees the door
	User string `json:"user"` // "" when not logged in
	CSRF string `json:"csrf"` // for X-CSRF-Token; "" when not logged in
	TLS  bool   `json:"tls"`  // this connection is TLS
}

func (s *Server) sessionInfo(w http.ResponseWriter, r *http.Request) {
	info := sessionInfo{Open: s.open(), TLS: r.TLS != nil}
	if sess, ok := s.session(r); ok && !info.Open {
		info.User, info.CSRF = sess.user, sess.csrf
	}
	writeJSON(w, http.StatusOK, info)
}

// loginRequest is POST /api/login's body, JSON or a form.
type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

var errLoginBody = errors.New(`want a JSON object {"username": "...", "password": "..."} or a form with username and password`)

func readLogin(w http.ResponseWriter, r *http.Request) (loginRequest, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var req loginRequest
	switch ct {
	case "application/json":
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		// The error is not passed on: it may quote the password.
		if err := dec.Decode(&req); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return req, fmt.Errorf("body over %d bytes", maxLoginBody)
			}
			return req, errLoginBody
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return req, errLoginBody
		}
		req.Username, req.Password = r.PostForm.Get("username"), r.PostForm.Get("password")
	default:
		return req, fmt.Errorf("content type %s: %w", wire.Quote(ct), errLoginBody)
	}
	if req.Username == "" || req.Password == "" {
		return req, errLoginBody
	}
	return req, nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.open() {
		writeError(w, http.StatusConflict, "no accounts are configured, so there is nothing to log in to: add users: to the config (doorbellctl passwd USERNAME)")
		return
	}
	req, err := readLogin(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "login: "+err.Error())
		return
	}
	if !s.checkPassword(w, r, req.Username, req.Password, "password") {
		return
	}
	if c, err := r.Cookie(CookieName); err == nil {
		s.opts.Sessions.Delete(c.Value) // a new login never keeps an old token (fixation)
	}
	sess := s.opts.Sessions.Create(req.Username)
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    sess.Token,
		Path:     "/",
		MaxAge:   int(s.opts.Sessions.MaxAge() / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	s.opts.Logger.Info("web: login", "user", req.Username, "remote", r.RemoteAddr)
	if s.opts.Audit != nil {
		s.opts.Audit(audit.Entry{Action: audit.ActionLogin, Actor: "web:" + req.Username, From: r.RemoteAddr, Outcome: audit.OK})
	}
	writeJSON(w, http.StatusOK, sessionInfo{User: sess.User, CSRF: sess.CSRF, TLS: r.TLS != nil})
}

// logout ends the request's session; protect has checked its CSRF token.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if sess, ok := s.session(r); ok {
		s.opts.Sessions.Delete(sess.token)
		s.opts.Logger.Info("web: logout", "user", sess.user, "remote", r.RemoteAddr)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// LoadTLS loads a certificate and its key (http.cert_file, http.key_file)
// into a server TLS config for Options.TLSConfig: TLS 1.2 at least.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("web: load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
