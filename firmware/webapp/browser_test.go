package webapp

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/doorbelld/doorbelld/capture/capturetest"
	"github.com/doorbelld/doorbelld/capture/cliptest"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/timeline"
	"github.com/doorbelld/doorbelld/firmware/webapp/webapptest"
)

// stubServer stands in for firmware/web around the web app: session,
// login, status and the live stream, cookie authentication and the CSRF
// check, and a strict CSP on every answer.
type stubServer struct {
	be   *fakeBackend
	app  http.Handler
	csrf string

	mu        sync.Mutex
	postsCSRF map[string]string // path of each authenticated POST -> its X-CSRF-Token
}

const (
	stubUser     = "alice"
	stubPassword = "correct horse battery staple"
	stubCookie   = "stub-session-8c1f"
)

func (s *stubServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	c, _ := r.Cookie("sid")
	authed := c != nil && c.Value == stubCookie
	p := r.URL.Path
	switch {
	case p == "/api/session":
		user := ""
		if authed {
			user = stubUser
		}
		writeJSON(w, map[string]any{"open": false, "user": user, "csrf": s.csrf, "tls": false})
		return
	case p == "/api/login" && r.Method == "POST":
		var body struct{ Username, Password string }
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.Username != stubUser || body.Password != stubPassword {
			http.Error(w, "wrong user name or password", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: stubCookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		writeJSON(w, map[string]bool{"ok": true})
		return
	case p == "/" || strings.HasPrefix(p, "/assets/"):
		s.app.ServeHTTP(w, r)
		return
	}
	if !authed {
		http.Error(w, "login required", http.StatusUnauthorized)
		return
	}
	if r.Method == "POST" {
		s.mu.Lock()
		s.postsCSRF[p] = r.Header.Get("X-CSRF-Token")
		s.mu.Unlock()
		if r.Header.Get("X-CSRF-Token") != s.csrf {
			http.Error(w, "bad CSRF token", http.StatusForbidden)
			return
		}
	}
	switch p {
	case "/api/status":
		writeJSON(w, map[string]any{
			"device": "front-door", "mqtt_connected": true,
			"health":  map[string]any{"status": "ok", "version": "1.2.3", "camera": "ok", "camera_format": "MJPG 160x120@15fps", "chime": "enabled"},
			"storage": map[string]any{"mode": "disk", "clips": 1, "bytes": 1 << 20, "max_bytes": 1 << 30, "free_bytes": int64(5 << 30)},
		})
	case "/api/live.mjpeg":
		s.live(w, r)
	default:
		s.app.ServeHTTP(w, r)
	}
}

// live streams JPEGs of changing colours until the client goes, or 403
// when privacy mode is on, as firmware/web does.
func (s *stubServer) live(w http.ResponseWriter, r *http.Request) {
	if s.be.Switches()["privacy"] {
		http.Error(w, "privacy mode is on", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=live")
	rc := http.NewResponseController(w)
	fmt.Fprint(w, "--live\r\n")
	tick := time.NewTicker(100 * time.Millisecond) // a stand-in camera's frame rate
	defer tick.Stop()
	for i := 0; ; i++ {
		img := capturetest.JPEG(160, 120, color.RGBA{R: uint8(i * 50), G: uint8(255 - i*30), B: uint8(i * 90), A: 255})
		fmt.Fprintf(w, "Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(img))
		w.Write(img)
		fmt.Fprint(w, "\r\n--live\r\n")
		if rc.Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// twoStores shows the clips of a plain and a sealing store as one.
type twoStores struct{ plain, sealed *storage.Store }

func (s twoStores) List() []storage.Meta { return append(s.plain.List(), s.sealed.List()...) }
func (s twoStores) Lookup(id string) (storage.Meta, bool) {
	if m, ok := s.plain.Lookup(id); ok {
		return m, true
	}
	return s.sealed.Lookup(id)
}
func (s twoStores) Open(id string) (io.ReadCloser, error) {
	if _, ok := s.plain.Lookup(id); ok {
		return s.plain.Open(id)
	}
	return s.sealed.Open(id)
}

func TestBrowser(t *testing.T) {
	tl := timeline.New(timeline.Options{})
	store, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	putClip(t, store, "clip-1", cliptest.Frames(mjpegFormat, 45, t0), "ev-a") // 3 s at 15 fps, a new colour each frame
	sealer, _ := sealKeys(t)
	sealedStore, err := storage.Open(t.TempDir(), storage.Options{Encrypter: sealer})
	if err != nil {
		t.Fatal(err)
	}
	putClip(t, sealedStore, "sealed-1", cliptest.Frames(mjpegFormat, 5, t0.Add(time.Hour))) // for the owner's key only
	trail, err := audit.Open("", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	be := newFakeBackend()
	deleter := &deletingBackend{fakeBackend: be, stores: []*storage.Store{store, sealedStore}}
	replier := newReplyingBackend(nil, "leave_at_door", "be_right_there")
	logs := &syncBuffer{}
	stub := &stubServer{be: be, csrf: "csrf-5f2e9a", postsCSRF: map[string]string{},
		app: New(Options{Timeline: tl, Clips: twoStores{store, sealedStore}, Backend: deletingReplier{deleter, replier}, Logger: testLogger(logs),
			User:  func(*http.Request) string { return stubUser },
			Masks: [][][2]float64{{{0, 0}, {0.25, 0}, {0.25, 1}, {0, 1}}, {{0.5, 0.5}, {1, 0.5}, {1, 1}}},
			Audit: func(e audit.Entry) { trail.Record(e) }, AuditLog: trail.Recent})}
	srv := httptest.NewServer(stub)
	t.Cleanup(srv.Close) // after the browser's cleanup, which ends its streams

	br := webapptest.Start(t, webapptest.Options{})
	ctx, run, shot, noErrors := br.Context(), br.Run, br.Shot, br.NoErrors
	waitJS := webapptest.WaitJS

	// Logged out: the login form, nothing else.
	run("load", chromedp.Navigate(srv.URL), chromedp.WaitVisible("#login", chromedp.ByQuery),
		waitJS(`document.querySelector('#app').hidden && document.querySelector('#open-banner').hidden`),
		shot("1-login"))
	noErrors("load")

	run("wrong password",
		chromedp.SendKeys("#login-user", stubUser, chromedp.ByQuery),
		chromedp.SendKeys("#login-pass", "wrong", chromedp.ByQuery),
		chromedp.Click("#login-submit", chromedp.ByQuery),
		waitJS(`!document.querySelector('#login-error').hidden && document.querySelector('#login-error').textContent.includes('Wrong')`))
	noErrors("wrong password", "/api/login") // the 401 itself is logged by the browser

	run("login",
		chromedp.Evaluate(`document.querySelector('#login-pass').value = ''`, nil),
		chromedp.SendKeys("#login-pass", stubPassword, chromedp.ByQuery),
		chromedp.Click("#login-submit", chromedp.ByQuery),
		chromedp.WaitVisible("#app", chromedp.ByQuery),
		waitJS(`document.querySelector('#login').hidden && document.querySelector('#device').textContent === 'front-door'`),
		waitJS(`document.querySelector('#health-dot').classList.contains('dot-ok')`),
		waitJS(`document.querySelector('#st-version').textContent.includes('1.2.3')`),
		waitJS(`document.querySelector('#sw-chime').checked && !document.querySelector('#sw-privacy').checked`))

	// The live image changes.
	var colours []string
	run("live", webapptest.SampleJS("#live", 3, &colours), shot("2-live"))
	if len(colours) < 3 {
		t.Errorf("live view showed %d distinct pictures in 20 s (%q), want 3", len(colours), colours)
	}

	// Quick replies: a button each, labelled from the name; a press
	// reaches the Backend with who asked and says what plays.
	var labels []string
	run("replies", waitJS(`!document.querySelector('[data-test=replies]').hidden`),
		chromedp.Evaluate(`[...document.querySelectorAll('[data-test=replies] button')].map((b) => b.dataset.test + '=' + b.textContent)`, &labels))
	if strings.Join(labels, ",") != "reply-leave_at_door=Leave at door,reply-be_right_there=Be right there" {
		t.Errorf("reply buttons %q, want Leave at door and Be right there in config order", labels)
	}
	run("reply", chromedp.Click(`[data-test=reply-be_right_there]`, chromedp.ByQuery))
	if p := replier.next(t); p.Name != "be_right_there" || p.Actor != "web:alice" || !p.FromWebApp {
		t.Errorf("reply button: PlayReply saw %+v, want be_right_there from web:alice", p)
	}
	run("reply toast", waitJS(`!document.querySelector('#toast').hidden && document.querySelector('#toast').textContent === 'Playing: Be right there'`),
		shot("2c-replies"))
	stub.mu.Lock()
	replyToken := stub.postsCSRF["/api/reply/be_right_there"]
	stub.mu.Unlock()
	if replyToken != stub.csrf {
		t.Errorf("reply sent X-CSRF-Token %q, want the session's", replyToken)
	}
	replier.none(t, "one press")
	noErrors("replies")

	// The privacy masks drawn over the live picture, on request, lying
	// exactly on it: the first mask's left edge on the picture's left
	// edge, its right edge a quarter of the way across.
	var geom []float64
	run("masks", chromedp.Click("#sw-masks", chromedp.ByQuery),
		waitJS(`!document.querySelector('#mask-overlay').hasAttribute('hidden') && document.querySelectorAll('#mask-overlay polygon').length === 2`),
		chromedp.Evaluate(`(() => { const i = document.querySelector('#live').getBoundingClientRect();
			const p = document.querySelector('#mask-overlay polygon').getBoundingClientRect();
			return [i.left, i.width, p.left, p.width, i.height, p.height]; })()`, &geom), shot("2b-masks"))
	if len(geom) != 6 || abs(geom[2]-geom[0]) > 1 || abs(geom[3]-geom[1]/4) > 1 || abs(geom[5]-geom[4]) > 1 {
		t.Errorf("mask overlay [img left, width, mask left, width, img height, mask height] = %v: want the mask on the picture's left quarter", geom)
	}
	run("masks off", chromedp.Click("#sw-masks", chromedp.ByQuery), waitJS(`document.querySelector('#mask-overlay').hasAttribute('hidden')`))

	// Events appear live, newest first, with their snapshots.
	for i, id := range []string{"ev-a", "ev-b"} {
		e := event.Event{ID: id, Seq: uint64(i + 1), Device: "front-door", Type: event.Ring, At: time.Now().Add(time.Duration(i) * time.Second)}
		if err := tl.Add(e); err != nil {
			t.Fatal(err)
		}
		run("event "+id, waitJS(fmt.Sprintf(`document.querySelector('#timeline li[data-id="%s"]')`, id)))
		if err := tl.SetSnapshot(id, cliptest.Image(mjpegFormat, 3*i+1), e.At); err != nil {
			t.Fatal(err)
		}
		run("snapshot "+id, waitJS(fmt.Sprintf(
			`(() => { const img = document.querySelector('#timeline li[data-id="%s"] img[data-test=event-thumb]');
			          return img && img.complete && img.naturalWidth === 160; })()`, id)))
	}
	var order []string
	run("order", chromedp.Evaluate(`[...document.querySelectorAll('#timeline li')].map((li) => li.dataset.id)`, &order), shot("3-timeline"))
	if strings.Join(order, ",") != "ev-b,ev-a" {
		t.Errorf("timeline order %q, want newest first", order)
	}

	// A clip plays: its frames advance.
	var nodes []*cdp.Node
	run("clip", chromedp.Nodes(`#clips li[data-id="clip-1"] [data-test=clip-play]`, &nodes, chromedp.ByQuery))
	run("play", chromedp.Click(`#clips li[data-id="clip-1"] [data-test=clip-play]`, chromedp.ByQuery),
		chromedp.WaitVisible("#player", chromedp.ByQuery))
	colours = nil
	run("playback", webapptest.SampleJS("#player-img", 4, &colours), shot("4-player"))
	if len(colours) < 4 {
		t.Errorf("clip playback showed %d distinct pictures (%q), want 4", len(colours), colours)
	}
	var href string
	run("download link", chromedp.Evaluate(`document.querySelector('#player-download').getAttribute('href')`, &href))
	if href != "/api/clips/clip-1.mp4" {
		t.Errorf("download link %q", href)
	}
	noErrors("after login")

	// The encrypted clip: its marker, nothing to play or download.
	var sealedRow struct{ Marker, Play, Download bool }
	run("encrypted clip", waitJS(`document.querySelector('#clips li[data-id="sealed-1"] [data-test=clip-encrypted]')`),
		chromedp.Evaluate(`(() => { const li = document.querySelector('#clips li[data-id="sealed-1"]');
			return { Marker: li.querySelector('[data-test=clip-encrypted]').textContent.includes('encrypted'),
			         Play: !!li.querySelector('[data-test=clip-play]'), Download: !!li.querySelector('[data-test=clip-download]') }; })()`, &sealedRow),
		chromedp.ScrollIntoView(`#clips`, chromedp.ByQuery), shot("4b-encrypted-clip"))
	if !sealedRow.Marker || sealedRow.Play || sealedRow.Download {
		t.Errorf("encrypted clip row %+v: want the marker, no Play, no download", sealedRow)
	}
	var plainRow bool
	run("plain clip", chromedp.Evaluate(`!!document.querySelector('#clips li[data-id="clip-1"] [data-test=clip-play]') &&
		!document.querySelector('#clips li[data-id="clip-1"] [data-test=clip-encrypted]')`, &plainRow))
	if !plainRow {
		t.Error("plain clip lost its Play button or shows the encrypted marker")
	}

	// The access log: the playback above (audited when it ended) and a
	// refused fetch of the sealed clip, once the log is reopened.
	waitFor(t, "the playback's audit entry", func() bool {
		for _, e := range trail.Recent(50) {
			if e.Object == "clip-1" && e.Reason == "play" {
				return true
			}
		}
		return false
	})
	run("refused fetch", chromedp.Evaluate(`fetch('/api/clips/sealed-1.mp4').then((r) => r.status)`, nil, webapptest.AwaitPromise))
	run("access log", chromedp.Click(`#audit-box summary`, chromedp.ByQuery), waitJS(`!document.querySelector('#audit-box').open`),
		chromedp.Click(`#audit-box summary`, chromedp.ByQuery),
		waitJS(`[...document.querySelectorAll('#audit li')].some((li) => li.textContent.includes('web:alice') &&
			li.textContent.includes('clip-1') && li.textContent.includes('play') && / s$/.test(li.textContent))`),
		waitJS(`[...document.querySelectorAll('#audit li[data-outcome=refused]')].some((li) => li.textContent.includes('sealed-1'))`),
		chromedp.ScrollIntoView(`#privacy-card`, chromedp.ByQuery), shot("4c-access-log"))
	var refusedColour string
	run("refused colour", chromedp.Evaluate(`getComputedStyle(document.querySelector('#audit li[data-outcome=refused] .a-outcome')).color`, &refusedColour))
	if refusedColour != "rgb(185, 28, 28)" {
		t.Errorf("refused outcome colour %q, want the error colour rgb(185, 28, 28)", refusedColour)
	}
	noErrors("access log", "sealed-1.mp4") // the 409 itself is logged by the browser

	// Delete all recordings: asked first; declined, nothing happens.
	dialogs := make(chan string, 4)
	var accept atomic.Bool
	chromedp.ListenTarget(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs <- d.Message
			go func() { _ = chromedp.Run(ctx, page.HandleJavaScriptDialog(accept.Load())) }() // not in the listener: it would deadlock
		}
	})
	confirmText := func(step string) {
		select {
		case m := <-dialogs:
			if m != "Delete every stored clip and snapshot? This cannot be undone." {
				t.Errorf("%s: confirm says %q", step, m)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no confirm dialog", step)
		}
	}
	run("delete shown", chromedp.ScrollIntoView(`[data-test=delete-recordings]`, chromedp.ByQuery),
		waitJS(`!document.querySelector('#delete-box').hidden`))
	run("delete declined", chromedp.Click(`[data-test=delete-recordings]`, chromedp.ByQuery))
	confirmText("declined")
	run("after declined", waitJS(`!document.querySelector('[data-test=delete-recordings]').disabled`))
	if a := deleter.Asked(); len(a) != 0 || len(store.List()) != 1 {
		t.Fatalf("declined confirm still deleted: calls %q, %d clips left", a, len(store.List()))
	}
	accept.Store(true)
	run("delete", chromedp.Click(`[data-test=delete-recordings]`, chromedp.ByQuery))
	confirmText("accepted")
	run("deleted",
		waitJS(`!document.querySelector('#toast').hidden && document.querySelector('#toast').textContent === 'Deleted 2 clips'`),
		waitJS(`document.querySelectorAll('#clips li').length === 0 && !document.querySelector('#clips-empty').hidden`),
		waitJS(`document.querySelector('#player').hidden`), shot("4d-deleted"))
	if n := len(store.List()) + len(sealedStore.List()); n != 0 {
		t.Errorf("%d clips left after the delete", n)
	}
	stub.mu.Lock()
	token := stub.postsCSRF["/api/recordings/delete"]
	stub.mu.Unlock()
	if token != stub.csrf {
		t.Errorf("delete sent X-CSRF-Token %q, want the session's", token)
	}
	if a := deleter.Asked(); len(a) != 1 || !strings.HasPrefix(a[0], "web:alice ") {
		t.Errorf("delete requested by %q, want web:alice", a)
	}
	noErrors("delete")

	// Privacy on: the backend is called with the CSRF token, the live view
	// says why it shows nothing.
	run("privacy", chromedp.Click("#sw-privacy", chromedp.ByQuery))
	select {
	case c := <-be.seen:
		if c != (call{"switch", "privacy", true}) {
			t.Errorf("backend call %+v", c)
		}
	case <-time.After(20 * time.Second):
		_ = chromedp.Run(ctx, shot("failed-privacy"))
		t.Fatalf("privacy toggle never reached the backend; page errors: %q", br.Errors())
	}
	stub.mu.Lock()
	token = stub.postsCSRF["/api/switch/privacy"]
	stub.mu.Unlock()
	if token != stub.csrf {
		t.Errorf("switch sent X-CSRF-Token %q, want the session's", token)
	}
	run("privacy message", waitJS(`!document.querySelector('#live-msg').hidden &&
		document.querySelector('#live-msg').textContent.includes('Privacy mode is on')`), shot("5-privacy"))
	if !strings.Contains(logs.String(), "switch=privacy") || !strings.Contains(logs.String(), "user=alice") {
		t.Errorf("privacy switch not audited: %s", logs)
	}
	noErrors("privacy", "/api/live.mjpeg") // the 403s of the live stream are expected

	// A phone screen: nothing wider than it.
	var fits bool
	run("phone", chromedp.EmulateViewport(375, 667, chromedp.EmulateMobile),
		waitJS(`window.innerWidth === 375`),
		chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth && document.body.scrollWidth <= window.innerWidth`, &fits),
		shot("6-phone"))
	if !fits {
		var w int
		_ = chromedp.Run(ctx, chromedp.Evaluate(`document.documentElement.scrollWidth`, &w))
		t.Errorf("at 375 px the page is %d px wide: horizontal scroll", w)
	}
	noErrors("phone", "/api/live.mjpeg")

	// No replies configured: after a reload, no row for them.
	replier.setReplies()
	run("no replies", chromedp.Reload(), chromedp.WaitVisible("#app", chromedp.ByQuery),
		waitJS(`document.querySelector('[data-test=replies]').dataset.count === '0'`), // the replies were asked for
		waitJS(`document.querySelector('[data-test=replies]').hidden && !document.querySelector('[data-test=replies] button')`))
	noErrors("no replies", "/api/live.mjpeg")
	t.Logf("screenshots in %s", br.Dir())
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
