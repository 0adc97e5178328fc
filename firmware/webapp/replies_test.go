package webapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// replyPlay is one PlayReply call as the Backend saw it.
type replyPlay struct {
	Name, Actor, From string
	FromWebApp        bool // Requester's ok
	Deadline          bool // the context had one
}

// replyingBackend is a Backend with quick replies; every PlayReply is
// recorded and handed to played.
type replyingBackend struct {
	Backend
	played chan replyPlay

	mu      sync.Mutex
	replies []string
	err     error
}

var _ Replier = (*replyingBackend)(nil)

func newReplyingBackend(be Backend, replies ...string) *replyingBackend {
	return &replyingBackend{Backend: be, replies: replies, played: make(chan replyPlay, 16)}
}

func (b *replyingBackend) Replies() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.replies
}

func (b *replyingBackend) setReplies(r ...string) {
	b.mu.Lock()
	b.replies = r
	b.mu.Unlock()
}

func (b *replyingBackend) setErr(err error) {
	b.mu.Lock()
	b.err = err
	b.mu.Unlock()
}

func (b *replyingBackend) PlayReply(ctx context.Context, name string) error {
	actor, from, ok := Requester(ctx)
	_, dl := ctx.Deadline()
	b.mu.Lock()
	err := b.err
	b.mu.Unlock()
	select {
	case b.played <- replyPlay{Name: name, Actor: actor, From: from, FromWebApp: ok, Deadline: dl}:
	default:
	}
	return err
}

// next returns the next PlayReply call, failing after 20 s.
func (b *replyingBackend) next(t *testing.T) replyPlay {
	t.Helper()
	select {
	case p := <-b.played:
		return p
	case <-time.After(20 * time.Second):
		t.Fatal("PlayReply not called within 20 s")
	}
	return replyPlay{}
}

// none fails if a play is waiting now.
func (b *replyingBackend) none(t *testing.T, after string) {
	t.Helper()
	select {
	case p := <-b.played:
		t.Errorf("after %s: PlayReply called: %+v", after, p)
	default:
	}
}

// deletingReplier is the browser test's Backend: it deletes recordings
// and plays replies.
type deletingReplier struct {
	*deletingBackend
	*replyingBackend
}

// Both embed a Backend; the deleter's is the real one.
func (b deletingReplier) SetSwitch(ctx context.Context, name string, on bool) error {
	return b.deletingBackend.SetSwitch(ctx, name, on)
}
func (b deletingReplier) TestChime(ctx context.Context) error {
	return b.deletingBackend.TestChime(ctx)
}
func (b deletingReplier) Snapshot(ctx context.Context) error { return b.deletingBackend.Snapshot(ctx) }

var (
	_ RecordingsDeleter = deletingReplier{}
	_ Replier           = deletingReplier{}
)

func features(t *testing.T, f *fixture) Features {
	t.Helper()
	res, body := get(t, f.srv, "GET", "/api/features", "")
	var ft Features
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &ft) != nil {
		t.Fatalf("features = %d %q", res.StatusCode, body)
	}
	return ft
}

func TestRepliesList(t *testing.T) {
	be := newReplyingBackend(newFakeBackend(), "leave_at_door", "be_right_there", "no_thanks")
	f := newFixture(t, func(o *Options) { o.Backend = be })
	if !features(t, f).Replies {
		t.Error(`features "replies" false with three replies`)
	}
	res, body := get(t, f.srv, "GET", "/api/replies", "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" ||
		body != `{"replies":["leave_at_door","be_right_there","no_thanks"]}`+"\n" {
		t.Errorf("GET /api/replies = %d %s %q, want the names in config order", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		if res, _ := get(t, f.srv, m, "/api/replies", ""); res.StatusCode != 405 {
			t.Errorf("%s /api/replies = %d, want 405", m, res.StatusCode)
		}
	}

	// No replies configured: nothing to show, an empty list.
	for name, replies := range map[string][]string{"nil": nil, "empty": {}} {
		be.setReplies(replies...)
		if features(t, f).Replies {
			t.Errorf(`%s: features "replies" true without a reply`, name)
		}
		if res, body := get(t, f.srv, "GET", "/api/replies", ""); res.StatusCode != 200 || body != `{"replies":[]}`+"\n" {
			t.Errorf("%s: GET /api/replies = %d %q, want an empty list", name, res.StatusCode, body)
		}
	}

	// A Backend that is no Replier, or none: 501, and the page is told.
	for name, b := range map[string]Backend{"plain backend": newFakeBackend(), "no backend": nil} {
		f := newFixture(t, func(o *Options) { o.Backend = b })
		if features(t, f).Replies {
			t.Errorf(`%s: features "replies" true`, name)
		}
		if res, body := get(t, f.srv, "GET", "/api/replies", ""); res.StatusCode != 501 || !strings.Contains(body, "not supported") {
			t.Errorf("%s: GET /api/replies = %d %q, want 501", name, res.StatusCode, body)
		}
		if res, body := get(t, f.srv, "POST", "/api/reply/leave_at_door", ""); res.StatusCode != 501 || !strings.Contains(body, "not supported") {
			t.Errorf("%s: POST /api/reply = %d %q, want 501", name, res.StatusCode, body)
		}
	}
}

func TestPlayReply(t *testing.T) {
	be := newReplyingBackend(newFakeBackend(), "leave_at_door", "be_right_there")
	f := newFixture(t, func(o *Options) { o.Backend = be })

	res, body := do(t, f, "POST", "/api/reply/be_right_there", asUser("alice"))
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("play = %d %q, want 202", res.StatusCode, body)
	}
	p := be.next(t)
	if p.Name != "be_right_there" || p.Actor != "web:alice" || !strings.HasPrefix(p.From, "127.0.0.1:") || !p.FromWebApp || !p.Deadline {
		t.Errorf("PlayReply saw %+v, want be_right_there from web:alice at 127.0.0.1 with a deadline", p)
	}
	if res, _ := do(t, f, "POST", "/api/reply/leave_at_door"); res.StatusCode != 202 {
		t.Fatalf("open-mode play = %d", res.StatusCode)
	}
	if p := be.next(t); p.Name != "leave_at_door" || p.Actor != "web" || !p.FromWebApp {
		t.Errorf("open-mode PlayReply saw %+v, want leave_at_door from web", p)
	}
	if l := f.logs.String(); !strings.Contains(l, "reply played") || !strings.Contains(l, "reply=be_right_there") || !strings.Contains(l, "user=alice") {
		t.Errorf("play not logged: %s", l)
	}

	if res, _ := get(t, f.srv, "GET", "/api/reply/leave_at_door", ""); res.StatusCode != 405 {
		t.Errorf("GET /api/reply/leave_at_door = %d, want 405", res.StatusCode)
	}
	be.none(t, "GET")

	// Malformed names never reach the Backend, nor its list.
	long := strings.Repeat("a", 33)
	for _, name := range []string{"Leave", "leave-at-door", "leave%20door", "%2e%2e", "a.b", long, "%C3%A9t%C3%A9", "x%00"} {
		res, body := get(t, f.srv, "POST", "/api/reply/"+name, "")
		if res.StatusCode != 400 || !strings.Contains(body, "reply name") || !strings.Contains(body, "a-z 0-9 _") {
			t.Errorf("POST /api/reply/%s = %d %q, want 400 naming the rule", name, res.StatusCode, body)
		}
	}
	if res, _ := get(t, f.srv, "POST", "/api/reply/"+long[:32], ""); res.StatusCode != 404 {
		t.Errorf("32-letter name = %d, want 404 (well-formed, unknown)", res.StatusCode)
	}
	be.none(t, "malformed names")

	// Well-formed but not configured: 404 with the known names.
	res, body = get(t, f.srv, "POST", "/api/reply/go_away", "")
	if res.StatusCode != 404 || !strings.Contains(body, `"go_away"`) || !strings.Contains(body, "leave_at_door, be_right_there") {
		t.Errorf("unknown reply = %d %q, want 404 naming the known ones", res.StatusCode, body)
	}
	be.setReplies()
	if res, body := get(t, f.srv, "POST", "/api/reply/leave_at_door", ""); res.StatusCode != 404 || !strings.Contains(body, "none configured") {
		t.Errorf("no replies configured = %d %q, want 404", res.StatusCode, body)
	}
	be.none(t, "unknown names")

	// The Backend refuses: 503 with its reason.
	be.setReplies("leave_at_door")
	be.setErr(errors.New("speaker hw:1,0 unavailable"))
	res, body = do(t, f, "POST", "/api/reply/leave_at_door", asUser("bob"))
	if res.StatusCode != 503 || !strings.Contains(body, "play reply leave_at_door") || !strings.Contains(body, "speaker hw:1,0 unavailable") {
		t.Errorf("refused play = %d %q, want 503 with the reason", res.StatusCode, body)
	}
	if p := be.next(t); p.Name != "leave_at_door" || p.Actor != "web:bob" {
		t.Errorf("refused PlayReply saw %+v", p)
	}
	if l := f.logs.String(); !strings.Contains(l, "play reply failed") || !strings.Contains(l, "speaker hw:1,0 unavailable") {
		t.Errorf("refusal not logged: %s", l)
	}
}

// BenchmarkPlayReply measures POST /api/reply/{name} through the whole
// handler (mux, name check, lookup, Requester, log) against a baseline,
// measured in the same run, of the mux answering 202 by itself.
func BenchmarkPlayReply(b *testing.B) {
	names := make([]string, 8)
	for i := range names {
		names[i] = fmt.Sprintf("reply_%d", i)
	}
	be := newReplyingBackend(newFakeBackend(), names...)
	be.played = nil // a nil channel: never ready, the select drops
	h := New(Options{Backend: be, Logger: testLogger(discard{})})
	base := http.NewServeMux()
	base.HandleFunc("POST /api/reply/{name}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	run := func(h http.Handler, n int) {
		req := httptest.NewRequest("POST", "/api/reply/reply_7", nil)
		for range n {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusAccepted {
				b.Fatalf("= %d %s", w.Code, w.Body)
			}
		}
	}
	b.ReportAllocs()
	start := time.Now()
	run(base, b.N)
	baseline := time.Now().Sub(start)
	b.ResetTimer()
	run(h, b.N)
	b.StopTimer()
	if baseline > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(baseline), "x-bare-mux")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
