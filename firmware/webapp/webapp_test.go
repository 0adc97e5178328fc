package webapp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture/cliptest"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/timeline"
)

func ev(i int) event.Event {
	return event.Event{ID: fmt.Sprintf("ev%03d", i), Seq: uint64(i), Device: "front", Type: event.Ring, At: t0.Add(time.Duration(i) * time.Second)}
}

type fixture struct {
	srv   *httptest.Server
	tl    *timeline.Timeline
	store *storage.Store
	be    *fakeBackend
	clk   *clockwork.FakeClock
	logs  *syncBuffer
}

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	f := &fixture{tl: timeline.New(timeline.Options{}), be: newFakeBackend(), clk: clockwork.NewFakeClockAt(t0), logs: &syncBuffer{}}
	var err error
	f.store, err = storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Timeline: f.tl, Clips: f.store, Backend: f.be, Clock: f.clk, Logger: testLogger(f.logs),
		User: func(r *http.Request) string { return r.Header.Get("X-Test-User") }}
	if mod != nil {
		mod(&opts)
	}
	f.srv = httptest.NewServer(New(opts))
	t.Cleanup(f.srv.Close)
	return f
}

func TestShellAndAssets(t *testing.T) {
	f := newFixture(t, nil)
	res, body := get(t, f.srv, "GET", "/", "")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	// default-src 'self' forbids inline code: every script has a src, no
	// style element or attribute, no on* handler, nothing from elsewhere.
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`), regexp.MustCompile(`<style`), regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`), regexp.MustCompile(`(?i)(src|href)="(https?:)?//`),
	} {
		if m := bad.FindString(body); m != "" {
			t.Errorf("shell has %q, which a strict CSP or the no-CDN rule forbids", m)
		}
	}
	for path, ct := range map[string]string{
		"/assets/app.js": "text/javascript", "/assets/app.css": "text/css", "/assets/icon.svg": "image/svg+xml",
	} {
		res, body := get(t, f.srv, "GET", path, "")
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ct) || body == "" {
			t.Errorf("GET %s = %d %q (%d bytes), want 200 %s", path, res.StatusCode, res.Header.Get("Content-Type"), len(body), ct)
		}
		if regexp.MustCompile(`https?://`).MatchString(strings.ReplaceAll(body, `xmlns="http://www.w3.org/2000/svg"`, "")) {
			t.Errorf("%s refers to another origin", path)
		}
	}
	for path, want := range map[string]int{
		"/assets/nope.js": 404, "/assets/index.html": 404, "/assets/.hidden": 400, "/assets/..%2fwebapp.go": 400,
		"/assets/": 404, "/nope": 404,
	} {
		if res, _ := get(t, f.srv, "GET", path, ""); res.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, res.StatusCode, want)
		}
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t, nil)
	for i := 1; i <= 5; i++ {
		_ = f.tl.Add(ev(i))
	}
	_ = f.tl.SetSnapshot("ev002", cliptest.Image(mjpegFormat, 1), t0)
	res, body := get(t, f.srv, "GET", "/api/events?limit=3", "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("= %d %s", res.StatusCode, body)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0]["id"] != "ev005" || list[2]["id"] != "ev003" || list[0]["event_type"] != "ring" ||
		list[0]["at"] != "2026-11-26T18:30:05.000Z" {
		t.Errorf("events = %s", body)
	}
	if _, body := get(t, f.srv, "GET", "/api/events", ""); strings.Count(body, `"id"`) != 5 {
		t.Errorf("default limit: %s", body)
	}
	for _, q := range []string{"0", "-1", "1001", "x", "1e3"} {
		if res, body := get(t, f.srv, "GET", "/api/events?limit="+q, ""); res.StatusCode != 400 || !strings.Contains(body, "limit") {
			t.Errorf("limit=%s: %d %q", q, res.StatusCode, body)
		}
	}

	res, body = get(t, f.srv, "GET", "/api/events/ev002/snapshot.jpg", "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("snapshot = %d", res.StatusCode)
	}
	if _, err := jpeg.Decode(strings.NewReader(body)); err != nil {
		t.Errorf("snapshot is not a JPEG: %v", err)
	}
	if res, _ := get(t, f.srv, "GET", "/api/events/ev001/snapshot.jpg", ""); res.StatusCode != 404 {
		t.Errorf("event without snapshot: %d", res.StatusCode)
	}
	if res, _ := get(t, f.srv, "GET", "/api/events/a.b/snapshot.jpg", ""); res.StatusCode != 400 {
		t.Errorf("bad event id: %d", res.StatusCode)
	}
}

func TestNoTimelineNoStoreNoBackend(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/events"}, {"GET", "/api/events/stream"}, {"GET", "/api/events/x/snapshot.jpg"},
		{"GET", "/api/clips"}, {"GET", "/api/clips/x.mp4"}, {"GET", "/api/clips/x/play.mjpeg"},
		{"POST", "/api/chime/test"}, {"POST", "/api/snapshot"},
	} {
		if res, _ := get(t, srv, r.method, r.path, ""); res.StatusCode != 503 {
			t.Errorf("%s %s = %d, want 503", r.method, r.path, res.StatusCode)
		}
	}
	if res, _ := get(t, srv, "GET", "/", ""); res.StatusCode != 200 {
		t.Errorf("shell without parts: %d", res.StatusCode)
	}
}

func TestClipsListAndDownload(t *testing.T) {
	for _, mode := range []storage.Mode{storage.ModeDisk, storage.ModeRAM} { // seekable, not seekable
		t.Run(string(mode), func(t *testing.T) {
			var store *storage.Store
			f := newFixture(t, func(o *Options) {
				s, err := storage.Open(t.TempDir(), storage.Options{Mode: mode})
				if err != nil {
					t.Fatal(err)
				}
				store, o.Clips = s, s
			})
			old := putClip(t, store, "old-1", cliptest.Frames(mjpegFormat, 10, t0), "ev001")
			putClip(t, store, "h264-1", cliptest.H264Frames(t0.Add(time.Minute)))
			_, body := get(t, f.srv, "GET", "/api/clips", "")
			var list []clipJSON
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].ID != "h264-1" || list[0].Playable || list[1].ID != "old-1" || !list[1].Playable ||
				list[1].Frames != 10 || list[1].Codec != "mjpeg" || list[1].EventIDs[0] != "ev001" || list[1].DurationMS != 666 {
				t.Errorf("clips = %s", body)
			}
			res, body := get(t, f.srv, "GET", "/api/clips/old-1.mp4", "")
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "video/mp4" || body != string(old) {
				t.Fatalf("download = %d %s, %d bytes (want %d)", res.StatusCode, res.Header.Get("Content-Type"), len(body), len(old))
			}
			if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="doorbell-20261126T183000Z-old-1.mp4"` {
				t.Errorf("Content-Disposition = %q", cd)
			}
			if res.ContentLength != int64(len(old)) {
				t.Errorf("Content-Length = %d", res.ContentLength)
			}
			if !strings.Contains(f.logs.String(), "clip downloaded") || !strings.Contains(f.logs.String(), "clip=old-1") {
				t.Errorf("download not audited: %s", f.logs)
			}
			if res, _ := get(t, f.srv, "GET", "/api/clips/old-1.avi", ""); res.StatusCode != 404 {
				t.Errorf("other extension: %d", res.StatusCode)
			}
			if res, _ := get(t, f.srv, "GET", "/api/clips/gone.mp4", ""); res.StatusCode != 404 {
				t.Errorf("unknown clip: %d", res.StatusCode)
			}
		})
	}
}

// spyStore records every id that reaches the store.
type spyStore struct {
	ClipStore
	mu  sync.Mutex
	ids []string
}

func (s *spyStore) Lookup(id string) (storage.Meta, bool) {
	s.mu.Lock()
	s.ids = append(s.ids, id)
	s.mu.Unlock()
	return s.ClipStore.Lookup(id)
}

func (s *spyStore) Open(id string) (io.ReadCloser, error) {
	s.mu.Lock()
	s.ids = append(s.ids, id)
	s.mu.Unlock()
	return s.ClipStore.Open(id)
}

func TestPathTraversalNeverReachesStore(t *testing.T) {
	spy := &spyStore{}
	f := newFixture(t, func(o *Options) { spy.ClipStore = o.Clips; o.Clips = spy })
	putClip(t, f.store, "ok-1", cliptest.Frames(mjpegFormat, 3, t0))
	for _, p := range []string{
		"/api/clips/..%2f..%2fetc%2fpasswd.mp4", "/api/clips/%2e%2e.mp4", "/api/clips/a.b.mp4", "/api/clips/.mp4",
		"/api/clips/" + strings.Repeat("a", 65) + ".mp4", "/api/clips/a%00b.mp4", "/api/clips/a%20b/play.mjpeg",
		"/api/clips/..%2fx/play.mjpeg", "/api/clips/%2e%2e/play.mjpeg", "/api/events/..%2f..%2fx/snapshot.jpg",
		"/api/clips/../../etc/passwd.mp4", "/api/clips/%c3%a9/play.mjpeg",
	} {
		res, body := get(t, f.srv, "GET", p, "")
		if res.StatusCode != 400 && res.StatusCode != 404 {
			t.Errorf("GET %s = %d %q, want 400 or 404", p, res.StatusCode, body)
		}
	}
	spy.mu.Lock()
	reached := spy.ids
	spy.mu.Unlock()
	if len(reached) != 0 {
		t.Errorf("ids that reached the store: %q", reached)
	}
	// A good id does reach it.
	if res, _ := get(t, f.srv, "GET", "/api/clips/ok-1.mp4", ""); res.StatusCode != 200 {
		t.Errorf("good id: %d", res.StatusCode)
	}
}

// part is one JPEG of a playback stream.
type part struct {
	frame string
	jpeg  []byte
}

// readParts reads a multipart/x-mixed-replace body into a channel, closed
// at the end of the stream; a read error is sent as a part with frame "error".
func readParts(res *http.Response) <-chan part {
	ch := make(chan part, 100)
	go func() {
		defer close(ch)
		_, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
		if err != nil {
			ch <- part{frame: "error: " + err.Error()}
			return
		}
		mr := multipart.NewReader(res.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				ch <- part{frame: "error: " + err.Error()}
				return
			}
			b, err := io.ReadAll(p)
			if err != nil || p.Header.Get("Content-Type") != "image/jpeg" {
				ch <- part{frame: fmt.Sprintf("error: %v %s", err, p.Header.Get("Content-Type"))}
				return
			}
			ch <- part{frame: p.Header.Get("X-Frame"), jpeg: b}
		}
	}()
	return ch
}

func nextPart(t *testing.T, ch <-chan part) part {
	t.Helper()
	select {
	case p, ok := <-ch:
		if !ok {
			t.Fatal("stream ended early")
		}
		if strings.HasPrefix(p.frame, "error") {
			t.Fatal(p.frame)
		}
		return p
	case <-time.After(20 * time.Second):
		t.Fatal("no part within 20 s")
	}
	return part{}
}

func TestPlayFollowsClock(t *testing.T) {
	f := newFixture(t, nil)
	offsets := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 350 * time.Millisecond, 600 * time.Millisecond}
	frames := framesAt(offsets...)
	putClip(t, f.store, "c1", frames)
	res, err := f.srv.Client().Get(f.srv.URL + "/api/clips/c1/play.mjpeg")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "multipart/x-mixed-replace") {
		t.Fatalf("play = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	parts := readParts(res)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var prev []byte
	for i := range offsets {
		if i > 0 {
			gap := offsets[i] - offsets[i-1]
			// The player waits on the clock for the next frame; just short
			// of its time, it still waits and has sent nothing more.
			if err := f.clk.BlockUntilContext(ctx, 1); err != nil {
				t.Fatalf("frame %d: player not waiting on the clock: %v", i, err)
			}
			f.clk.Advance(gap - time.Millisecond)
			if err := f.clk.BlockUntilContext(ctx, 1); err != nil {
				t.Fatal(err)
			}
			select {
			case p := <-parts:
				t.Fatalf("frame %q sent %v before its time", p.frame, time.Millisecond)
			default:
			}
			f.clk.Advance(time.Millisecond)
		}
		p := nextPart(t, parts)
		if p.frame != fmt.Sprint(i) {
			t.Fatalf("part %d has X-Frame %q", i, p.frame)
		}
		if _, err := jpeg.Decode(bytes.NewReader(p.jpeg)); err != nil {
			t.Fatalf("part %d is not a JPEG: %v", i, err)
		}
		if bytes.Equal(p.jpeg, prev) {
			t.Errorf("part %d is the same picture as part %d", i, i-1)
		}
		prev = p.jpeg
	}
	if p, open := <-parts; open {
		t.Fatalf("after %d frames: %+v, want the end of the stream", len(offsets), p.frame)
	}
	if !strings.Contains(f.logs.String(), "clip played") {
		t.Errorf("playback not audited: %s", f.logs)
	}
}

func TestPlayRefusals(t *testing.T) {
	f := newFixture(t, nil)
	putClip(t, f.store, "h1", cliptest.H264Frames(t0))
	res, body := get(t, f.srv, "GET", "/api/clips/h1/play.mjpeg", "")
	if res.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(body, "download the MP4") {
		t.Errorf("H.264 play = %d %q", res.StatusCode, body)
	}
	// A clip whose file is not an MP4 (its sidecar says mjpeg).
	if err := f.store.Put(storage.Meta{ID: "bad", Start: t0, End: t0.Add(time.Second), Codec: "mjpeg"}, []byte("not an mp4 at all")); err != nil {
		t.Fatal(err)
	}
	res, body = get(t, f.srv, "GET", "/api/clips/bad/play.mjpeg", "")
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "parse mp4") {
		t.Errorf("corrupt clip = %d %q", res.StatusCode, body)
	}
	if res, _ := get(t, f.srv, "GET", "/api/clips/none/play.mjpeg", ""); res.StatusCode != 404 {
		t.Errorf("unknown clip = %d", res.StatusCode)
	}
}

func TestStreamLimit(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxStreams = 1 })
	putClip(t, f.store, "c1", cliptest.Frames(mjpegFormat, 3, t0))
	res, err := f.srv.Client().Get(f.srv.URL + "/api/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, _ := bufio.NewReader(res.Body).ReadString('\n') // the stream holds its slot now
	if !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q", line)
	}
	for _, p := range []string{"/api/clips/c1/play.mjpeg", "/api/events/stream", "/api/clips/c1.mp4"} {
		if res, _ := get(t, f.srv, "GET", p, ""); res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s with every slot taken = %d", p, res.StatusCode)
		}
	}
}

// sseReader reads Server-Sent Events.
type sseReader struct {
	t  *testing.T
	ch chan [2]string // event name, data; a comment has name ":"
}

func newSSE(t *testing.T, body io.Reader) *sseReader {
	s := &sseReader{t: t, ch: make(chan [2]string, 100)}
	go func() {
		defer close(s.ch)
		sc := bufio.NewScanner(body)
		var name, data string
		for sc.Scan() {
			l := sc.Text()
			switch {
			case l == "":
				if name != "" || data != "" {
					s.ch <- [2]string{name, data}
				}
				name, data = "", ""
			case strings.HasPrefix(l, ":"):
				s.ch <- [2]string{":", strings.TrimSpace(l[1:])}
			case strings.HasPrefix(l, "event: "):
				name = l[7:]
			case strings.HasPrefix(l, "data: "):
				data = l[6:]
			}
		}
	}()
	return s
}

func (s *sseReader) next(want string) string {
	s.t.Helper()
	select {
	case m, ok := <-s.ch:
		if !ok {
			s.t.Fatalf("stream ended waiting for %q", want)
		}
		if m[0] != want {
			s.t.Fatalf("got message %q %s, want %q", m[0], m[1], want)
		}
		return m[1]
	case <-time.After(20 * time.Second):
		s.t.Fatalf("no %q message within 20 s", want)
	}
	return ""
}

func TestSSE(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/api/events/stream", nil)
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	s := newSSE(t, res.Body)
	s.next("ready")

	_ = f.tl.Add(ev(1))
	var u timeline.Update
	if err := json.Unmarshal([]byte(s.next("event")), &u); err != nil || u.Kind != timeline.Added || u.Entry.ID != "ev001" {
		t.Fatalf("update = %+v, %v", u, err)
	}
	_ = f.tl.SetSnapshot("ev001", cliptest.Image(mjpegFormat, 0), t0)
	if err := json.Unmarshal([]byte(s.next("event")), &u); err != nil || u.Kind != timeline.Updated || !u.Entry.HasSnapshot {
		t.Fatalf("update = %+v, %v", u, err)
	}
	if res, _ := get(t, f.srv, "POST", "/api/switch/chime", `{"on": false}`); res.StatusCode != 200 {
		t.Fatal(res.Status)
	}
	if d := s.next("status"); d != `{"on":false,"switch":"chime"}` {
		t.Errorf("status = %s", d)
	}
	// Ping on the clock: the ticker is the only thing waiting on it.
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if err := f.clk.BlockUntilContext(wctx, 1); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(15 * time.Second)
	if d := s.next(":"); d != "ping" {
		t.Errorf("comment = %q", d)
	}
	// The client goes: the stream ends and unsubscribes.
	cancel()
	waitFor(t, "the stream to unsubscribe", func() bool { return f.tl.Stats().Subscribers == 0 })
}

func TestSwitchesAndActions(t *testing.T) {
	f := newFixture(t, nil)
	_ = f.tl.Add(ev(1))
	_ = f.tl.SetSnapshot("ev001", cliptest.Image(mjpegFormat, 0), t0)

	req, _ := http.NewRequest("POST", f.srv.URL+"/api/switch/privacy", strings.NewReader(`{"on":true}`))
	req.Header.Set("X-Test-User", "alice")
	res, err := f.srv.Client().Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("switch: %v %v", res, err)
	}
	res.Body.Close()
	if c := f.be.Calls(); len(c) != 1 || c[0] != (call{"switch", "privacy", true}) {
		t.Errorf("calls = %+v", c)
	}
	if _, ok := f.tl.Snapshot("ev001"); !ok {
		t.Error("the switch handler cleared the timeline's pictures: that is the daemon's privacy sink's job, for MQTT too")
	}
	if l := f.logs.String(); !strings.Contains(l, "switch set") || !strings.Contains(l, "user=alice") || !strings.Contains(l, "switch=privacy") {
		t.Errorf("switch not audited: %s", l)
	}
	if _, body := get(t, f.srv, "GET", "/api/switches", ""); body != "{\"chime\":true,\"privacy\":true}\n" {
		t.Errorf("switches = %q", body)
	}

	for _, tc := range []struct{ path, body string }{
		{"/api/switch/privacy", ""}, {"/api/switch/privacy", "{}"}, {"/api/switch/privacy", `{"on":"yes"}`},
		{"/api/switch/privacy", `{"on":true,"x":1}`}, {"/api/switch/privacy", `{"on":true}{"on":false}`},
		{"/api/switch/privacy", `{"on":true,"pad":"` + strings.Repeat("x", 2000) + `"}`},
	} {
		if res, body := get(t, f.srv, "POST", tc.path, tc.body); res.StatusCode != 400 || !strings.Contains(body, `want {"on"`) {
			t.Errorf("POST %s %.30q = %d %q", tc.path, tc.body, res.StatusCode, body)
		}
	}
	if res, body := get(t, f.srv, "POST", "/api/switch/door", `{"on":true}`); res.StatusCode != 404 || !strings.Contains(body, "unknown switch") {
		t.Errorf("unknown switch = %d %q", res.StatusCode, body)
	}
	if res, _ := get(t, f.srv, "GET", "/api/switch/privacy", ""); res.StatusCode != 405 {
		t.Errorf("GET switch = %d", res.StatusCode)
	}

	if res, _ := get(t, f.srv, "POST", "/api/chime/test", ""); res.StatusCode != 200 {
		t.Errorf("test chime = %d", res.StatusCode)
	}
	if res, _ := get(t, f.srv, "POST", "/api/snapshot", ""); res.StatusCode != 200 {
		t.Errorf("snapshot = %d", res.StatusCode)
	}
	c := f.be.Calls()
	if len(c) != 3 || c[1].What != "chime" || c[2].What != "snapshot" {
		t.Errorf("calls = %+v", c)
	}
	f.be.mu.Lock()
	f.be.err = errBackend
	f.be.mu.Unlock()
	if res, body := get(t, f.srv, "POST", "/api/chime/test", ""); res.StatusCode != 503 || !strings.Contains(body, errBackend.Error()) {
		t.Errorf("failing chime = %d %q", res.StatusCode, body)
	}
	if res, body := get(t, f.srv, "POST", "/api/switch/chime", `{"on":true}`); res.StatusCode != 503 || !strings.Contains(body, "set chime") {
		t.Errorf("failing switch = %d %q", res.StatusCode, body)
	}
}

func TestMasksServed(t *testing.T) {
	f := newFixture(t, nil)
	if _, body := get(t, f.srv, "GET", "/api/masks", ""); body != "{\"masks\":[]}\n" {
		t.Errorf("no masks: %q", body)
	}
	f = newFixture(t, func(o *Options) {
		o.Masks = [][][2]float64{{{0, 0}, {0.3, 0}, {0.3, 1}}, {{0.7, 0}, {1, 0}, {1, 0.5}, {0.7, 0.5}}}
	})
	if _, body := get(t, f.srv, "GET", "/api/masks", ""); body != "{\"masks\":[[[0,0],[0.3,0],[0.3,1]],[[0.7,0],[1,0],[1,0.5],[0.7,0.5]]]}\n" {
		t.Errorf("masks: %q", body)
	}
}
