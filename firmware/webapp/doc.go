// Package webapp is doorbelld's local web app: the page (live view,
// timeline, clips, status, switches) and the API it needs beyond what
// package firmware/web serves itself. firmware/web mounts New's handler at
// "/" behind its guard and its login, and serves /api/status,
// /api/snapshot.jpg, /api/live.mjpeg and the session endpoints.
//
//	browser ──GET / , /assets/* ─────────────────▶ embedded shell (no login needed; no inline code)
//	        ──GET /api/events?limit=N ───────────▶ Timeline.List (newest first)
//	        ──GET /api/events/stream (SSE) ◀──────── Timeline.Subscribe + switch changes, ping every 15 s
//	        ──GET /api/events/{id}/snapshot.jpg ─▶ Timeline.Snapshot ───────────────────────▶ Audit
//	        ──GET /api/clips ────────────────────▶ ClipStore.List (newest first; "encrypted")
//	        ──GET /api/clips/{id}.mp4 ───────────▶ ClipStore.Open ──▶ download (attachment) ─▶ Audit
//	        ──GET /api/clips/{id}/play.mjpeg ────▶ ClipStore.Open ──▶ demux MP4 ──paced by Clock──▶
//	                                                multipart/x-mixed-replace JPEG parts ─(end)▶ Audit
//	            (a sealed clip without OpenSealed: 409 "encrypted for its owner" ────────────▶ Audit refused)
//	        ──GET /api/masks ────────────────────▶ Options.Masks (drawn over the live view on request)
//	        ──GET /api/features ─────────────────▶ which optional parts exist (delete, audit, sealed, door, replies)
//	        ──GET /api/audit?limit=N ────────────▶ Options.AuditLog (newest first)
//	        ──POST /api/switch/{privacy|chime} ──▶ Backend.SetSwitch   (audit log: who, what)
//	        ──POST /api/chime/test ──────────────▶ Backend.TestChime
//	        ──POST /api/snapshot ────────────────▶ Backend.Snapshot
//	        ──POST /api/recordings/delete ───────▶ RecordingsDeleter.DeleteRecordings ──▶ {"deleted": n}
//	        ──POST /api/door/open ───────────────▶ DoorOpener.OpenDoor (+Requester) ──▶ 202
//	        ──GET /api/replies ──────────────────▶ Replier.Replies ──▶ {"replies": [names, config order]}
//	        ──POST /api/reply/{name} ────────────▶ name ^[a-z0-9_]{1,32}$ (400) ─▶ known? (404)
//	                                                ─▶ Replier.PlayReply (+Requester) ──▶ 202 (503: its reason)
//
// Privacy. Every picture handed out (snapshot, download, playback) is
// reported to Options.Audit with who, from where and, for a playback, for
// how long; the page shows the newest entries (GET /api/audit). A clip
// sealed for the owner (storage.Meta.Encryption) is served only when this
// device holds the key (Options.OpenSealed); otherwise the answer is 409
// naming how the owner gets it (doorbellctl clips pull --identity), and
// the refusal is audited too.
//
// Browsers do not play MJPEG in MP4, so the server replays a clip's JPEG
// samples at their recorded timing as an MJPEG stream that an <img>
// shows; the MP4 itself is offered for download. H.264 clips are
// answered 415: download them.
//
// Security: the handler trusts firmware/web for authentication, the CSRF
// token check and the Host/Origin checks; it adds strict input checks of
// its own. Ids in paths are checked (1-64 of A-Z a-z 0-9 -) before any
// lookup, so "../" never reaches a store. The page has no inline script
// or style, so the shell is served with a Content-Security-Policy of
// default-src 'self'. Who played, downloaded or switched what is logged
// (Options.User); no secret is logged.
//
// Long answers (SSE, playback, downloads) move the connection's write
// deadline forward as they go, since the server's WriteTimeout bounds a
// whole response, and at most Options.MaxStreams of them run at once.
package webapp
