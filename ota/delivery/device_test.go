package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/delivery"
	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

const base = "doorbell/front"

var topics = mqttapi.TopicsUnder(base)

var (
	v1 = otatest.Binary("1.0.0", 50_000)
	v2 = otatest.Binary("2.0.0", 200_000)
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// installer returns the installer of a process running slot's binary in dir.
func installer(t *testing.T, dir, slot, version string, o ...func(*install.Options)) *install.Installer {
	t.Helper()
	opts := install.Options{Dir: dir, Keys: otatest.Keyring(0), Version: version, Logger: quiet,
		Executable: filepath.Join(dir, "slot-"+slot, install.BinaryName)}
	for _, f := range o {
		f(&opts)
	}
	i, err := install.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// recorder is a Publish that keeps what was published.
type recorder struct {
	mu   sync.Mutex
	msgs []recorded
}

type recorded struct {
	topic    string
	retained bool
	payload  string
}

func (r *recorder) publish(topic string, retained bool, payload []byte) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, recorded{topic, retained, string(payload)})
	r.mu.Unlock()
	return nil
}

func (r *recorder) states() []delivery.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ss []delivery.State
	for _, m := range r.msgs {
		if m.topic == topics.UpdateStatus {
			var s delivery.State
			json.Unmarshal([]byte(m.payload), &s)
			ss = append(ss, s)
		}
	}
	return ss
}

// checkStatePairs: every update/status is followed by the update/state
// for Home Assistant, with the same values and no other keys.
func (r *recorder) checkStatePairs(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, m := range r.msgs {
		if m.topic != topics.UpdateStatus {
			if m.topic == topics.UpdateState && (i == 0 || r.msgs[i-1].topic != topics.UpdateStatus) {
				t.Errorf("update/state %s without update/status before it", m.payload)
			}
			continue
		}
		var s delivery.State
		if err := json.Unmarshal([]byte(m.payload), &s); err != nil || !m.retained {
			t.Errorf("update/status %s (retained %v): %v", m.payload, m.retained, err)
			continue
		}
		want, _ := json.Marshal(s.HA())
		if i+1 >= len(r.msgs) || r.msgs[i+1].topic != topics.UpdateState || r.msgs[i+1].payload != string(want) || !r.msgs[i+1].retained {
			t.Errorf("update/status %s is not followed by update/state %s", m.payload, want)
		}
	}
}

func (r *recorder) last() delivery.State {
	ss := r.states()
	if len(ss) == 0 {
		return delivery.State{}
	}
	return ss[len(ss)-1]
}

// runDevice runs a Device with a recorder and returns Run's result
// channel; opts change its Options.
func runDevice(t *testing.T, inst *install.Installer, version string, opts ...func(*delivery.Options)) (*delivery.Device, *recorder, <-chan error) {
	rec := &recorder{}
	o := delivery.Options{Base: base, Installer: inst, Publish: rec.publish, Version: version, Logger: quiet}
	for _, f := range opts {
		f(&o)
	}
	dev := delivery.NewDevice(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		done <- dev.Run(ctx)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
		rec.checkStatePairs(t)
	})
	return dev, rec, done
}

func restartRequired(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, install.ErrRestartRequired) {
			t.Fatalf("Run = %v, want ErrRestartRequired", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestURLOffer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	bundle := otatest.NewBundle(t, "2.0.0", v2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/doorbelld-2.0.0.ota" {
			http.NotFound(w, r)
			return
		}
		w.Write(bundle)
	}))
	defer srv.Close()
	dev, rec, done := runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0", urlHosts(srv))

	if err := dev.HandleCommand([]byte(`{"version":"2.0.0","url":"` + srv.URL + `/missing.ota"}`)); err != nil {
		t.Fatal(err)
	}
	waitState(t, rec, func(s delivery.State) bool {
		return s.State == delivery.StateFailed && strings.Contains(s.Error, "404")
	})

	if err := dev.HandleCommand([]byte(`{"version":"2.0.0","url":"` + srv.URL + `/doorbelld-2.0.0.ota"}`)); err != nil {
		t.Fatal(err)
	}
	restartRequired(t, done)
	otatest.CheckOneValid(t, dir, v2)
	if s := rec.last(); s.State != delivery.StateRestarting || s.LatestVersion != "2.0.0" || s.InstalledVersion != "1.0.0" || !s.InProgress {
		t.Errorf("last state %+v", s)
	}
}

func TestAnnounceThenInstallFromPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	incoming := t.TempDir()
	path := filepath.Join(incoming, "2.0.0.ota")
	os.WriteFile(path, otatest.NewBundle(t, "2.0.0", v2), 0o644)
	dev, rec, done := runDevice(t, installer(t, dir, "a", "v1.0.0"), "v1.0.0", func(o *delivery.Options) { o.OfferDir = incoming })

	if err := dev.HandleCommand([]byte("install")); !errors.Is(err, delivery.ErrBadOffer) {
		t.Errorf("install with nothing announced: %v", err)
	}
	if err := dev.HandleCommand([]byte(`{"version":"2.0.0","path":"` + path + `","install":false}`)); err != nil {
		t.Fatal(err)
	}
	dev.PublishState()
	s := waitState(t, rec, func(s delivery.State) bool { return s.State == delivery.StateAvailable })
	if s.InstalledVersion != "1.0.0" || s.LatestVersion != "2.0.0" || s.InProgress {
		t.Errorf("announced: %+v", s)
	}
	if err := dev.HandleCommand([]byte(" INSTALL\n")); err != nil {
		t.Fatal(err)
	}
	restartRequired(t, done)
	otatest.CheckOneValid(t, dir, v2)
	var pcts []float64
	for _, s := range rec.states() {
		if s.UpdatePercentage != nil {
			pcts = append(pcts, *s.UpdatePercentage)
		}
	}
	if len(pcts) < 2 || pcts[0] != 0 || pcts[len(pcts)-1] != 100 {
		t.Errorf("percentages %v", pcts)
	}
}

func TestStateAfterTrial(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	if _, err := installer(t, dir, "a", "1.0.0").Install(context.Background(), bytes.NewReader(otatest.NewBundle(t, "2.0.0", v2)), -1, nil); err != nil {
		t.Fatal(err)
	}
	installer(t, dir, "a", "").Boot()
	// 2.0.0 runs; it never gets healthy within its window (on a fake
	// clock, so the state on trial is seen before the window ends).
	clk := clockwork.NewFakeClockAt(time.Now())
	fake := func(o *install.Options) { o.Clock = clk }
	dev, rec, done := runDevice(t, installer(t, dir, "b", "2.0.0", fake), "2.0.0")
	if s := dev.State(); s.State != delivery.StateConfirming || !s.InProgress || s.InstalledVersion != "2.0.0" {
		t.Errorf("on trial: %+v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal("the confirm window's timer never started:", err)
	}
	clk.Advance(install.DefaultConfirmWindow)
	restartRequired(t, done)
	otatest.CheckOneValid(t, dir, v1)
	if s := rec.last(); s.State != delivery.StateRolledBack || !strings.Contains(s.Error, "2.0.0 did not confirm") {
		t.Errorf("after the window: %+v", s)
	}
	// 1.0.0 is back and healthy: the state keeps saying what happened.
	installer(t, dir, "a", "").Boot()
	dev, rec, _ = runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0")
	if err := dev.Confirm(); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, rec, func(delivery.State) bool { return true })
	if s.State != delivery.StateRolledBack || s.InstalledVersion != "1.0.0" || s.LatestVersion != "1.0.0" || s.InProgress {
		t.Errorf("old version confirmed: %+v", s)
	}
}

func TestRefusedOffers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	before := otatest.Snapshot(t, dir)
	dev, rec, _ := runDevice(t, installer(t, dir, "a", "1.0.0"), "1.0.0")
	for _, c := range []struct {
		payload string
		want    error
	}{
		{`{"version":"2.0.0"}`, delivery.ErrBadOffer},
		{`{"version":"2.0.0","transfer":"x1","size":1000000000,"chunk_size":65536}`, ota.ErrTooLarge},
	} {
		if err := dev.HandleCommand([]byte(c.payload)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.payload, err, c.want)
		}
	}
	waitState(t, rec, func(s delivery.State) bool {
		return s.State == delivery.StateFailed && strings.Contains(s.Error, "too large")
	})
	// A transfer that never sends a chunk ends after the idle timeout;
	// a second offer meanwhile is busy.
	if err := dev.HandleCommand([]byte(`{"version":"2.0.0","transfer":"x2","size":5000,"chunk_size":1024}`)); err != nil {
		t.Fatal(err)
	}
	if err := dev.HandleCommand([]byte(`{"version":"2.0.1","transfer":"x3","size":5000,"chunk_size":1024}`)); !errors.Is(err, install.ErrBusy) {
		t.Errorf("second offer: %v", err)
	}
	dev.HandleMessage(delivery.AbortTopic(base, "x2"), nil, false)
	waitState(t, rec, func(s delivery.State) bool {
		return s.State == delivery.StateFailed && strings.Contains(s.Error, "aborted")
	})
	if d := otatest.DiffSnapshots(before, otatest.Snapshot(t, dir)); d != "" {
		t.Errorf("refused offers changed the directory:\n%s", d)
	}
	rec.mu.Lock()
	var acks []string
	for _, m := range rec.msgs {
		if strings.Contains(m.topic, "/ota/") {
			acks = append(acks, m.topic+" "+m.payload)
		}
	}
	rec.mu.Unlock()
	want := fmt.Sprint(delivery.AckTopic(base, "x1"), ` {"next":0,"done":true,"error"`)
	if len(acks) < 3 || !strings.HasPrefix(acks[0], want) || !strings.Contains(strings.Join(acks, "\n"), delivery.AckTopic(base, "x3")+` {"next":0,"done":true,"error":"update: offer of 2.0.1: another update is in progress"}`) {
		t.Errorf("acks:\n%s", strings.Join(acks, "\n"))
	}
}

// waitState waits until a published state satisfies ok, and returns it.
func waitState(t *testing.T, rec *recorder, ok func(delivery.State) bool) delivery.State {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range rec.states() {
			if ok(s) {
				return s
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no such state; got %+v", rec.states())
	return delivery.State{}
}
