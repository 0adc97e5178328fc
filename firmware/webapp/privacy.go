package webapp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/doorbelld/doorbelld/firmware/audit"
)

// Features is GET /api/features: what this doorbell's page may offer
// beyond the basics, so it shows only the controls that work.
type Features struct {
	// DeleteRecordings: the Backend is a RecordingsDeleter (the "Delete
	// all recordings" button).
	DeleteRecordings bool `json:"delete_recordings"`
	// Audit: the access log can be read (Options.AuditLog).
	Audit bool `json:"audit"`
	// OpenSealed: encrypted clips can be played and downloaded here.
	OpenSealed bool `json:"open_sealed"`
	// Door: the Backend is a DoorOpener (the "Open door" button).
	Door bool `json:"door"`
	// Replies: the Backend is a Replier with at least one reply (the
	// "Quick replies" buttons).
	Replies bool `json:"replies"`
}

func (a *app) features(w http.ResponseWriter, _ *http.Request) {
	_, del := a.opts.Backend.(RecordingsDeleter)
	door, ok := a.opts.Backend.(DoorOpener)
	writeJSON(w, Features{DeleteRecordings: del, Audit: a.opts.AuditLog != nil, OpenSealed: a.opts.OpenSealed,
		Door: ok && door.HasDoor(), Replies: a.hasReplies()})
}

// Bounds of /api/audit?limit.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// auditList serves the newest audit entries, newest first, as a JSON
// array of audit.Entry.
func (a *app) auditList(w http.ResponseWriter, r *http.Request) {
	n := defaultAuditLimit
	if s := r.URL.Query().Get("limit"); s != "" || r.URL.Query().Has("limit") {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > maxAuditLimit {
			http.Error(w, fmt.Sprintf("limit %.20q: want a number from 1 to %d", s, maxAuditLimit), http.StatusBadRequest)
			return
		}
		n = v
	}
	if a.opts.AuditLog == nil {
		http.Error(w, "no audit trail", http.StatusServiceUnavailable)
		return
	}
	list := a.opts.AuditLog(n)
	if len(list) > n { // the contract says n; a sloppy source must not flood the page
		list = list[:n]
	}
	if list == nil {
		list = []audit.Entry{}
	}
	writeJSON(w, list)
}

// deleteRecordings serves POST /api/recordings/delete: every stored clip
// (and, in the daemon, retained snapshot) removed. 501 when the Backend
// cannot (nil, or not a RecordingsDeleter).
func (a *app) deleteRecordings(w http.ResponseWriter, r *http.Request) {
	d, ok := a.opts.Backend.(RecordingsDeleter)
	if !ok {
		http.Error(w, "delete recordings: not supported by this doorbell", http.StatusNotImplemented)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.DeleteTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, requesterKey{}, requester{actor: a.actor(r), from: r.RemoteAddr})
	n, err := d.DeleteRecordings(ctx)
	if err != nil {
		a.log.Warn("webapp: delete recordings failed", "user", a.user(r), "deleted", n, "err", err)
		http.Error(w, fmt.Sprintf("delete recordings: %v (%d clips deleted)", err, n), http.StatusServiceUnavailable)
		return
	}
	a.log.Info("webapp: recordings deleted", "user", a.user(r), "clips", n, "remote", r.RemoteAddr)
	writeJSON(w, map[string]int{"deleted": n})
}

// DoorOpener may be implemented by a Backend: POST /api/door/open (behind
// the login and the CSRF check) calls OpenDoor with the requester in the
// context (Requester), for the audit trail. HasDoor says whether a door
// opener is configured at all (GET /api/features "door").
type DoorOpener interface {
	HasDoor() bool
	OpenDoor(ctx context.Context) error
}

// openDoor serves POST /api/door/open: 202 when the relay pulses, 501
// without a door opener, 503 when the Backend refuses (the reason).
func (a *app) openDoor(w http.ResponseWriter, r *http.Request) {
	d, ok := a.opts.Backend.(DoorOpener)
	if !ok || !d.HasDoor() {
		http.Error(w, "open door: no door opener configured (gpio.door.line)", http.StatusNotImplemented)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.BackendTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, requesterKey{}, requester{actor: a.actor(r), from: r.RemoteAddr})
	if err := d.OpenDoor(ctx); err != nil {
		http.Error(w, "open door: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

type requesterKey struct{}

type requester struct{ actor, from string }

// Requester returns who asked for a Backend call made by the web app
// (RecordingsDeleter.DeleteRecordings, DoorOpener.OpenDoor,
// Replier.PlayReply), for the audit trail: actor as
// in Options.Audit ("web:alice", or "web" in open mode) and the remote
// address. ok is false for a context that did not come from the web app.
func Requester(ctx context.Context) (actor, from string, ok bool) {
	r, ok := ctx.Value(requesterKey{}).(requester)
	return r.actor, r.from, ok
}

// actor is the audit trail's name of r's user.
func (a *app) actor(r *http.Request) string {
	if u := a.opts.User(r); u != "" {
		return "web:" + u
	}
	return "web"
}

// audit hands e, with its Actor and From taken from r, to Options.Audit.
func (a *app) audit(r *http.Request, e audit.Entry) {
	if a.opts.Audit == nil {
		return
	}
	e.Actor = a.actor(r)
	e.From = r.RemoteAddr
	a.opts.Audit(e)
}
