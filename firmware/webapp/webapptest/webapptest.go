package webapptest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// WaitTimeout is how long WaitJS and WaitJSAt poll a condition, and
// SampleJS samples an image, before they give up: generous, so that a
// loaded machine turns into a slower test, not a failed one.
const WaitTimeout = 30 * time.Second

// Options configure a Browser. The zero value of each is its default.
type Options struct {
	Width, Height int           // window; default 1280x1000
	Timeout       time.Duration // the whole browser session; default 3 min
}

// Browser is one test's headless Chromium page. Its methods that fail the
// test (Run, NoErrors) must be called from the test's goroutine.
type Browser struct {
	t       testing.TB
	ctx     context.Context
	dir     string
	console console
}

// Chromium returns the path of a Chromium (or Chrome) binary, or skips
// the test when none is installed.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Skip("chromium not installed (apt-get install chromium): the real-browser test needs it")
	return ""
}

// Start launches a headless Chromium with one blank page, collecting the
// page's errors, and ends it when the test ends. It skips the test when
// no Chromium is installed.
func Start(t testing.TB, opts Options) *Browser {
	t.Helper()
	bin := Chromium(t)
	if opts.Width <= 0 || opts.Height <= 0 {
		opts.Width, opts.Height = 1280, 1000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Minute
	}
	b := &Browser{t: t, dir: artifactDir(t)}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(opts.Width, opts.Height),
		chromedp.Flag("disable-dev-shm-usage", true))...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	t.Cleanup(func() {
		cancel()
		cancelCtx()
		cancelAlloc()
	})
	b.ctx = ctx
	chromedp.ListenTarget(ctx, b.console.listen)
	if err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error { return cdplog.Enable().Do(ctx) })); err != nil {
		t.Fatalf("webapptest: start chromium %s: %v", bin, err)
	}
	return b
}

// artifactDir is $DOORBELL_ARTIFACTS/<test name>, made if need be, else
// a temporary directory of the test.
func artifactDir(t testing.TB) string {
	root := os.Getenv("DOORBELL_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("webapptest: screenshots: %v", err)
	}
	return dir
}

// Context is the page's context, for chromedp calls of the test's own.
func (b *Browser) Context() context.Context { return b.ctx }

// Dir is where Shot writes screenshots.
func (b *Browser) Dir() string { return b.dir }

// Run runs actions in the page; on an error it takes a screenshot named
// "failed-<step>" and fails the test, naming the step.
func (b *Browser) Run(step string, actions ...chromedp.Action) {
	b.t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		_ = chromedp.Run(b.ctx, b.Shot("failed-"+strings.ReplaceAll(step, " ", "-")))
		b.t.Fatalf("%s: %v (screenshots in %s)", step, err, b.dir)
	}
}

// Shot saves a full-page screenshot as Dir()/<name>.png.
func (b *Browser) Shot(name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var png []byte
		if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
			return fmt.Errorf("screenshot %s: %w", name, err)
		}
		return os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644)
	})
}

// Errors returns the page's errors since the last call (console.error,
// uncaught exceptions, error log entries such as failed loads and CSP
// violations), leaving out those that contain one of allowed.
func (b *Browser) Errors(allowed ...string) []string { return b.console.take(allowed...) }

// NoErrors fails the test (without stopping it) if the page had errors
// since the last call other than those containing one of allowed.
func (b *Browser) NoErrors(step string, allowed ...string) {
	b.t.Helper()
	if errs := b.Errors(allowed...); len(errs) > 0 {
		b.t.Errorf("%s: page errors:\n%s", step, strings.Join(errs, "\n"))
	}
}

// console collects the page's errors.
type console struct {
	mu   sync.Mutex
	errs []string
}

func (c *console) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.APITypeError {
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			c.add("console.error: " + strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		c.add("exception: " + ev.ExceptionDetails.Error())
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.LevelError {
			c.add(fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

func (c *console) add(s string) {
	c.mu.Lock()
	c.errs = append(c.errs, s)
	c.mu.Unlock()
}

func (c *console) take(allowed ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
next:
	for _, e := range c.errs {
		for _, a := range allowed {
			if strings.Contains(e, a) {
				continue next
			}
		}
		out = append(out, e)
	}
	c.errs = nil
	return out
}

// AwaitPromise makes chromedp.Evaluate wait for the promise its
// expression returns.
func AwaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// WaitJS polls the JS expression cond in the page every 25 ms until it is
// truthy, for WaitTimeout at most, and fails naming cond if it never is.
func WaitJS(cond string) chromedp.Action { return WaitJSAt(cond, nil) }

// WaitJSAt is WaitJS that also stores in at (if not nil) the time, read
// from the page's clock, of the first poll that found cond true. The page
// runs on the test's machine: at compares with time.Now taken in the test.
func WaitJSAt(cond string, at *time.Time) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		js := fmt.Sprintf(`(async () => { const end = Date.now() + %d;
		  while (Date.now() < end) { if (%s) return Date.now(); await new Promise((r) => setTimeout(r, 25)); }
		  return 0; })()`, WaitTimeout.Milliseconds(), cond)
		var ms int64
		if err := chromedp.Evaluate(js, &ms, AwaitPromise).Do(ctx); err != nil {
			return fmt.Errorf("wait for %s: %w", cond, err)
		}
		if ms == 0 {
			return fmt.Errorf("page condition never held in %v: %s", WaitTimeout, cond)
		}
		if at != nil {
			*at = time.UnixMilli(ms)
		}
		return nil
	})
}

// sampleJS draws the image sel names on a 4x4 canvas every 50 ms until it
// has seen want distinct pictures or ms have passed, and returns them
// (each as its 4x4 RGBA values).
const sampleJS = `(async (sel, want, ms) => {
  const img = document.querySelector(sel);
  const c = document.createElement('canvas'); c.width = 4; c.height = 4;
  const g = c.getContext('2d', {willReadFrequently: true});
  const seen = new Set();
  const end = Date.now() + ms;
  while (Date.now() < end && seen.size < want) {
    if (img && img.naturalWidth > 0) {
      g.drawImage(img, 0, 0, 4, 4);
      seen.add(Array.from(g.getImageData(0, 0, 4, 4).data).join(','));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return [...seen];
})`

// SampleJS stores in out the distinct pictures the <img> that the CSS
// selector sel names showed, sampled every 50 ms as a 4x4 thumbnail,
// once it has seen want of them or after WaitTimeout (then fewer: the
// caller judges). A still or broken image gives at most one.
func SampleJS(sel string, want int, out *[]string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		js := fmt.Sprintf(`%s(%q, %d, %d)`, sampleJS, sel, want, WaitTimeout.Milliseconds())
		if err := chromedp.Evaluate(js, out, AwaitPromise).Do(ctx); err != nil {
			return fmt.Errorf("sample %s: %w", sel, err)
		}
		return nil
	})
}
