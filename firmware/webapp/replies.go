package webapp

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Replier may be implemented by a Backend: the doorbell has quick replies
// (audio.replies) and a speaker. GET /api/replies lists them and POST
// /api/reply/{name} (behind the login and the CSRF check like every
// POST) plays one. Without it, or with no replies, GET /api/features
// says "replies": false and the page shows no reply buttons; the routes
// answer 501.
type Replier interface {
	// Replies returns the reply names in the config's order (may be
	// empty: then the page shows nothing).
	Replies() []string
	// PlayReply plays reply name on the door's speaker (the newest
	// replaces one playing). The context carries the Requester (actor,
	// from), like OpenDoor's.
	PlayReply(ctx context.Context, name string) error
}

// replyNameRE is config's rule for a quick reply's name (audio.replies).
var replyNameRE = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// replier returns the Backend as a Replier, if it is one.
func (a *app) replier() (Replier, bool) {
	r, ok := a.opts.Backend.(Replier)
	return r, ok
}

// hasReplies is GET /api/features "replies": a Replier with at least one reply.
func (a *app) hasReplies() bool {
	r, ok := a.replier()
	return ok && len(r.Replies()) > 0
}

// replies serves GET /api/replies: {"replies": [names in config order]}.
func (a *app) replies(w http.ResponseWriter, _ *http.Request) {
	rp, ok := a.replier()
	if !ok {
		http.Error(w, "quick replies: not supported by this doorbell (no speaker or audio.replies)", http.StatusNotImplemented)
		return
	}
	names := rp.Replies()
	if names == nil {
		names = []string{}
	}
	writeJSON(w, map[string][]string{"replies": names})
}

// playReply serves POST /api/reply/{name}: 202 once the Backend took the
// reply, 400 for a malformed name, 404 for one not configured (the
// answer names those that are), 501 without a Replier, 503 with the
// Backend's reason when it refuses.
func (a *app) playReply(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !replyNameRE.MatchString(name) {
		http.Error(w, fmt.Sprintf("reply name %.40q: want 1-32 of a-z 0-9 _", name), http.StatusBadRequest)
		return
	}
	rp, ok := a.replier()
	if !ok {
		http.Error(w, "play reply: not supported by this doorbell (no speaker or audio.replies)", http.StatusNotImplemented)
		return
	}
	known := rp.Replies()
	if !slices.Contains(known, name) {
		list := "none configured (audio.replies)"
		if len(known) > 0 {
			list = "known: " + strings.Join(known, ", ")
		}
		http.Error(w, fmt.Sprintf("unknown reply %q: %s", name, list), http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.BackendTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, requesterKey{}, requester{actor: a.actor(r), from: r.RemoteAddr})
	if err := rp.PlayReply(ctx, name); err != nil {
		a.log.Warn("webapp: play reply failed", "user", a.user(r), "reply", name, "err", err)
		http.Error(w, fmt.Sprintf("play reply %s: %v", name, err), http.StatusServiceUnavailable)
		return
	}
	a.log.Info("webapp: reply played", "user", a.user(r), "reply", name, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusAccepted)
}
