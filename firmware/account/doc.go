// Package account holds doorbelld's user accounts and what guards them:
// password hashes, login sessions and the login rate limiter. The web app,
// the MJPEG/JPEG endpoints and the RTSP server all ask the same Store.
//
//	config users: ─▶ NewStore ─▶ Store ──Check(user, password)──▶ ok?
//	  {username,        (ParseHash        │  1. success cache: HMAC(user, password) seen
//	   password_hash}    each one)        │     in the last CacheTTL ──▶ true, no hashing
//	                                      │  2. at most MaxVerifying hashes at once
//	                                      │  3. Verify against the user's hash; an unknown
//	                                      │     user still costs one Verify (no timing oracle)
//	                                      └─ success ──▶ cached; failure never cached
//
//	Limiter: Allow(ip, user) before Check ──refused──▶ 429, Retry-After
//	         Failure(ip, user) after a wrong one; Success(ip, user) resets
//
//	Sessions: Create(user) ─▶ {Token, CSRF} ─▶ cookie; Lookup(token) on each
//	          request (idle and absolute expiry); Delete(token) at logout
//
// # Hashes
//
// HashPassword makes an argon2id hash in the PHC string format
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash) with OWASP's smallest
// recommended argon2id setting: 19 MiB, two passes, one lane. A Pi Zero
// has 512 MiB and one slow core: 19 MiB with two passes costs it roughly
// 100-200 ms, bearable at a login and ruinous for a guesser with a GPU
// (memory-hard); 64 MiB or more would squeeze the camera's RAM ring, and
// p=1 because the board has nothing to run parallel lanes on. Verify also
// takes bcrypt ($2a$, $2b$, $2y$), so a hash made by htpasswd works.
// ParseHash bounds the parameters a config may ask for (m ≤ 64 MiB,
// bcrypt cost ≤ 14) so that a typo cannot make each login take minutes.
//
// # Sessions
//
// Sessions live in memory only: a restart logs everyone out. Tokens are
// 32 random bytes (base64url); the map is keyed by their SHA-256, so a
// memory dump shows no usable cookie. A session ends after IdleTimeout
// without use (default 7 days) or MaxAge after login (default 30 days),
// whichever comes first; at most MaxPerUser per user (64) and MaxTotal in
// all (1024) are kept, the least recently used evicted first.
//
// # Rate limit
//
// Each remote IP (IPv6 by /64) and each username has a failure count: the
// first Free (5) failures cost nothing, each one after sets a backoff of
// 1 s doubling to 60 s during which every try for that key is refused
// without hashing. A success resets both keys. At most MaxKeys keys are
// remembered; the one idle longest goes first.
package account
