package delivery_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/delivery"
	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

// Tests of what a client of the shared broker must not be able to do with
// offers: read files, probe the network, hold the update.

// urlHosts allows url offers from the servers (host:port).
func urlHosts(srvs ...*httptest.Server) func(*delivery.Options) {
	return func(o *delivery.Options) {
		for _, s := range srvs {
			o.URLHosts = append(o.URLHosts, s.Listener.Addr().String())
		}
	}
}

// onClock runs the Device on a fake clock, with a window that takes a
// whole test bundle in 16 KiB chunks.
func onClock(c clockwork.Clock) func(*delivery.Options) {
	return func(o *delivery.Options) { o.Clock, o.Window = c, 32 }
}

func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// failedSince returns the "failed" state that ends the job started after
// mark: the first after the first "downloading" (refusals queued before
// the job may be published after mark).
func (r *recorder) failedSince(mark int) (delivery.State, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	started := false
	for _, m := range r.msgs[mark:] {
		var s delivery.State
		if m.topic != topics.UpdateStatus || json.Unmarshal([]byte(m.payload), &s) != nil {
			continue
		}
		started = started || s.State == delivery.StateDownloading
		if started && s.State == delivery.StateFailed {
			return s, true
		}
	}
	return delivery.State{}, false
}

// acks returns the acks published for transfer id.
func (r *recorder) acks(id string) []delivery.Ack {
	r.mu.Lock()
	defer r.mu.Unlock()
	var as []delivery.Ack
	for _, m := range r.msgs {
		var a delivery.Ack
		if m.topic == delivery.AckTopic(base, id) && json.Unmarshal([]byte(m.payload), &a) == nil {
			as = append(as, a)
		}
	}
	return as
}

// noneContains fails the test if a published payload holds any of secrets.
func (r *recorder) noneContains(t *testing.T, secrets ...string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		for _, s := range secrets {
			if s != "" && strings.Contains(m.payload, s) {
				t.Errorf("%s published %q, which holds %q", m.topic, m.payload, s)
			}
		}
	}
}

// waitFor polls cond (the Device works in its own goroutines) for up to
// 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// advanceUntil advances clk by step until cond holds, at most max times,
// giving the Device's goroutines up to 200 ms of real time after each
// step to act on it. It returns the steps it took.
func advanceUntil(t *testing.T, clk *clockwork.FakeClock, step time.Duration, max int, cond func() bool) int {
	t.Helper()
	for i := 0; ; i++ {
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) {
			if cond() {
				return i
			}
			time.Sleep(2 * time.Millisecond)
		}
		if i == max {
			t.Fatalf("still waiting after %d steps of %v", max, step)
		}
		clk.Advance(step)
	}
}

// feed sends bundle b of transfer id in chunks the way Push does.
func feed(dev *delivery.Device, id string, b []byte, chunk int) {
	for off := 0; off < len(b); off += chunk {
		dev.HandleMessage(delivery.ChunkTopic(base, id, int64(off)), b[off:min(off+chunk, len(b))], false)
	}
}

func transferOffer(version, id string, size int) []byte {
	return fmt.Appendf(nil, `{"version":%q,"transfer":%q,"size":%d,"chunk_size":16384}`, version, id, size)
}

// TestPathOfferConfined: path offers name files in ota.offer_dir only,
// and nothing a file holds is ever published. (Before: any readable file,
// and its first 8 bytes in the retained state.)
func TestPathOfferConfined(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	before := otatest.Snapshot(t, dir)
	incoming := filepath.Join(t.TempDir(), "incoming")
	outside := filepath.Join(t.TempDir(), "outside.txt")
	const secret = "SECRET:x:0:0:outside:/root:/bin/sh\n"
	os.Mkdir(incoming, 0o755)
	os.WriteFile(outside, []byte(secret), 0o644)
	os.WriteFile(filepath.Join(incoming, "passwd-copy"), []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	os.WriteFile(filepath.Join(incoming, "2.0.0.ota"), otatest.NewBundle(t, "2.0.0", v2), 0o644)
	os.WriteFile(filepath.Join(incoming, "rogue.ota"), otatest.Bundle(t, 5, otatest.Manifest("2.0.0", v2), v2), 0o644)
	for link, target := range map[string]string{"out": outside, "etc": "/etc", "dangling": outside + ".gone", "good": "2.0.0.ota"} {
		if err := os.Symlink(target, filepath.Join(incoming, link)); err != nil {
			t.Fatal(err)
		}
	}
	offer := func(p string) []byte { return fmt.Appendf(nil, `{"version":"2.0.0","path":%q}`, p) }

	// Path offers off: refused, naming the setting.
	dev, rec, _ := runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0")
	if err := dev.HandleCommand(offer(filepath.Join(incoming, "2.0.0.ota"))); !errors.Is(err, delivery.ErrNotAllowed) || !strings.Contains(err.Error(), "ota.offer_dir") {
		t.Errorf("path offers off: %v", err)
	}

	dev, rec2, done := runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0", func(o *delivery.Options) { o.OfferDir = incoming })
	// Refused on the path alone, before any file is touched.
	for p, want := range map[string]error{
		"/etc/passwd":                 delivery.ErrNotAllowed,
		outside:                       delivery.ErrNotAllowed,
		incoming:                      delivery.ErrNotAllowed,
		incoming + "-evil/2.0.0.ota":  delivery.ErrNotAllowed,
		incoming + "/../outside.txt":  delivery.ErrBadOffer, // not clean
		incoming + "/./etc/../passwd": delivery.ErrBadOffer,
	} {
		if err := dev.HandleCommand(offer(p)); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", p, err, want)
		}
	}
	// Inside by name, outside once links are resolved, or no bundle.
	for _, c := range []struct{ name, want string }{
		{"out", "does not resolve to a file inside ota.offer_dir"},
		{"etc/passwd", "does not resolve to a file inside ota.offer_dir"},
		{"etc/no-such-file", "does not resolve to a file inside ota.offer_dir"}, // not "no such file": no oracle
		{"dangling", "does not resolve to a file inside ota.offer_dir"},
		{"missing.ota", "no such file in ota.offer_dir"},
		{"passwd-copy", "not an OTA bundle: bad magic"},
		{"rogue.ota", "not signed by one of the trusted keys"},
	} {
		m := rec2.mark()
		if err := dev.HandleCommand(offer(filepath.Join(incoming, c.name))); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		waitFor(t, c.name+" refused", func() bool { _, ok := rec2.failedSince(m); return ok })
		if s, _ := rec2.failedSince(m); !strings.Contains(s.Error, c.want) {
			t.Errorf("%s: %q, want %q", c.name, s.Error, c.want)
		}
	}
	if d := otatest.DiffSnapshots(before, otatest.Snapshot(t, dir)); d != "" {
		t.Errorf("refused offers changed the OTA directory:\n%s", d)
	}
	// A link that stays inside is fine.
	if err := dev.HandleCommand(offer(filepath.Join(incoming, "good"))); err != nil {
		t.Fatal(err)
	}
	restartRequired(t, done)
	otatest.CheckOneValid(t, dir, v2)

	passwd, _ := os.ReadFile("/etc/passwd")
	rogue := ota.IDOf(otatest.Public(5)).String() // the key id: bytes 8-15 of rogue.ota
	secrets := []string{"root:x", "SECRET", "/bin/bash", "/bin/sh", string(passwd[:min(8, len(passwd))]), rogue}
	rec.noneContains(t, secrets...)
	rec2.noneContains(t, secrets...)
}

// TestURLOfferAllowedHosts: url offers go to ota.url_hosts only, also
// through redirects, and a refusal makes no request. (Before: any URL was
// fetched and its outcome published: a port scanner.)
func TestURLOfferAllowedHosts(t *testing.T) {
	var hits, otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, other.URL+"/doorbelld.ota", http.StatusFound)
	}))
	defer srv.Close()
	offer := func(u string) []byte { return fmt.Appendf(nil, `{"version":"2.0.0","url":%q}`, u) }

	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	dev, _, _ := runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0")
	for _, u := range []string{srv.URL + "/x.ota", other.URL + "/x.ota"} {
		if err := dev.HandleCommand(offer(u)); !errors.Is(err, delivery.ErrNotAllowed) || !strings.Contains(err.Error(), "ota.url_hosts") {
			t.Errorf("url offers off: %s: %v", u, err)
		}
		if err := dev.HandleCommand(fmt.Appendf(nil, `{"version":"2.0.0","url":%q,"install":false}`, u)); !errors.Is(err, delivery.ErrNotAllowed) {
			t.Errorf("url offers off, announced: %s: %v", u, err)
		}
	}

	dir = filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	dev, rec, _ := runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0", urlHosts(srv), func(o *delivery.Options) {
		o.URLHosts = append(o.URLHosts, "nas.lan", "127.0.0.1") // no port: 80 only
	})
	for _, u := range []string{other.URL + "/x.ota", "http://nas.lan:8080/x.ota", "http://localhost" + strings.TrimPrefix(srv.URL, "http://127.0.0.1") + "/x"} {
		if err := dev.HandleCommand(offer(u)); !errors.Is(err, delivery.ErrNotAllowed) {
			t.Errorf("%s: %v", u, err)
		}
	}
	if n := hits.Load() + otherHits.Load(); n != 0 {
		t.Fatalf("refused offers made %d requests", n)
	}
	// Allowed, but redirected to a host that is not.
	m := rec.mark()
	if err := dev.HandleCommand(offer(srv.URL + "/redirect.ota")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the redirect refused", func() bool { _, ok := rec.failedSince(m); return ok })
	if s, _ := rec.failedSince(m); !strings.Contains(s.Error, "redirect: host") || !strings.Contains(s.Error, "not in ota.url_hosts") {
		t.Errorf("redirect: %q", s.Error)
	}
	if hits.Load() != 1 || otherHits.Load() != 0 {
		t.Errorf("requests: %d to the allowed host, %d to the other, want 1 and 0", hits.Load(), otherHits.Load())
	}
}

// TestIdleTransferReleases: an offer whose chunks never come, or come
// again and again without the next one, ends after IdleTimeout, and then
// a real push installs. (Before: the idle timeout held before the first
// chunk already, but any chunk restarted it, so a repeated one kept the
// update taken for JobTimeout, 30 minutes.)
func TestIdleTransferReleases(t *testing.T) {
	for _, c := range []struct {
		name  string
		chunk bool // send chunk 1 (never chunk 0) at every step
	}{{"no chunk", false}, {"chunk 1 again and again", true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ota")
			otatest.Seed(t, dir, v1, "1.0.0")
			clk := clockwork.NewFakeClock()
			dev, rec, done := runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0", onClock(clk))
			if err := dev.HandleCommand(transferOffer("2.0.0", "stuck", 100_000)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the first ack", func() bool { return len(rec.acks("stuck")) > 0 })
			junk := make([]byte, 16384)
			steps := advanceUntil(t, clk, 10*time.Second, 8, func() bool {
				if c.chunk {
					dev.HandleMessage(delivery.ChunkTopic(base, "stuck", 16384), junk, false)
				}
				as := rec.acks("stuck")
				return as[len(as)-1].Done
			})
			as := rec.acks("stuck")
			if a := as[len(as)-1]; steps < 3 || steps > 4 || !strings.Contains(a.Error, "no chunk at 0") && !strings.Contains(a.Error, "stalled") {
				t.Errorf("after %d steps of 10s: %+v", steps, a)
			}
			// Free again: a real push installs.
			bundle := otatest.NewBundle(t, "2.0.0", v2)
			if err := dev.HandleCommand(transferOffer("2.0.0", "real", len(bundle))); err != nil {
				t.Fatal(err)
			}
			feed(dev, "real", bundle, 16384)
			restartRequired(t, done)
			otatest.CheckOneValid(t, dir, v2)
		})
	}
}

// TestTricklingURLStalls: a download that delivers a byte and then
// nothing ends after StallTimeout. (Before: only the client's 15 minute
// timeout and JobTimeout ended it.)
func TestTricklingURLStalls(t *testing.T) {
	bundle := otatest.NewBundle(t, "2.0.0", v2)
	release := make(chan struct{})
	var wrote sync.Once
	trickled := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/good.ota" {
			w.Write(bundle)
			return
		}
		w.Write([]byte(bundle[:1]))
		w.(http.Flusher).Flush()
		wrote.Do(func() { close(trickled) })
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	clk := clockwork.NewFakeClock()
	dev, rec, done := runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0", onClock(clk), urlHosts(srv))
	m := rec.mark()
	if err := dev.HandleCommand(fmt.Appendf(nil, `{"version":"2.0.0","url":%q}`, srv.URL+"/slow.ota")); err != nil {
		t.Fatal(err)
	}
	<-trickled
	failed := func() bool { _, ok := rec.failedSince(m); return ok }
	steps := advanceUntil(t, clk, 10*time.Second, 9, failed)
	if s, _ := rec.failedSince(m); steps < 3 || steps > 4 || !strings.Contains(s.Error, delivery.ErrStalled.Error()) {
		t.Errorf("after %d steps of 10s: %+v", steps, s)
	}
	if err := dev.HandleCommand(fmt.Appendf(nil, `{"version":"2.0.0","url":%q}`, srv.URL+"/good.ota")); err != nil {
		t.Fatal(err)
	}
	restartRequired(t, done)
	otatest.CheckOneValid(t, dir, v2)
}

// TestPreemption: a new offer takes over a job whose source has made no
// progress for PreemptAfter; a job making progress stays and the new
// offer is busy. (Before: always busy.)
func TestPreemption(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	clk := clockwork.NewFakeClock()
	dev, rec, done := runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0", onClock(clk))
	bundle := otatest.NewBundle(t, "2.0.0", v2)

	// The first 32 KiB of a real bundle: progress.
	if err := dev.HandleCommand(transferOffer("2.0.0", "first", len(bundle))); err != nil {
		t.Fatal(err)
	}
	feed(dev, "first", bundle[:32768], 16384)
	waitFor(t, "two chunks taken", func() bool {
		as := rec.acks("first")
		return len(as) > 0 && as[len(as)-1].Next >= 32768
	})
	clk.Advance(4 * time.Second)
	if err := dev.HandleCommand(transferOffer("2.0.0", "early", len(bundle))); !errors.Is(err, install.ErrBusy) {
		t.Fatalf("offer 4s after progress: %v, want busy", err)
	}
	// No more for 5 s: the next offer takes over.
	clk.Advance(time.Second)
	if err := dev.HandleCommand(transferOffer("2.0.0", "second", len(bundle))); err != nil {
		t.Fatalf("offer 5s after progress: %v", err)
	}
	waitFor(t, "the first transfer's end", func() bool {
		as := rec.acks("first")
		return as[len(as)-1].Done
	})
	if as := rec.acks("first"); !strings.Contains(as[len(as)-1].Error, "preempted") {
		t.Errorf("first transfer: %+v", as[len(as)-1])
	}
	feed(dev, "second", bundle, 16384)
	restartRequired(t, done)
	otatest.CheckOneValid(t, dir, v2)
}

// TestNoPreemptionWhileInstalling: once a job's source is at its end (the
// install is finishing), a new offer is busy however long that takes.
func TestNoPreemptionWhileInstalling(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	written, proceed := make(chan struct{}), make(chan struct{})
	hook := func(o *install.Options) {
		o.Hook = func(s install.Step) {
			if s == install.StepWritten {
				close(written)
				<-proceed
			}
		}
	}
	clk := clockwork.NewFakeClock()
	dev, _, done := runDevice(t, installer(t, dir, "a", "1.0.0", hook), "1.0.0", onClock(clk))
	bundle := otatest.NewBundle(t, "2.0.0", v2)
	if err := dev.HandleCommand(transferOffer("2.0.0", "x", len(bundle))); err != nil {
		t.Fatal(err)
	}
	feed(dev, "x", bundle, 16384)
	<-written
	clk.Advance(time.Minute) // beyond PreemptAfter and StallTimeout
	err := dev.HandleCommand(transferOffer("2.0.1", "y", len(bundle)))
	close(proceed)
	if !errors.Is(err, install.ErrBusy) {
		t.Errorf("offer while installing: %v, want busy", err)
	}
	restartRequired(t, done)
	otatest.CheckOneValid(t, dir, v2)
}
