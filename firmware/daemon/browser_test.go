package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/doorbelld/doorbelld/firmware/web"
	"github.com/doorbelld/doorbelld/firmware/webapp/webapptest"
)

// logBuffer keeps the daemon's log for checks (no secret in it).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// guessResult is one login try the page made with fetch.
type guessResult struct {
	Status int    `json:"status"`
	Retry  string `json:"retry"`
}

// The acceptance test: a real Chromium on the whole sim daemon
// (web server, accounts, live hub, simulated camera and button, clips,
// MQTT). Guessing is slowed; alice logs in, sees the door live, a ring
// shows up with its snapshot without reload, its clip plays, privacy
// mode ends the live view and says so, and logging out locks the page.
func TestBrowserLiveView(t *testing.T) {
	webapptest.Chromium(t) // skip before starting anything without one
	c := liveConfig(t)
	c.Device.Name = "Front door"
	c.Capture.PreRoll = durCfg(time.Second)
	c.Capture.PostRoll = durCfg(time.Second)
	logs := &logBuffer{}
	r := startWith(t, c, func(o *Options) {
		var w io.Writer = logs
		if testing.Verbose() {
			w = io.MultiWriter(logs, os.Stderr)
		}
		o.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tp := r.d.Topics()
	events := subscribe(t, r.d.brokerURL(), tp.Event)
	privacyState := subscribe(t, r.d.brokerURL(), tp.PrivacyState)
	waitCamera(t, r)
	base := webURL(r, "")

	br := webapptest.Start(t, webapptest.Options{Timeout: 5 * time.Minute})
	run, shot, waitJS := br.Run, br.Shot, webapptest.WaitJS
	t.Logf("screenshots in %s", br.Dir())
	click := func(sel string) chromedp.Action { return chromedp.Click(sel, chromedp.ByQuery) }

	// Logged out: the login form only.
	run("load", chromedp.Navigate(base), chromedp.WaitVisible("#login", chromedp.ByQuery),
		waitJS(`document.querySelector('#app').hidden && document.querySelector('#open-banner').hidden`),
		shot("1-login"))
	br.NoErrors("load")

	// A wrong password is refused, and the page says so.
	run("wrong password",
		chromedp.SendKeys("#login-user", liveUser, chromedp.ByQuery),
		chromedp.SendKeys("#login-pass", "wrong-guess-1", chromedp.ByQuery),
		click("#login-submit"),
		waitJS(`!document.querySelector('#login-error').hidden && document.querySelector('#login-error').textContent.includes('Wrong')`),
		waitJS(`!document.querySelector('#login-submit').disabled`),
		shot("2-wrong-password"))
	br.NoErrors("wrong password", "/api/login") // the browser logs the 401 itself

	// Guessing on from the page: the tenth try at the latest is slowed.
	var guesses []guessResult
	run("guessing", chromedp.Evaluate(fmt.Sprintf(`(async () => {
	  const out = [];
	  for (let i = 2; i <= 12; i++) {
	    const res = await fetch('/api/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
	      body: JSON.stringify({username: %q, password: 'wrong-guess-' + i})});
	    out.push({status: res.status, retry: res.headers.get('Retry-After') || ''});
	    if (res.status === 429) break;
	  }
	  return out; })()`, liveUser), &guesses, webapptest.AwaitPromise))
	tries := 1 + len(guesses)
	last := guesses[len(guesses)-1]
	for _, g := range guesses[:len(guesses)-1] {
		if g.Status != http.StatusUnauthorized {
			t.Fatalf("wrong logins answered %+v, want 401 until the first 429", guesses)
		}
	}
	if last.Status != http.StatusTooManyRequests || tries > 10 {
		t.Fatalf("wrong logins answered %+v: first 429 at try %d, want one by the 10th", guesses, tries)
	}
	var retry int
	if _, err := fmt.Sscanf(last.Retry, "%d", &retry); err != nil || retry < 1 {
		t.Fatalf("429 with Retry-After %q, want whole seconds ≥ 1", last.Retry)
	}
	t.Logf("wrong logins: the %dth try was slowed (429, Retry-After: %d)", tries, retry)
	time.Sleep(time.Duration(retry) * time.Second) // what Retry-After asks for, counted from after the 429
	br.NoErrors("guessing", "/api/login")

	// The right password.
	run("login",
		chromedp.Evaluate(`document.querySelector('#login-pass').value = ''`, nil),
		chromedp.SendKeys("#login-pass", livePass, chromedp.ByQuery),
		click("#login-submit"),
		chromedp.WaitVisible("#app", chromedp.ByQuery),
		waitJS(`document.querySelector('#login').hidden && !document.querySelector('#btn-logout').hidden`),
		waitJS(`document.querySelector('#device').textContent === 'Front door'`),
		waitJS(`document.querySelector('#st-version').textContent.includes('test')`),
		waitJS(`!document.querySelector('#sw-privacy').checked`))
	br.NoErrors("login", "/api/login")

	// The live image changes: the sim camera scrolls its bars.
	var pics []string
	run("live", webapptest.SampleJS("#live", 3, &pics), shot("3-live"))
	if len(pics) < 3 {
		t.Errorf("live view showed %d distinct pictures in %v, want 3", len(pics), webapptest.WaitTimeout)
	}
	waitFor(t, "the page counted as a web viewer", func() bool { return r.d.live.Stats().Viewers["web"] == 1 })

	// A ring shows up in the timeline with its snapshot, without reload.
	waitPreRoll(t, r, c.Capture.PreRoll.D())
	var n int
	run("timeline empty", chromedp.Evaluate(`document.querySelectorAll('#timeline li').length`, &n))
	if n != 0 {
		t.Fatalf("timeline has %d entries before the first ring", n)
	}
	var shownAt time.Time
	pressed := time.Now()
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	run("ring", webapptest.WaitJSAt(`(() => {
	  const img = document.querySelector('#timeline li[data-test=event] img[data-test=event-thumb]');
	  return img && img.complete && img.naturalWidth > 0; })()`, &shownAt), shot("4-ring"))
	t.Logf("ring: press to the page showing the event with its snapshot: %v (target 1 s)", shownAt.Sub(pressed).Round(time.Millisecond))
	e, _ := nextEvent(t, events, tp, liveWait)
	var shown struct{ ID, Type string }
	run("ring entry", chromedp.Evaluate(`(() => { const li = document.querySelector('#timeline li[data-test=event]');
	  return {ID: li.dataset.id, Type: li.querySelector('.type').textContent}; })()`, &shown))
	if shown.ID != e.ID || shown.Type != "Ring" {
		t.Errorf("timeline shows %+v, want the ring %s", shown, e.ID)
	}

	// Its clip, once stored (post_roll after the press), plays.
	play := fmt.Sprintf(`#timeline li[data-id="%s"] [data-test=event-play]`, e.ID)
	run("clip listed", waitJS(fmt.Sprintf(`document.querySelector('%s')`, play)))
	run("play", click(play), chromedp.WaitVisible("#player", chromedp.ByQuery))
	pics = nil
	run("playback", webapptest.SampleJS("#player-img", 3, &pics), shot("5-clip"))
	if len(pics) < 3 {
		t.Errorf("clip playback showed %d distinct pictures, want 3", len(pics))
	}
	var clipID, href string
	run("download link", chromedp.Evaluate(`document.querySelector('#player').dataset.clip`, &clipID),
		chromedp.Evaluate(`document.querySelector('#player-download').getAttribute('href')`, &href))
	if clipID == "" || href != "/api/clips/"+clipID+".mp4" {
		t.Errorf("player of clip %q offers %q", clipID, href)
	}
	run("close player", click("#player-close"), waitJS(`document.querySelector('#player').hidden`))
	br.NoErrors("ring and clip")

	// Privacy on from the page: the daemon's switch is on, the live view
	// ends and the page says why.
	run("privacy on", click("#sw-privacy"),
		waitJS(`!document.querySelector('#live-msg').hidden && document.querySelector('#live-msg').textContent.includes('Privacy mode is on')`),
		waitJS(`document.querySelector('#sw-privacy').checked`), shot("6-privacy"))
	for m := next(t, privacyState, tp.PrivacyState, liveWait); string(m.payload) != "ON"; m = next(t, privacyState, tp.PrivacyState, liveWait) {
	}
	if on, _ := r.d.sw.get(); !on {
		t.Fatal("privacy state ON published but the switch is off")
	}
	waitFor(t, "the page's live stream to end", func() bool { return r.d.live.Stats().Viewers["web"] == 0 })
	br.NoErrors("privacy on", "/api/live.mjpeg") // its 403s are the point

	// Off again: the live view resumes.
	run("privacy off", click("#sw-privacy"),
		waitJS(`!document.querySelector('#sw-privacy').checked`),
		waitJS(`document.querySelector('#live-msg').hidden`))
	for m := next(t, privacyState, tp.PrivacyState, liveWait); string(m.payload) != "OFF"; m = next(t, privacyState, tp.PrivacyState, liveWait) {
	}
	pics = nil
	run("live again", webapptest.SampleJS("#live", 3, &pics), shot("7-privacy-off"))
	if len(pics) < 3 {
		t.Errorf("live view after privacy off showed %d distinct pictures, want 3", len(pics))
	}
	br.NoErrors("privacy off", "/api/live.mjpeg")

	// Log out: the form again, and the session is gone on the server.
	var cookies []*network.Cookie
	run("cookie", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{base}).Do(ctx)
		return err
	}))
	var session string
	for _, ck := range cookies {
		if ck.Name == web.CookieName {
			session = ck.Value
		}
	}
	if session == "" {
		t.Fatalf("no %s cookie in the browser", web.CookieName)
	}
	run("logout", click("#btn-logout"), chromedp.WaitVisible("#login", chromedp.ByQuery),
		waitJS(`document.querySelector('#app').hidden && document.querySelector('#btn-logout').hidden`),
		shot("8-logout"))
	for _, withCookie := range []bool{false, true} {
		req, _ := http.NewRequest(http.MethodGet, webURL(r, "/api/status"), nil)
		if withCookie {
			req.AddCookie(&http.Cookie{Name: web.CookieName, Value: session})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("/api/status after logout (old cookie sent: %v) = %d, want 401", withCookie, res.StatusCode)
		}
	}
	br.NoErrors("logout", "/api/live.mjpeg")

	// No secret in the daemon's log.
	log := logs.String()
	for what, s := range map[string]string{"password": livePass, "wrong password": "wrong-guess-", "session token": session,
		"password hash": c.Users[0].PasswordHash, "argon2 hash": "$argon2id$"} {
		if strings.Contains(log, s) {
			t.Errorf("the daemon's log holds the %s", what)
		}
	}
	if !strings.Contains(log, "web: login") {
		t.Errorf("the login is not in the daemon's log (%d bytes): is the log captured?", len(log))
	}
}
