package webapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture/cliptest"
	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/capture/seal/sealtest"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/audit"
)

// auditSpy is an Options.Audit that hands every entry to a channel.
type auditSpy chan audit.Entry

func (s auditSpy) record(e audit.Entry) { s <- e }

// next returns the next entry, failing after 20 s.
func (s auditSpy) next(t *testing.T) audit.Entry {
	t.Helper()
	select {
	case e := <-s:
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no audit entry within 20 s")
	}
	return audit.Entry{}
}

// none fails if an entry is waiting now.
func (s auditSpy) none(t *testing.T, after string) {
	t.Helper()
	select {
	case e := <-s:
		t.Errorf("after %s: unexpected audit entry %+v", after, e)
	default:
	}
}

// checkEntry compares e's fields with want's, and its From with the
// loopback address the test client uses.
func checkEntry(t *testing.T, what string, e, want audit.Entry) {
	t.Helper()
	if !strings.HasPrefix(e.From, "127.0.0.1:") {
		t.Errorf("%s: From %q, want the client's 127.0.0.1:port", what, e.From)
	}
	e.From, e.Duration, want.Duration = "", 0, 0
	if e != want {
		t.Errorf("%s: audit entry\n %+v\nwant\n %+v", what, e, want)
	}
}

func asUser(user string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("X-Test-User", user) }
}

// do sends a request, changed by mods, and returns the answer, body read.
func do(t *testing.T, f *fixture, method, path string, mods ...func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		m(req)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestAuditList(t *testing.T) {
	log, err := audit.Open("", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	f := newFixture(t, func(o *Options) { o.AuditLog = log.Recent })
	if res, body := get(t, f.srv, "GET", "/api/audit", ""); res.StatusCode != 200 || body != "[]\n" {
		t.Errorf("empty trail = %d %q, want []", res.StatusCode, body)
	}
	for i := range 150 {
		log.Record(audit.Entry{Action: audit.ActionSnapshot, Actor: "web:alice", Object: fmt.Sprintf("ev%03d", i), Outcome: audit.OK})
	}
	log.Record(audit.Entry{Action: audit.ActionClipFetch, Actor: "web:<b>bob</b>", Object: "c1", Outcome: audit.Refused, Reason: "play: encrypted"})
	res, body := get(t, f.srv, "GET", "/api/audit?limit=2", "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("= %d %s", res.StatusCode, body)
	}
	var list []audit.Entry
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Seq != 151 || list[0].Actor != "web:<b>bob</b>" || list[0].Outcome != audit.Refused ||
		list[0].Reason != "play: encrypted" || list[1].Object != "ev149" || list[0].Prev != list[1].Hash() {
		t.Errorf("limit=2: %s", body)
	}
	if _, body := get(t, f.srv, "GET", "/api/audit", ""); strings.Count(body, `"seq"`) != defaultAuditLimit {
		t.Errorf("default limit: %d entries, want %d", strings.Count(body, `"seq"`), defaultAuditLimit)
	}
	if _, body := get(t, f.srv, "GET", "/api/audit?limit=1000", ""); strings.Count(body, `"seq"`) != 151 {
		t.Errorf("limit=1000: %d entries, want all 151", strings.Count(body, `"seq"`))
	}
	for _, q := range []string{"0", "-1", "1001", "x", "1e2", ""} {
		if res, body := get(t, f.srv, "GET", "/api/audit?limit="+q, ""); res.StatusCode != 400 || !strings.Contains(body, "limit") || !strings.Contains(body, "1 to 1000") {
			t.Errorf("limit=%q: %d %q, want 400 naming the limit", q, res.StatusCode, body)
		}
	}
	if res, _ := get(t, f.srv, "POST", "/api/audit", ""); res.StatusCode != 405 {
		t.Errorf("POST /api/audit = %d, want 405", res.StatusCode)
	}

	// A source that gives more than asked is cut to the limit.
	f = newFixture(t, func(o *Options) { o.AuditLog = func(int) []audit.Entry { return make([]audit.Entry, 5) } })
	if _, body := get(t, f.srv, "GET", "/api/audit?limit=3", ""); strings.Count(body, `"seq"`) != 3 {
		t.Errorf("over-long answer not cut: %s", body)
	}
	f = newFixture(t, nil)
	if res, body := get(t, f.srv, "GET", "/api/audit", ""); res.StatusCode != 503 || !strings.Contains(body, "no audit trail") {
		t.Errorf("no AuditLog = %d %q", res.StatusCode, body)
	}
}

func TestAuditSnapshotAndDownload(t *testing.T) {
	spy := make(auditSpy, 16)
	f := newFixture(t, func(o *Options) { o.Audit = spy.record })
	_ = f.tl.Add(ev(1))
	_ = f.tl.Add(ev(2))
	_ = f.tl.SetSnapshot("ev001", cliptest.Image(mjpegFormat, 1), t0)
	putClip(t, f.store, "c1", cliptest.Frames(mjpegFormat, 5, t0))

	if res, _ := do(t, f, "GET", "/api/events/ev001/snapshot.jpg", asUser("alice")); res.StatusCode != 200 {
		t.Fatalf("snapshot = %d", res.StatusCode)
	}
	checkEntry(t, "snapshot", spy.next(t), audit.Entry{Action: audit.ActionSnapshot, Actor: "web:alice", Object: "ev001", Outcome: audit.OK})
	if res, _ := do(t, f, "GET", "/api/events/ev001/snapshot.jpg"); res.StatusCode != 200 {
		t.Fatalf("snapshot = %d", res.StatusCode)
	}
	checkEntry(t, "snapshot in open mode", spy.next(t), audit.Entry{Action: audit.ActionSnapshot, Actor: "web", Object: "ev001", Outcome: audit.OK})

	if res, body := do(t, f, "GET", "/api/clips/c1.mp4", asUser("bob")); res.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("download = %d", res.StatusCode)
	}
	checkEntry(t, "download", spy.next(t), audit.Entry{Action: audit.ActionClipFetch, Actor: "web:bob", Object: "c1", Outcome: audit.OK, Reason: "download"})

	// No picture, no entry: unknown, without snapshot, bad id, HEAD.
	for _, p := range []string{"/api/events/ev002/snapshot.jpg", "/api/events/ev009/snapshot.jpg", "/api/events/a.b/snapshot.jpg",
		"/api/clips/nope.mp4", "/api/clips/nope/play.mjpeg"} {
		if res, _ := do(t, f, "GET", p, asUser("alice")); res.StatusCode != 404 && res.StatusCode != 400 {
			t.Errorf("GET %s = %d", p, res.StatusCode)
		}
	}
	for _, p := range []string{"/api/events/ev001/snapshot.jpg", "/api/clips/c1.mp4", "/api/clips/c1/play.mjpeg"} {
		if res, _ := do(t, f, "HEAD", p, asUser("alice")); res.StatusCode != 200 {
			t.Errorf("HEAD %s = %d", p, res.StatusCode)
		}
	}
	// A last audited request: every entry before it is one too many.
	if res, _ := do(t, f, "GET", "/api/events/ev001/snapshot.jpg", asUser("sentinel")); res.StatusCode != 200 {
		t.Fatalf("snapshot = %d", res.StatusCode)
	}
	if e := spy.next(t); e.Actor != "web:sentinel" {
		t.Errorf("a request that gave no picture was audited: %+v", e)
	}
}

func TestAuditPlaybackDuration(t *testing.T) {
	spy := make(auditSpy, 16)
	f := newFixture(t, func(o *Options) { o.Audit = spy.record })
	offsets := []time.Duration{0, 200 * time.Millisecond, 500 * time.Millisecond, 1500 * time.Millisecond}
	putClip(t, f.store, "c1", framesAt(offsets...))
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/clips/c1/play.mjpeg", nil)
	req.Header.Set("X-Test-User", "carol")
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parts := readParts(res)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nextPart(t, parts)
	for i := 1; i < len(offsets); i++ {
		spy.none(t, fmt.Sprintf("frame %d of %d", i, len(offsets)))
		if err := f.clk.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("frame %d: player not waiting on the clock: %v", i, err)
		}
		f.clk.Advance(offsets[i] - offsets[i-1])
		nextPart(t, parts)
	}
	e := spy.next(t)
	checkEntry(t, "playback", e, audit.Entry{Action: audit.ActionClipFetch, Actor: "web:carol", Object: "c1", Outcome: audit.OK, Reason: "play"})
	if want := offsets[len(offsets)-1].Seconds(); math.Abs(e.Duration-want) > 1e-9 {
		t.Errorf("playback Duration = %v s, want %v (the clock's time from first to last frame)", e.Duration, want)
	}
}

func TestAuditPlaybackCutShort(t *testing.T) {
	spy := make(auditSpy, 16)
	f := newFixture(t, func(o *Options) { o.Audit = spy.record })
	putClip(t, f.store, "c1", framesAt(0, time.Second, 2*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/api/clips/c1/play.mjpeg", nil)
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parts := readParts(res)
	nextPart(t, parts)
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if err := f.clk.BlockUntilContext(wctx, 1); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(400 * time.Millisecond) // still waiting for frame 1
	cancel()                              // the viewer closes the player
	e := spy.next(t)
	if e.Object != "c1" || e.Reason != "play" || e.Actor != "web" || math.Abs(e.Duration-0.4) > 1e-9 {
		t.Errorf("cut-short playback audited as %+v, want c1 play by web for 0.4 s", e)
	}
}

// sealKeys returns a Sealer for a fresh age key and the Opener of that key.
func sealKeys(t testing.TB) (*seal.Sealer, *seal.Opener) {
	k := sealtest.NewKey(t)
	return k.Sealer(t), k.Opener(t)
}

// openingStore is what the daemon hands the web app with
// privacy.identity_file: a store whose Open gives a sealed clip's
// plaintext, seekable.
type openingStore struct {
	*storage.Store
	o *seal.Opener
}

type bytesFile struct{ *bytes.Reader }

func (bytesFile) Close() error { return nil }

func (s openingStore) Open(id string) (io.ReadCloser, error) {
	rc, err := s.Store.Open(id)
	if err != nil {
		return nil, err
	}
	if m, _ := s.Lookup(id); m.Encryption == "" {
		return rc, nil
	}
	defer rc.Close()
	r, err := s.o.Open(rc)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return bytesFile{bytes.NewReader(b)}, nil
}

// unopenedStore claims to open sealed clips but hands over the file as stored.
type unopenedStore struct{ *storage.Store }

func (s unopenedStore) Open(id string) (io.ReadCloser, error) {
	rc, err := s.Store.Open(id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return bytesFile{bytes.NewReader(b)}, err
}

// sealedFixture is a fixture whose store seals every clip; it holds one,
// "s1", of 4 frames, whose plain MP4 it returns.
func sealedFixture(t *testing.T, mod func(o *Options, s *storage.Store, op *seal.Opener)) (*fixture, []byte) {
	t.Helper()
	sealer, opener := sealKeys(t)
	var store *storage.Store
	f := newFixture(t, func(o *Options) {
		s, err := storage.Open(t.TempDir(), storage.Options{Encrypter: sealer})
		if err != nil {
			t.Fatal(err)
		}
		store, o.Clips = s, s
		mod(o, s, opener)
	})
	plain := putClip(t, store, "s1", framesAt(0, 100*time.Millisecond, 200*time.Millisecond, 300*time.Millisecond))
	if m, _ := store.Lookup("s1"); m.Encryption != seal.Name {
		t.Fatalf("fixture: clip stored with Encryption %q, want %q", m.Encryption, seal.Name)
	}
	return f, plain
}

func clipList(t *testing.T, f *fixture) []clipJSON {
	t.Helper()
	_, body := get(t, f.srv, "GET", "/api/clips", "")
	var list []clipJSON
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("clips %q: %v", body, err)
	}
	return list
}

func TestSealedClipRefused(t *testing.T) {
	spy := make(auditSpy, 16)
	f, _ := sealedFixture(t, func(o *Options, _ *storage.Store, _ *seal.Opener) { o.Audit = spy.record })
	if l := clipList(t, f); len(l) != 1 || !l[0].Encrypted || l[0].Playable || l[0].Downloadable || l[0].Codec != "mjpeg" {
		t.Errorf("sealed clip listed as %+v, want encrypted, not playable, not downloadable", l)
	}
	for _, tc := range []struct{ path, reason string }{
		{"/api/clips/s1.mp4", "download"}, {"/api/clips/s1/play.mjpeg", "play"},
	} {
		res, body := do(t, f, "GET", tc.path, asUser("alice"))
		if res.StatusCode != http.StatusConflict || !strings.Contains(body, "encrypted") ||
			!strings.Contains(body, "privacy.recipients") || !strings.Contains(body, "doorbellctl clips pull --identity key.txt") {
			t.Errorf("GET %s = %d %q, want 409 saying how the owner gets it", tc.path, res.StatusCode, body)
		}
		e := spy.next(t)
		if !strings.HasPrefix(e.Reason, tc.reason+":") || !strings.Contains(e.Reason, "encrypted") {
			t.Errorf("refusal Reason %q, want %q and why", e.Reason, tc.reason+": ...")
		}
		e.Reason = ""
		checkEntry(t, "refused "+tc.reason, e, audit.Entry{Action: audit.ActionClipFetch, Actor: "web:alice", Object: "s1", Outcome: audit.Refused})
	}
	if res, _ := do(t, f, "HEAD", "/api/clips/s1/play.mjpeg"); res.StatusCode != http.StatusConflict {
		t.Errorf("HEAD play = %d, want 409", res.StatusCode)
	}
	spy.none(t, "HEAD")
}

func TestSealedClipOpened(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(*storage.Store, *seal.Opener) ClipStore
	}{
		{"seekable", func(s *storage.Store, o *seal.Opener) ClipStore { return openingStore{s, o} }},
		{"reader", func(s *storage.Store, o *seal.Opener) ClipStore { return readerOnly{openingStore{s, o}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spy := make(auditSpy, 16)
			f, plain := sealedFixture(t, func(o *Options, s *storage.Store, op *seal.Opener) {
				o.Audit, o.OpenSealed, o.Clips = spy.record, true, tc.store(s, op)
			})
			if l := clipList(t, f); len(l) != 1 || !l[0].Encrypted || !l[0].Playable || !l[0].Downloadable {
				t.Errorf("sealed clip with OpenSealed listed as %+v, want encrypted, playable, downloadable", l)
			}
			res, body := do(t, f, "GET", "/api/clips/s1.mp4", asUser("alice"))
			if res.StatusCode != 200 || body != string(plain) {
				t.Fatalf("download = %d, %d bytes, want the %d plaintext bytes", res.StatusCode, len(body), len(plain))
			}
			if res.ContentLength >= 0 && res.ContentLength != int64(len(plain)) {
				t.Errorf("Content-Length %d, want the plaintext's %d (or none)", res.ContentLength, len(plain))
			}
			checkEntry(t, "download", spy.next(t), audit.Entry{Action: audit.ActionClipFetch, Actor: "web:alice", Object: "s1", Outcome: audit.OK, Reason: "download"})

			res, err := f.srv.Client().Get(f.srv.URL + "/api/clips/s1/play.mjpeg")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("play = %d", res.StatusCode)
			}
			parts := readParts(res)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for i := range 4 {
				if i > 0 {
					if err := f.clk.BlockUntilContext(ctx, 1); err != nil {
						t.Fatal(err)
					}
					f.clk.Advance(100 * time.Millisecond)
				}
				if p := nextPart(t, parts); p.frame != fmt.Sprint(i) {
					t.Fatalf("part %d is frame %q", i, p.frame)
				}
			}
			if e := spy.next(t); e.Reason != "play" || e.Outcome != audit.OK || e.Duration <= 0 {
				t.Errorf("playback audited as %+v", e)
			}
		})
	}
}

// readerOnly hides a store's Seek: the download streams, with no length.
type readerOnly struct{ ClipStore }

func (s readerOnly) Open(id string) (io.ReadCloser, error) {
	rc, err := s.ClipStore.Open(id)
	return struct{ io.ReadCloser }{rc}, err
}

func TestSealedClipNeverServedAsCiphertext(t *testing.T) {
	f, _ := sealedFixture(t, func(o *Options, s *storage.Store, _ *seal.Opener) { o.OpenSealed, o.Clips = true, unopenedStore{s} })
	res, body := get(t, f.srv, "GET", "/api/clips/s1.mp4", "")
	if res.StatusCode != 500 || seal.IsSealed([]byte(body)) || !strings.Contains(body, "cannot be opened") {
		t.Errorf("store that did not open the clip: download = %d %.60q, want 500 and no ciphertext", res.StatusCode, body)
	}
	if !strings.Contains(f.logs.String(), errStillSealed.Error()) {
		t.Errorf("not logged: %s", f.logs)
	}
}

// deletingBackend is a Backend that can delete every recording: the
// clips of its stores.
type deletingBackend struct {
	*fakeBackend
	stores []*storage.Store
	err    error

	mu    sync.Mutex
	asked []string // Requester's actor and from, per call
}

func (b *deletingBackend) DeleteRecordings(ctx context.Context) (int, error) {
	actor, from, ok := Requester(ctx)
	b.mu.Lock()
	b.asked = append(b.asked, fmt.Sprintf("%s %s %v", actor, from, ok))
	b.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		return 0, errors.New("called without a deadline")
	}
	if b.err != nil {
		return 0, b.err
	}
	n := 0
	for _, s := range b.stores {
		n += s.DeleteAll()
	}
	return n, nil
}

func (b *deletingBackend) Asked() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.asked...)
}

func TestDeleteRecordings(t *testing.T) {
	var be *deletingBackend
	f := newFixture(t, func(o *Options) {
		be = &deletingBackend{fakeBackend: newFakeBackend(), stores: []*storage.Store{o.Clips.(*storage.Store)}}
		o.Backend = be
	})
	putClip(t, f.store, "c1", cliptest.Frames(mjpegFormat, 3, t0))
	putClip(t, f.store, "c2", cliptest.Frames(mjpegFormat, 3, t0.Add(time.Minute)))
	if _, body := get(t, f.srv, "GET", "/api/features", ""); body != `{"delete_recordings":true,"audit":false,"open_sealed":false,"door":false,"replies":false}`+"\n" {
		t.Errorf("features = %q", body)
	}
	if res, _ := get(t, f.srv, "GET", "/api/recordings/delete", ""); res.StatusCode != 405 {
		t.Errorf("GET delete = %d, want 405", res.StatusCode)
	}
	if len(f.store.List()) != 2 {
		t.Fatal("GET deleted clips")
	}
	res, body := do(t, f, "POST", "/api/recordings/delete", asUser("alice"))
	if res.StatusCode != 200 || body != "{\"deleted\":2}\n" {
		t.Fatalf("delete = %d %q", res.StatusCode, body)
	}
	if n := len(f.store.List()); n != 0 {
		t.Errorf("%d clips left", n)
	}
	if l := clipList(t, f); len(l) != 0 {
		t.Errorf("clip list after delete: %+v", l)
	}
	if asked := be.Asked(); len(asked) != 1 || !strings.HasPrefix(asked[0], "web:alice 127.0.0.1:") || !strings.HasSuffix(asked[0], " true") {
		t.Errorf("Requester in DeleteRecordings = %q, want web:alice from the client", be.Asked())
	}
	if l := f.logs.String(); !strings.Contains(l, "recordings deleted") || !strings.Contains(l, "user=alice") || !strings.Contains(l, "clips=2") {
		t.Errorf("delete not logged: %s", l)
	}
	if res, body := get(t, f.srv, "POST", "/api/recordings/delete", ""); res.StatusCode != 200 || body != "{\"deleted\":0}\n" {
		t.Errorf("delete again = %d %q", res.StatusCode, body)
	}

	be.err = errors.New("disk gone")
	if res, body := get(t, f.srv, "POST", "/api/recordings/delete", ""); res.StatusCode != 503 || !strings.Contains(body, "disk gone") {
		t.Errorf("failing delete = %d %q", res.StatusCode, body)
	}

	// A Backend without it, or none: 501, and the page is told.
	for name, b := range map[string]Backend{"plain backend": newFakeBackend(), "no backend": nil} {
		f := newFixture(t, func(o *Options) { o.Backend = b })
		putClip(t, f.store, "c1", cliptest.Frames(mjpegFormat, 3, t0))
		if res, body := get(t, f.srv, "POST", "/api/recordings/delete", ""); res.StatusCode != http.StatusNotImplemented || !strings.Contains(body, "not supported") {
			t.Errorf("%s: delete = %d %q, want 501", name, res.StatusCode, body)
		}
		if len(f.store.List()) != 1 {
			t.Errorf("%s: clips deleted", name)
		}
		if _, body := get(t, f.srv, "GET", "/api/features", ""); !strings.Contains(body, `"delete_recordings":false`) {
			t.Errorf("%s: features = %q", name, body)
		}
	}
}

func TestRequesterOutsideWebApp(t *testing.T) {
	if a, f, ok := Requester(context.Background()); ok || a != "" || f != "" {
		t.Errorf("Requester(background) = %q %q %v", a, f, ok)
	}
}
