package webapp

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/timeline"
)

//go:embed assets
var assets embed.FS

// ClipStore is where clips are read. *storage.Store satisfies it.
type ClipStore interface {
	// List returns every clip, oldest first.
	List() []storage.Meta
	Lookup(id string) (storage.Meta, bool)
	// Open returns the clip's MP4; the caller closes it.
	Open(id string) (io.ReadCloser, error)
}

var _ ClipStore = (*storage.Store)(nil)

// Backend acts on the doorbell for the page's buttons.
type Backend interface {
	// SetSwitch turns switch name ("privacy" or "chime") on or off.
	SetSwitch(ctx context.Context, name string, on bool) error
	// TestChime rings the chime once.
	TestChime(ctx context.Context) error
	// Snapshot takes a snapshot event now.
	Snapshot(ctx context.Context) error
}

// SwitchReporter may be implemented by a Backend to tell the switches'
// state: GET /api/switches serves it, so the page shows the toggles right.
type SwitchReporter interface {
	Switches() map[string]bool
}

// RecordingsDeleter may be implemented by a Backend: POST
// /api/recordings/delete (behind the login and the CSRF check like every
// POST: firmware/web mounts the webapp behind it) calls it and answers
// {"deleted": n} (n clips removed). The daemon's implementation also
// clears retained snapshots and the timeline's pictures and audits it
// (Requester names who asked). Without it the route answers 501 and GET
// /api/features says "delete_recordings": false, so the page hides the
// button.
type RecordingsDeleter interface {
	DeleteRecordings(ctx context.Context) (int, error)
}

// Switches the page may set.
var switchNames = []string{"privacy", "chime"}

// Options configure the handler. Nil Timeline, Clips or Backend leave
// their routes answering 503 (a degraded mode: no camera, no storage).
type Options struct {
	Timeline *timeline.Timeline
	Clips    ClipStore
	Backend  Backend
	// User names the logged-in user of a request, for the audit log;
	// "" in open mode. Default: always "".
	User   func(*http.Request) string
	Logger *slog.Logger    // default slog.Default()
	Clock  clockwork.Clock // paces playback and SSE pings; default the real clock

	// PingInterval is how often an idle SSE stream gets a comment, so
	// proxies and the browser see it alive. Default 15s.
	PingInterval time.Duration
	// StallTimeout bounds how long one write of a long answer (an SSE
	// message, a clip frame, a download chunk) may take. Default 10s.
	StallTimeout time.Duration
	// MaxStreams bounds the long answers (SSE, playback, downloads)
	// running at once; one more gets 503. Default 8.
	MaxStreams int
	// MaxClipBytes bounds a clip read into memory to play it, when the
	// store's reader cannot seek. Default 256 MiB.
	MaxClipBytes int64
	// BackendTimeout bounds a Backend call. Default 5s.
	BackendTimeout time.Duration
	// Masks are the privacy masks (privacy.masks) as polygons of points
	// {x, y} in fractions of the frame, for GET /api/masks: the page can
	// draw them over the live view, so the owner sees where they fall.
	Masks [][][2]float64

	// Audit records an access to a picture: the webapp calls it for every
	// snapshot fetched (GET /api/events/{id}/snapshot.jpg), every clip
	// downloaded (GET /api/clips/{id}.mp4) and every playback (GET
	// /api/clips/{id}/play.mjpeg), with Action audit.ActionSnapshot /
	// audit.ActionClipFetch (Reason "download" or "play"), Actor
	// "web:"+user (or "web" in open mode), From r.RemoteAddr, Object the
	// event or clip id, Outcome audit.OK — or audit.Refused with a Reason
	// when the answer is a refusal (a sealed clip this device cannot
	// open). Not found is not audited: no picture was there; nor is HEAD,
	// which carries none. A playback is recorded when the stream ends,
	// with Duration (seconds, on Clock) of how long it played. nil:
	// nothing recorded.
	Audit func(audit.Entry)
	// AuditLog returns the newest n audit entries, newest first: GET
	// /api/audit?limit=N (default 100, max 1000) serves them as JSON;
	// nil: 503 "no audit trail".
	AuditLog func(n int) []audit.Entry
	// OpenSealed: sealed clips (storage.Meta.Encryption != "") can be
	// opened on this device (privacy.identity_file is set): Clips.Open
	// then returns their plaintext MP4 as an io.ReadSeeker, so download
	// and playback work as for a plain clip. false: they are listed with
	// "encrypted": true, "playable": false, "downloadable": false, and
	// their download and playback answer 409 Conflict with a text that
	// says how the owner gets them.
	OpenSealed bool
	// DeleteTimeout bounds RecordingsDeleter.DeleteRecordings, which may
	// remove many files from a slow card. Default 60s.
	DeleteTimeout time.Duration
}

func (o *Options) ensureDefaults() {
	if o.User == nil {
		o.User = func(*http.Request) string { return "" }
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 15 * time.Second
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 10 * time.Second
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 8
	}
	if o.MaxClipBytes <= 0 {
		o.MaxClipBytes = 256 << 20
	}
	if o.BackendTimeout <= 0 {
		o.BackendTimeout = 5 * time.Second
	}
	if o.DeleteTimeout <= 0 {
		o.DeleteTimeout = 60 * time.Second
	}
}

// ShellCSP is the Content-Security-Policy the shell is served with. The
// page needs nothing beyond its own origin.
const ShellCSP = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type app struct {
	opts    Options
	log     *slog.Logger
	clk     clockwork.Clock
	streams chan struct{} // semaphore of long answers
	status  *hub
}

// New returns the web app's handler, to be mounted at "/".
func New(opts Options) http.Handler {
	opts.ensureDefaults()
	a := &app{
		opts:    opts,
		log:     opts.Logger,
		clk:     opts.Clock,
		streams: make(chan struct{}, opts.MaxStreams),
		status:  newHub(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.shell)
	mux.HandleFunc("GET /assets/{file}", a.asset)
	mux.HandleFunc("GET /api/events", a.events)
	mux.HandleFunc("GET /api/events/stream", a.stream)
	mux.HandleFunc("GET /api/events/{id}/snapshot.jpg", a.eventSnapshot)
	mux.HandleFunc("GET /api/clips", a.clips)
	mux.HandleFunc("GET /api/clips/{file}", a.download)
	mux.HandleFunc("GET /api/clips/{id}/play.mjpeg", a.play)
	mux.HandleFunc("GET /api/switches", a.switches)
	mux.HandleFunc("GET /api/masks", a.masks)
	mux.HandleFunc("POST /api/switch/{name}", a.setSwitch)
	mux.HandleFunc("POST /api/chime/test", a.testChime)
	mux.HandleFunc("POST /api/snapshot", a.snapshot)
	mux.HandleFunc("GET /api/features", a.features)
	mux.HandleFunc("POST /api/door/open", a.openDoor)
	mux.HandleFunc("GET /api/audit", a.auditList)
	mux.HandleFunc("POST /api/recordings/delete", a.deleteRecordings)
	mux.HandleFunc("GET /api/replies", a.replies)
	mux.HandleFunc("POST /api/reply/{name}", a.playReply)
	return mux
}

// idRE is storage's rule for clip ids; event ids (xid) fit it too.
var idRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// validID reports whether s may be looked up as a clip or event id.
func validID(s string) bool { return idRE.MatchString(s) }

func (a *app) user(r *http.Request) string {
	if u := a.opts.User(r); u != "" {
		return u
	}
	return "(open mode)"
}

func (a *app) shell(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, "webapp: page missing from the build", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Security-Policy", ShellCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

// assetRE is what an asset's file name may be: no dot first, no slash.
var assetRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func (a *app) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !assetRE.MatchString(name) {
		http.Error(w, "bad asset name", http.StatusBadRequest)
		return
	}
	b, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil || name == "index.html" {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// maxLimit bounds /api/events?limit.
const maxLimit = 1000

func (a *app) events(w http.ResponseWriter, r *http.Request) {
	if a.opts.Timeline == nil {
		http.Error(w, "no event timeline", http.StatusServiceUnavailable)
		return
	}
	n := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > maxLimit {
			http.Error(w, fmt.Sprintf("limit %.20q: want a number from 1 to %d", s, maxLimit), http.StatusBadRequest)
			return
		}
		n = v
	}
	writeJSON(w, a.opts.Timeline.List(n))
}

func (a *app) eventSnapshot(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		http.Error(w, "bad event id: want 1-64 of A-Z a-z 0-9 -", http.StatusBadRequest)
		return
	}
	if a.opts.Timeline == nil {
		http.Error(w, "no event timeline", http.StatusServiceUnavailable)
		return
	}
	b, ok := a.opts.Timeline.Snapshot(id)
	if !ok {
		http.Error(w, "no snapshot for this event", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
	a.audit(r, audit.Entry{Action: audit.ActionSnapshot, Object: id, Outcome: audit.OK})
}

// masks serves the privacy masks' polygons: {"masks": [[[x, y], ...], ...]}.
func (a *app) masks(w http.ResponseWriter, _ *http.Request) {
	m := a.opts.Masks
	if m == nil {
		m = [][][2]float64{}
	}
	writeJSON(w, map[string]any{"masks": m})
}

func (a *app) switches(w http.ResponseWriter, r *http.Request) {
	sr, ok := a.opts.Backend.(SwitchReporter)
	if !ok {
		http.Error(w, "switch state not available", http.StatusNotFound)
		return
	}
	writeJSON(w, sr.Switches())
}

// maxBody bounds a POST body.
const maxBody = 1 << 10

func (a *app) setSwitch(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !slices.Contains(switchNames, name) {
		http.Error(w, fmt.Sprintf("unknown switch %.20q: want privacy or chime", name), http.StatusNotFound)
		return
	}
	var body struct {
		On *bool `json:"on"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.On == nil || dec.More() {
		msg := `body: want {"on": true} or {"on": false}`
		if err != nil {
			msg += ": " + err.Error()
		}
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	if a.opts.Backend == nil {
		http.Error(w, "switches not available", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.BackendTimeout)
	defer cancel()
	if err := a.opts.Backend.SetSwitch(ctx, name, *body.On); err != nil {
		a.log.Warn("webapp: set switch failed", "user", a.user(r), "switch", name, "on", *body.On, "err", err)
		http.Error(w, fmt.Sprintf("set %s: %v", name, err), http.StatusServiceUnavailable)
		return
	}
	a.log.Info("webapp: switch set", "user", a.user(r), "switch", name, "on", *body.On, "remote", r.RemoteAddr)
	a.status.publish(map[string]any{"switch": name, "on": *body.On})
	writeJSON(w, map[string]bool{"on": *body.On})
}

func (a *app) testChime(w http.ResponseWriter, r *http.Request) {
	a.action(w, r, "test chime", func(ctx context.Context, b Backend) error { return b.TestChime(ctx) })
}

func (a *app) snapshot(w http.ResponseWriter, r *http.Request) {
	a.action(w, r, "snapshot", func(ctx context.Context, b Backend) error { return b.Snapshot(ctx) })
}

func (a *app) action(w http.ResponseWriter, r *http.Request, what string, f func(context.Context, Backend) error) {
	if a.opts.Backend == nil {
		http.Error(w, what+": not available", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.BackendTimeout)
	defer cancel()
	if err := f(ctx, a.opts.Backend); err != nil {
		a.log.Warn("webapp: "+what+" failed", "user", a.user(r), "err", err)
		http.Error(w, fmt.Sprintf("%s: %v", what, err), http.StatusServiceUnavailable)
		return
	}
	a.log.Info("webapp: "+what, "user", a.user(r), "remote", r.RemoteAddr)
	writeJSON(w, map[string]bool{"ok": true})
}

// acquire takes a long-answer slot, or answers 503 and reports false.
func (a *app) acquire(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case a.streams <- struct{}{}:
		return func() { <-a.streams }, true
	default:
		w.Header().Set("Retry-After", "5")
		http.Error(w, fmt.Sprintf("too many streams open (%d): close one", cap(a.streams)), http.StatusServiceUnavailable)
		return nil, false
	}
}

// extendWrite moves w's write deadline to StallTimeout from now. A
// writer that cannot (httptest's recorder) is fine: nothing to extend.
func (a *app) extendWrite(rc *http.ResponseController) error {
	err := rc.SetWriteDeadline(time.Now().Add(a.opts.StallTimeout))
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}

// hub fans small status messages (switch changes) out to SSE streams; a
// stream that is behind loses them (the page re-reads state on reconnect).
type hub struct {
	mu   sync.Mutex
	subs map[chan any]struct{}
}

func newHub() *hub { return &hub{subs: make(map[chan any]struct{})} }

func (h *hub) subscribe() (chan any, func()) {
	ch := make(chan any, 8)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *hub) publish(v any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- v:
		default:
		}
	}
}
