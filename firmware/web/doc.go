// Package web is doorbelld's local HTTP API: health, status and the latest
// camera frame, and — in sim mode only — the endpoints of package
// firmware/sim that press the simulated button and trip the simulated PIR.
//
//	client ──TCP──▶ limitListener    at most MaxConns open; one more is closed at once, counted
//	                     │
//	                     ▼
//	                http.Server      ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout,
//	                     │           MaxHeaderBytes
//	                     ▼
//	                   guard         security headers on every answer;
//	                     │           Host not allowed ──▶ 421, cross-site POST ──▶ 403 (counted)
//	                     ▼
//	                    mux ──GET /healthz ──────────▶ "ok"
//	                        ──GET /api/status ───────▶ Backend.Status
//	                        ──GET /api/snapshot.jpg ─▶ Backend.LatestJPEG
//	                        ──/api/sim/ ─────────────▶ Options.Sim (sim mode only)
//
// # Threat model
//
// The API has no authentication yet (a later issue adds accounts). Until
// it has, the config refuses a listen address that is not loopback, so
// only the doorbell itself reaches the API — and whatever forwards to it:
// an owner's `ssh -L 8080:localhost:8080`, or a laptop running
// `doorbelld --sim`. What is left to defend against is the owner's
// browser, driven by any web page it shows, and anything that floods the
// port:
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
//     The GET endpoints change nothing.
//   - Reading or framing from another origin: the same-origin policy
//     already hides answers; Cross-Origin-Resource-Policy: same-origin
//     also keeps /api/snapshot.jpg out of another page's <img>, and
//     X-Frame-Options: DENY with CSP frame-ancestors 'none' out of frames.
//     Every answer carries X-Content-Type-Options: nosniff, Cache-Control:
//     no-store and Referrer-Policy: no-referrer.
//   - Exhaustion: at most Options.MaxConns connections are open; one more
//     is closed as soon as it is accepted (see limitListener for why not
//     netutil.LimitListener). A connection that sends nothing, or a header
//     byte by byte, is closed after ReadHeaderTimeout; an idle keep-alive
//     one after IdleTimeout; a request header is at most MaxHeaderBytes.
//     So a client holding every slot holds it for seconds, not forever.
//
// Out of scope: a local process (it can read the camera itself), and
// secrecy on the wire (loopback has no wire; TLS comes with accounts).
//
// Every refusal is counted in Stats, for the daemon's status page, and
// logged at most once a minute for each kind, with the number left out
// and the Host or path quoted and truncated (wire.Quote).
package web
