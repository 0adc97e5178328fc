// Package web is doorbelld's local HTTP server: health, status, the
// latest camera frame, the live MJPEG stream, metrics, the web app, the
// login that guards them all, and — in sim mode only — the endpoints of
// package firmware/sim that press the simulated button and trip the
// simulated PIR.
//
//	client ──TCP──▶ limitListener    at most MaxConns open; one more is answered 503 (plain
//	                     │           HTTP, 16 at a time) or closed at once, counted
//	                     │
//	                     ▼
//	                [TLS]            Options.TLSConfig: HTTPS only (h2, TLS ≥ 1.2)
//	                     │
//	                     ▼
//	                http.Server      ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout,
//	                     │           MaxHeaderBytes
//	                     ▼
//	                   guard         security headers on every answer;
//	                     │           Host not allowed ──▶ 421, cross-site POST ──▶ 403 (counted)
//	                     ▼
//	                    mux ──GET /healthz ──────────▶ "ok"                          public
//	                        ──GET /api/session ──────▶ {open, user, csrf, tls}       public
//	                        ──POST /api/login ───────▶ limiter, Accounts.Check,      public
//	                        │                          cookie doorbelld_session
//	                        ──POST /api/logout ──────▶ Sessions.Delete               login
//	                        ──GET /api/status ───────▶ Backend.Status                login
//	                        ──GET /api/snapshot.jpg ─▶ Backend.LatestJPEG            login
//	                        ──GET /api/live.mjpeg ───▶ Options.Live                  login
//	                        ──GET /metrics ──────────▶ Options.Metrics               login
//	                        ──/api/sim/ ─────────────▶ Options.Sim (sim mode only)   login
//	                        ──/api/… (the rest) ─────▶ Options.App (timeline, clips, login
//	                        │                          switches); 404 without an App
//	                        ──/ ─────────────────────▶ Options.App: GET /, /index.html,
//	                                                   /favicon.ico, /assets/ public; rest login
//
// "login" (protect) is, in this order: a session cookie (plus the
// X-CSRF-Token header for a method other than GET, HEAD, OPTIONS: 403
// without), else HTTP Basic credentials on GET and HEAD (Home Assistant,
// Prometheus, VLC) through the same limiter, else 401. The 401 carries
// WWW-Authenticate: Basic only for clients that are no browser (no
// Sec-Fetch-Mode) and for typed-in URLs (Sec-Fetch-Mode: navigate): the
// web app's own fetch and <img> requests must not pop up the browser's
// password dialog, it shows its login form. The handler behind reads the
// account with User(r).
//
// # Threat model
//
// With no account configured (open mode) nothing asks for a password, so
// Start refuses an address that is not loopback, and /api/session says
// "open" for the app's banner: only the doorbell itself reaches the API —
// and whatever forwards to it: an owner's `ssh -L 8080:localhost:8080`,
// or a laptop running `doorbelld --sim`. As soon as one account exists
// (package firmware/account), every picture, stream, status, metric and
// action needs it, on any address:
//
//   - Guessing: a wrong password, by login or Basic, is counted per
//     remote IP and per username; after 5, each try waits 1 s doubling to
//     60 s and is answered 429 with Retry-After before any hashing. At
//     most 2 hashes (19 MiB each) run at once. Only a known username is
//     logged with a failure (a password typed as a name stays out);
//     passwords, hashes, tokens and CSRF values are never logged.
//   - Stolen cookie: HttpOnly (no script reads it), SameSite=Strict
//     (no other site sends it), Secure under TLS; sessions end after 7
//     idle days or 30 days, and at logout; a login replaces the session
//     it came with (fixation). They live in memory: a restart logs
//     everyone out.
//   - Forged requests: a state-changing request with the cookie needs
//     the session's CSRF token in a header no other origin can set, on
//     top of CrossOriginProtection below; Basic credentials, which a
//     browser may replay by itself, are refused for them.
//   - Sniffing: without TLS, passwords and cookies cross the LAN in the
//     clear; set http.cert_file and http.key_file for anything beyond
//     loopback.
//
// What is left to defend against is the owner's browser, driven by any
// web page it shows, and anything that floods the port:
//
//   - DNS rebinding: a page on evil.example re-resolves its own name to
//     127.0.0.1 and reads http://evil.example:8080/api/snapshot.jpg as
//     same-origin. The browser still sends Host: evil.example, so every
//     request whose Host is not "localhost", 127.0.0.1, ::1, the address
//     the connection arrived on, the host name in Options.Listen or one of
//     Options.Hosts is refused with 421 Misdirected Request before any
//     handler runs. The check is on Host, which a page cannot set, not on
//     Origin, which same-origin GETs do not send. 421 rather than 403: the
//     request is not forbidden to its sender, it names a server this is
//     not, and a later 403 from accounts stays a different signal.
//   - Cross-site requests: a page may send a simple POST to
//     http://localhost:8080/api/sim/ring (Host passes) without reading the
//     answer. net/http's CrossOriginProtection refuses a non-safe method
//     that the browser marks as cross-site (Sec-Fetch-Site, else Origin)
//     with 403; curl and other non-browser clients are not affected.
//     The GET endpoints change nothing. (With accounts, the CSRF token
//     check above stands behind this one.)
//   - Reading or framing from another origin: the same-origin policy
//     already hides answers; Cross-Origin-Resource-Policy: same-origin
//     also keeps /api/snapshot.jpg out of another page's <img>, and
//     X-Frame-Options: DENY with CSP frame-ancestors 'none' out of frames.
//     Every answer carries X-Content-Type-Options: nosniff, Cache-Control:
//     no-store and Referrer-Policy: no-referrer. The Content-Security-Policy
//     allows nothing; Options.App replaces it with what its pages load.
//   - Exhaustion: at most Options.MaxConns connections are open; one more
//     is answered 503 "too many connections" with Retry-After (plain HTTP,
//     at most 16 being answered at once) or else closed as soon as it is
//     accepted (see limitListener for why not netutil.LimitListener). A connection that sends nothing, or a header
//     byte by byte, is closed after ReadHeaderTimeout; an idle keep-alive
//     one after IdleTimeout; a request header is at most MaxHeaderBytes.
//     So a client holding every slot holds it for seconds, not forever.
//
// Out of scope: a local process (it can read the camera itself), and a
// proxy in front: the limiter keys on the connection's address and
// trusts no X-Forwarded-For.
//
// Every refusal is counted in Stats, for the daemon's status page, and
// logged at most once a minute for each kind, with the number left out
// and the Host or path quoted and truncated (wire.Quote).
package web
