//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/delivery"
	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

const (
	daemonPkg = "github.com/doorbelld/doorbelld/firmware/cmd/doorbelld"
	ctlPkg    = "github.com/doorbelld/doorbelld/firmware/cmd/doorbellctl"
	// restartSec is the simulated unit's RestartSec (the real unit has 2s).
	restartSec = 200 * time.Millisecond
	// window is ota.confirm_window: the least the config allows.
	window = 30 * time.Second
)

// TestUpdatesEndToEnd: doorbelld 1.0.0 seeded into the OTA slots runs
// through doorbelld-boot under a simulated systemd. doorbellctl pushes
// 2.0.0 (confirmed), then an old bundle and one signed by an unknown key
// (both refused, nothing changes). Home Assistant's update entity sees
// 2.1.0 announced (a URL) and installs it. doorbellctl pushes 3.0.0, which
// crashes at start (the launcher's boot counter rolls it back), and 3.0.1,
// which runs but never reaches the broker (the confirmation window rolls
// it back). Last, 3.0.2 is announced (a path) after those rollbacks and
// installed with "install".
func TestUpdatesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds doorbelld six times and runs updates for about a minute and a half")
	}
	brokerURL := os.Getenv("DOORBELL_TEST_BROKER")
	if brokerURL == "" {
		t.Fatal("DOORBELL_TEST_BROKER not set: run through scripts/test.sh")
	}
	began := time.Now()
	work := t.TempDir()
	bin := buildAll(t, filepath.Join(work, "bin"))
	t.Logf("built in %v", time.Since(began).Round(100*time.Millisecond))

	h := newHarness(t, work, brokerURL, bin["ctl"])
	// Keys: the trusted pair, and a rogue one the device does not know.
	h.ctl(0, "ota", "keygen", "--out", filepath.Join(work, "keys"), "--name", "trusted")
	h.ctl(0, "ota", "keygen", "--out", filepath.Join(work, "keys"), "--name", "rogue")
	trusted, rogue := filepath.Join(work, "keys", "trusted.key"), filepath.Join(work, "keys", "rogue.key")
	// The LAN server of the URL offer, allowed by ota.url_hosts.
	srv := slowServer(t, h.sign(trusted, "2.1.0", bin["2.1.0"]))
	cfg := h.writeConfig(filepath.Join(work, "keys", "trusted.pub"), srv.Listener.Addr().String())

	// Install: seed the slots with 1.0.0, start the unit.
	seed := exec.Command(bin["boot"], "--dir", h.otaDir, "--seed", bin["1.0.0"], "--seed-version", "1.0.0")
	if out, err := seed.CombinedOutput(); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	h.unit = startUnit(t, filepath.Join(work, "logs"), bin["boot"], "--dir", h.otaDir, "--", "--sim", "--config", cfg)
	h.awaitRunning(0, "1.0.0")
	h.expectStarts(0, "1.0.0 up")
	h.checkDiscovery(0, "1.0.0")
	h.expectSlot("a", install.Status{Floor: "1.0.0", Version: "1.0.0"})

	// 1.0.0 → 2.0.0 with doorbellctl, which waits for the confirmation.
	t.Log("push 2.0.0")
	m, s := h.rec.mark(), h.unit.running()
	out := h.push(0, "60s", h.sign(trusted, "2.0.0", bin["2.0.0"]))
	if !strings.Contains(out, "2.0.0 installed, running and confirmed healthy") {
		t.Errorf("push 2.0.0: %s", out)
	}
	h.awaitRunning(m, "2.0.0")
	h.expectStarts(s, "1.0.0 exit 75", "2.0.0 up")
	h.expectSlot("b", install.Status{Floor: "2.0.0", Version: "2.0.0", Outcome: install.OutcomeConfirmed})
	h.checkProgress(m, "2.0.0")
	h.checkDiscovery(m, "2.0.0")

	// Refused, changing nothing: the old 1.0.0 bundle (signed by the
	// trusted key) replayed, and a bundle signed by an unknown key.
	h.refused("2.0.0", h.sign(trusted, "1.0.0", bin["1.0.0"]), "version 1.0.0 is not newer than 2.0.0", ota.ErrDowngrade)
	h.refused("2.0.0", h.sign(rogue, "2.1.0", bin["2.1.0"]), "not signed by one of the trusted keys", ota.ErrUnknownKey)

	// Home Assistant: 2.1.0 announced at a LAN URL with "install": false
	// shows as latest_version; the update entity's "install" installs it.
	t.Log("Home Assistant: announce and install 2.1.0")
	m, s = h.rec.mark(), h.unit.running()
	h.announce("2.0.0", "2.1.0", fmt.Sprintf(`{"version":"2.1.0","url":%q,"install":false}`, srv.URL+"/doorbelld-2.1.0.bundle"))
	m = h.rec.mark()
	h.publish(mqttapi.TopicsUnder(h.base).Command(mqttapi.CmdUpdate), "install")
	h.awaitRunning(m, "2.1.0")
	h.awaitState(m, "2.1.0 confirmed", func(st delivery.State) bool {
		return st.State == delivery.StateIdle && st.InstalledVersion == "2.1.0" && st.LatestVersion == "2.1.0" &&
			!st.InProgress && st.UpdatePercentage == nil && st.Error == ""
	})
	h.expectStarts(s, "2.0.0 exit 75", "2.1.0 up")
	h.expectSlot("a", install.Status{Floor: "2.1.0", Version: "2.1.0", Outcome: install.OutcomeConfirmed})
	if n := h.checkProgress(m, "2.1.0"); n < 2 {
		t.Errorf("%d progress states between 0 and 100 in a 3s download, want at least 2", n)
	}
	h.checkDiscovery(m, "2.1.0")

	// 2.1.0 → 3.0.0, which crashes at every start: after 3 starts the
	// launcher goes back to 2.1.0, which confirms again.
	t.Log("push 3.0.0 (crashes at start)")
	m, s = h.rec.mark(), h.unit.running()
	bundle300 := h.sign(trusted, "3.0.0", bin["3.0.0"])
	out = h.push(1, "60s", bundle300)
	if !strings.Contains(out, "rolled_back: version 3.0.0 did not confirm its health in 3 starts; rolled back to 2.1.0") {
		t.Errorf("push 3.0.0: %s", out)
	}
	h.awaitRunning(m, "2.1.0")
	h.awaitConfirmed()
	h.expectStarts(s, "2.1.0 exit 75", "3.0.0 exit 2", "3.0.0 exit 2", "3.0.0 exit 2", "2.1.0 up")
	h.expectSlot("a", install.Status{Floor: "2.1.0", Version: "2.1.0", Outcome: install.OutcomeRolledBack,
		Error: "version 3.0.0 did not confirm its health in 3 starts; rolled back to 2.1.0"})
	h.awaitState(m, "rolled back from 3.0.0", func(st delivery.State) bool {
		return st.State == delivery.StateRolledBack && st.InstalledVersion == "2.1.0" && st.LatestVersion == "2.1.0" &&
			!st.InProgress && st.UpdatePercentage == nil && strings.Contains(st.Error, "3.0.0 did not confirm its health in 3 starts")
	})
	if !h.unit.logContains(s+1, "otafail: this test build crashes at start") {
		t.Error("3.0.0 did not crash as built")
	}
	// Offered again within the hour: refused.
	h.refused("2.1.0", bundle300, "version 3.0.0 failed its health check", install.ErrRecentlyFailed)

	// 2.1.0 → 3.0.1, which runs but never reaches the broker: the
	// confirmation window runs out, it rolls back and exits 75.
	t.Log("push 3.0.1 (never reaches the broker; waits out the confirmation window)")
	m, s = h.rec.mark(), h.unit.running()
	pushed := time.Now()
	out = h.push(1, "90s", h.sign(trusted, "3.0.1", bin["3.0.1"]))
	if !strings.Contains(out, "rolled_back: version 3.0.1 did not confirm its health within 30s; rolled back to 2.1.0") {
		t.Errorf("push 3.0.1: %s", out)
	}
	if took := time.Since(pushed); took < window {
		t.Errorf("3.0.1 rolled back after %v, before the confirmation window of %v", took, window)
	} else {
		t.Logf("3.0.1 rolled back, 2.1.0 back %v after the push", took.Round(100*time.Millisecond))
	}
	h.awaitRunning(m, "2.1.0")
	h.awaitConfirmed()
	h.expectStarts(s, "2.1.0 exit 75", "3.0.1 exit 75", "2.1.0 up")
	h.expectSlot("a", install.Status{Floor: "2.1.0", Version: "2.1.0", Outcome: install.OutcomeRolledBack,
		Error: "version 3.0.1 did not confirm its health within 30s; rolled back to 2.1.0"})
	if !h.unit.logContains(s+1, "doorbelld running") || !h.unit.logContains(s+1, "ota: on trial") {
		t.Error("3.0.1 did not run its daemon and trial")
	}
	if h.rec.any(m, h.base+"/health", func(b []byte) bool { return healthVersion(b) == "3.0.1" }) {
		t.Error("3.0.1 reached the broker")
	}

	// After the rollbacks: 3.0.2 announced (a path on the device) must show
	// as latest_version again, and "install" installs it.
	t.Log("announce and install 3.0.2 after the rollbacks")
	m, s = h.rec.mark(), h.unit.running()
	h.announce("2.1.0", "3.0.2", fmt.Sprintf(`{"version":"3.0.2","path":%q,"install":false}`, h.offerFile(h.sign(trusted, "3.0.2", bin["3.0.2"]))))
	m = h.rec.mark()
	h.publish(mqttapi.TopicsUnder(h.base).Command(mqttapi.CmdUpdate), "install")
	h.awaitRunning(m, "3.0.2")
	h.awaitState(m, "3.0.2 confirmed", func(st delivery.State) bool {
		return st.State == delivery.StateIdle && st.InstalledVersion == "3.0.2" && st.LatestVersion == "3.0.2" && st.Error == ""
	})
	h.expectStarts(s, "2.1.0 exit 75", "3.0.2 up")
	h.expectSlot("b", install.Status{Floor: "3.0.2", Version: "3.0.2", Outcome: install.OutcomeConfirmed})
	h.checkProgress(m, "3.0.2")

	// Stop the unit: doorbelld exits 0 and says offline.
	m = h.rec.mark()
	if code := h.unit.stop(); code != 0 {
		t.Errorf("stop: exit %d, want 0", code)
	}
	h.rec.await(t, m, h.base+"/status", 10*time.Second, "offline at stop", func(b []byte) bool { return string(b) == "offline" })
	t.Logf("took %v", time.Since(began).Round(100*time.Millisecond))
}

// announce publishes offer (with "install": false) and checks that the
// update entity shows version as latest_version, and that nothing on disk
// changed (also right after a rollback, which once hid the announcement).
func (h *harness) announce(installed, version, offer string) {
	t := h.t
	t.Helper()
	before := otatest.Snapshot(t, h.otaDir)
	m := h.rec.mark()
	h.publish(mqttapi.TopicsUnder(h.base).Command(mqttapi.CmdUpdate), offer)
	available := func(st delivery.State) bool {
		return st.State == delivery.StateAvailable && st.InstalledVersion == installed && st.LatestVersion == version &&
			!st.InProgress && st.UpdatePercentage == nil
	}
	h.awaitState(m, version+" announced", available)
	if d := otatest.DiffSnapshots(before, otatest.Snapshot(t, h.otaDir)); d != "" {
		t.Errorf("an announcement changed the OTA directory:\n%s", d)
	}
}

// push runs doorbellctl ota push, which must exit with code.
func (h *harness) push(code int, wait, bundle string) string {
	h.t.Helper()
	return h.ctl(code, "ota", "push", "--broker", h.broker, "--prefix", h.prefix, "--device", "front", "--wait", wait, bundle)
}

// slowServer serves the file bundle in about 3s, so that the progress
// states show.
func slowServer(t *testing.T, bundle string) *httptest.Server {
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		const pieces = 50
		step := (len(b) + pieces - 1) / pieces
		for off := 0; off < len(b); off += step {
			if _, err := w.Write(b[off:min(off+step, len(b))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(60 * time.Millisecond)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// harness is the device under test and the tools around it.
type harness struct {
	t       *testing.T
	work    string
	ctlBin  string
	broker  string
	prefix  string // mqtt.topic_prefix, unique per run on the shared broker
	base    string // <prefix>/front
	disc    string // the device's discovery topic
	otaDir  string // <storage.dir>/ota
	offers  string // ota.offer_dir: where path offers point
	rec     *recorder
	watcher paho.Client
	unit    *unit
	inst    *install.Installer // reads the state, as doorbellctl ota status does
}

func newHarness(t *testing.T, work, brokerURL, ctlBin string) *harness {
	prefix := fmt.Sprintf("e2e%d", os.Getpid())
	h := &harness{
		t: t, work: work, ctlBin: ctlBin, broker: brokerURL, prefix: prefix, base: prefix + "/front",
		disc: prefix + "-ha/device/front/config", otaDir: filepath.Join(work, "state", "ota"), offers: filepath.Join(work, "incoming"), rec: newRecorder(),
	}
	var err error
	if h.inst, err = install.New(install.Options{Dir: h.otaDir}); err != nil {
		t.Fatal(err)
	}
	h.watcher = paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).SetClientID(prefix + "-watch").SetCleanSession(true))
	if tok := h.watcher.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", brokerURL, tok.Error())
	}
	handler := func(_ paho.Client, m paho.Message) {
		h.rec.add(message{topic: m.Topic(), payload: append([]byte(nil), m.Payload()...)})
	}
	for _, f := range []string{h.base + "/#", h.disc} {
		if tok := h.watcher.Subscribe(f, 1, handler); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
	}
	t.Cleanup(func() {
		if h.unit != nil {
			h.unit.stop()
			if t.Failed() {
				h.unit.dumpLogs(t)
			}
		}
		// Clear what the device left retained on the shared broker.
		tp := mqttapi.TopicsUnder(h.base)
		for _, topic := range []string{tp.Status, tp.Health, tp.UpdateState, tp.UpdateStatus, tp.Diagnostics, tp.PrivacyState, tp.ChimeState, tp.Motion} {
			h.watcher.Publish(topic, 1, true, []byte{}).WaitTimeout(5 * time.Second)
		}
		h.watcher.Publish(h.disc, 1, true, []byte{}).WaitTimeout(5 * time.Second)
		h.watcher.Disconnect(250)
	})
	return h
}

// writeConfig writes doorbelld's config: the shared broker, no camera, no
// HTTP, state in work/state (OTA slots in work/state/ota), the trusted
// keys, the shortest confirmation window, path offers from work/incoming
// and url offers from urlHost (host:port).
func (h *harness) writeConfig(keys, urlHost string) string {
	if err := os.MkdirAll(h.offers, 0o755); err != nil {
		h.t.Fatal(err)
	}
	cfg := fmt.Sprintf(`device: {id: front, name: Front door}
mqtt: {broker: %q, client_id: %s-front, topic_prefix: %s, discovery_prefix: %s-ha}
http: {listen: ""}
camera: {device: ""}
storage: {dir: %q}
ota: {keys_file: %q, confirm_window: %v, offer_dir: %q, url_hosts: [%q]}
`, h.broker, h.prefix, h.prefix, h.prefix, filepath.Join(h.work, "state"), keys, window, h.offers, urlHost)
	p := filepath.Join(h.work, "config.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// offerFile copies bundle into ota.offer_dir and returns its path there.
func (h *harness) offerFile(bundle string) string {
	h.t.Helper()
	b, err := os.ReadFile(bundle)
	if err != nil {
		h.t.Fatal(err)
	}
	p := filepath.Join(h.offers, filepath.Base(bundle))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// ctl runs doorbellctl, fails the test unless it exits with code, and
// returns its stdout and stderr.
func (h *harness) ctl(code int, args ...string) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.ctlBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	got := 0
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("doorbellctl %s: %v", strings.Join(args, " "), err)
	}
	if got != code {
		h.t.Fatalf("doorbellctl %s: exit %d, want %d\n%s", strings.Join(args, " "), got, code, out.String())
	}
	return out.String()
}

// sign makes a bundle of binary with doorbellctl ota sign.
func (h *harness) sign(key, version, binary string) string {
	h.t.Helper()
	out := filepath.Join(h.work, fmt.Sprintf("doorbelld-%s-%s.bundle", version, strings.TrimSuffix(filepath.Base(key), ".key")))
	if _, err := os.Stat(out); err != nil {
		h.ctl(0, "ota", "sign", "--key", key, "--version", version, "--in", binary, "--out", out)
	}
	return out
}

// refused pushes bundle and checks that the device refuses it for
// reason, and that nothing changed: the OTA directory, the running
// process, the version.
func (h *harness) refused(installed, bundle, text string, reason error) {
	t := h.t
	t.Helper()
	t.Logf("push %s (must be refused)", filepath.Base(bundle))
	before := otatest.Snapshot(t, h.otaDir)
	m, s := h.rec.mark(), h.unit.running()
	out := h.push(1, "60s", bundle)
	if !strings.Contains(out, delivery.ErrRefused.Error()) || !strings.Contains(out, reason.Error()) || !strings.Contains(out, text) {
		t.Errorf("push %s: want refused, %q, %q:\n%s", filepath.Base(bundle), text, reason, out)
	}
	st := h.awaitState(m, "refused", func(st delivery.State) bool { return st.State == delivery.StateFailed })
	if !strings.Contains(st.Error, reason.Error()) || st.InstalledVersion != installed || st.InProgress {
		t.Errorf("state after a refused offer: %+v", st)
	}
	if d := otatest.DiffSnapshots(before, otatest.Snapshot(t, h.otaDir)); d != "" {
		t.Errorf("a refused bundle changed the OTA directory:\n%s", d)
	}
	time.Sleep(time.Second) // time for a wrong restart to show
	h.expectStarts(s, installed+" up")
	if h.rec.any(m, h.base+"/status", func(b []byte) bool { return string(b) != "online" }) {
		t.Error("the daemon went offline after a refused bundle")
	}
}

// awaitRunning waits for a start of version: online, with its version in
// the health JSON.
func (h *harness) awaitRunning(from int, version string) {
	h.t.Helper()
	h.rec.await(h.t, from, h.base+"/health", 90*time.Second, "health of "+version, func(b []byte) bool {
		return healthVersion(b) == version
	})
}

func healthVersion(b []byte) string {
	var hl struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(b, &hl)
	return hl.Version
}

// awaitConfirmed waits until the installer has no trial left.
func (h *harness) awaitConfirmed() {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := h.inst.Status()
		if err == nil && st.Phase == install.PhaseIdle {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("still on trial: %+v %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitState waits for an update/status (the whole update state; Home
// Assistant's entity gets its update/state part) and returns it.
func (h *harness) awaitState(from int, what string, ok func(delivery.State) bool) delivery.State {
	h.t.Helper()
	var st delivery.State
	h.rec.await(h.t, from, mqttapi.TopicsUnder(h.base).UpdateStatus, 30*time.Second, "update/status "+what, func(b []byte) bool {
		st = delivery.State{}
		return json.Unmarshal(b, &st) == nil && ok(st)
	})
	return st
}

// haUpdateKeys are the keys Home Assistant's update entity accepts on its
// state topic (MQTT_JSON_UPDATE_SCHEMA; package hass tests the whole rule).
var haUpdateKeys = map[string]bool{"installed_version": true, "latest_version": true, "title": true,
	"release_summary": true, "release_url": true, "entity_picture": true, "in_progress": true, "update_percentage": true}

// checkProgress checks the update/status messages of an update to version
// since from: downloading with a rising update_percentage, restarting at
// 100, then the new version installed, never a failure; and that every
// update/state, what Home Assistant's entity reads, has only keys it
// accepts. It returns how many progress states lay strictly between 0 and
// 100.
func (h *harness) checkProgress(from int, version string) int {
	t := h.t
	t.Helper()
	tp := mqttapi.TopicsUnder(h.base)
	for _, b := range h.rec.all(from, tp.UpdateState) {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("update/state %s: %v", b, err)
		}
		for k := range m {
			if !haUpdateKeys[k] {
				t.Errorf("update/state %s: Home Assistant drops it for the key %q", b, k)
			}
		}
	}
	var seq []string
	last, between, restarting := -1.0, 0, false
	for _, b := range h.rec.all(from, tp.UpdateStatus) {
		var st delivery.State
		if err := json.Unmarshal(b, &st); err != nil {
			t.Errorf("update/status %s: %v", b, err)
			continue
		}
		p := "null"
		if st.UpdatePercentage != nil {
			p = strconv.FormatFloat(*st.UpdatePercentage, 'f', -1, 64)
		}
		seq = append(seq, fmt.Sprintf("%s %s→%s %v %s", st.State, st.InstalledVersion, st.LatestVersion, st.InProgress, p))
		switch st.State {
		case delivery.StateDownloading, delivery.StateRestarting:
			if !st.InProgress || st.UpdatePercentage == nil || st.LatestVersion != version || *st.UpdatePercentage < last {
				t.Errorf("update/status during the update: %s", b)
				continue
			}
			last = *st.UpdatePercentage
			if last > 0 && last < 100 {
				between++
			}
			if st.State == delivery.StateRestarting {
				restarting = restarting || last == 100
			}
		case delivery.StateConfirming, delivery.StateIdle:
		default:
			t.Errorf("update/status during the update: %s", b)
		}
	}
	t.Logf("update/status to %s: %s", version, strings.Join(seq, "; "))
	if !restarting || last != 100 {
		t.Errorf("update to %s: no restarting state at 100%%", version)
	}
	return between
}

// checkDiscovery checks the Home Assistant update entity announced since
// from: its topics, install payload, and the device's sw_version.
func (h *harness) checkDiscovery(from int, version string) {
	t := h.t
	t.Helper()
	var d struct {
		Device struct {
			SWVersion string `json:"sw_version"`
		} `json:"device"`
		Components map[string]map[string]any `json:"components"`
	}
	h.rec.await(t, from, h.disc, 30*time.Second, "discovery of "+version, func(b []byte) bool {
		return json.Unmarshal(b, &d) == nil && d.Device.SWVersion == version
	})
	fw, tp := d.Components["firmware"], mqttapi.TopicsUnder(h.base)
	if fw["platform"] != "update" || fw["state_topic"] != tp.UpdateState || fw["json_attributes_topic"] != tp.UpdateStatus ||
		fw["command_topic"] != tp.Command(mqttapi.CmdUpdate) || fw["payload_install"] != mqttapi.InstallPayload {
		t.Errorf("update entity: %v", fw)
	}
}

// expectSlot checks the current link and the installer's state.
func (h *harness) expectSlot(slot string, want install.Status) {
	t := h.t
	t.Helper()
	if link, err := os.Readlink(filepath.Join(h.otaDir, install.CurrentLink)); err != nil || link != "slot-"+slot {
		t.Errorf("current -> %q (%v), want slot-%s", link, err, slot)
	}
	st, err := h.inst.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != install.PhaseIdle || st.Current != slot || st.Version != want.Version || st.Floor != want.Floor ||
		st.Outcome != want.Outcome || !strings.Contains(st.Error, want.Error) {
		t.Errorf("ota status %+v\nwant slot %s, version %s, floor %s, outcome %q, error %q", st, slot, want.Version, want.Floor, want.Outcome, want.Error)
	}
}

// expectStarts checks the unit's starts from index from: "VERSION exit N"
// or "VERSION up".
func (h *harness) expectStarts(from int, want ...string) {
	h.t.Helper()
	got := h.unit.describe(from)
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		h.t.Errorf("starts:\n got  %s\n want %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
}

// publish sends a command as Home Assistant does: QoS 1, not retained.
func (h *harness) publish(topic, payload string) {
	h.t.Helper()
	if tok := h.watcher.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		h.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// buildAll builds the launcher, doorbellctl and doorbelld 1.0.0, 2.0.0,
// 2.1.0 and 3.0.2, and the broken 3.0.0 (crashes at start) and 3.0.1
// (never reaches the broker) with the otafail tag.
func buildAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	build := func(out, version, fail string, pkgs ...string) error {
		ldflags := "-X main.version=" + version
		args := []string{"build", "-o", out}
		if fail != "" {
			ldflags += " -X main.otaFail=" + fail
			args = append(args, "-tags", "otafail")
		}
		args = append(append(args, "-ldflags", ldflags), pkgs...)
		if b, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return nil
	}
	bin := map[string]string{
		"boot": filepath.Join(dir, "1.0.0", "doorbelld-boot"),
		"ctl":  filepath.Join(dir, "1.0.0", "doorbellctl"),
	}
	for _, v := range []string{"1.0.0", "2.0.0", "2.1.0", "3.0.0", "3.0.1", "3.0.2"} {
		if err := os.MkdirAll(filepath.Join(dir, v), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// One build first, so the others find the packages compiled.
	if err := build(filepath.Join(dir, "1.0.0")+"/", "1.0.0", "", daemonPkg, otatest.LauncherPkg, ctlPkg); err != nil {
		t.Fatal(err)
	}
	bin["1.0.0"] = filepath.Join(dir, "1.0.0", "doorbelld")
	rest := []struct{ version, fail string }{{"2.0.0", ""}, {"2.1.0", ""}, {"3.0.0", "crash"}, {"3.0.1", "offline"}, {"3.0.2", ""}}
	errs := make([]error, len(rest))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, r := range rest {
		out := filepath.Join(dir, r.version, "doorbelld")
		bin[r.version] = out
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = build(out, r.version, r.fail, daemonPkg)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return bin
}

// unit is a simulated systemd unit: ExecStart=argv, Restart=on-failure
// (every exit but 0 restarts, after restartSec).
type unit struct {
	argv   []string
	logDir string

	mu       sync.Mutex
	starts   []*start
	cmd      *exec.Cmd
	stopping bool
	done     chan struct{}
}

type start struct {
	log  string // its stdout and stderr
	exit int    // -1 while running
}

func startUnit(t *testing.T, logDir string, argv ...string) *unit {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	u := &unit{argv: argv, logDir: logDir, done: make(chan struct{})}
	go u.loop()
	return u
}

func (u *unit) loop() {
	defer close(u.done)
	for n := 1; ; n++ {
		s := &start{log: filepath.Join(u.logDir, fmt.Sprintf("start-%02d.log", n)), exit: -1}
		f, err := os.Create(s.log)
		if err != nil {
			return
		}
		cmd := exec.Command(u.argv[0], u.argv[1:]...)
		cmd.Stdout, cmd.Stderr = f, f
		u.mu.Lock()
		if u.stopping {
			u.mu.Unlock()
			f.Close()
			return
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(f, "unit: start:", err)
			f.Close()
			s.exit = 255
			u.starts = append(u.starts, s)
			u.mu.Unlock()
			return
		}
		u.cmd = cmd
		u.starts = append(u.starts, s)
		u.mu.Unlock()
		_ = cmd.Wait()
		f.Close()
		u.mu.Lock()
		s.exit, u.cmd = cmd.ProcessState.ExitCode(), nil
		stop := u.stopping || s.exit == 0
		u.mu.Unlock()
		if stop {
			return
		}
		time.Sleep(restartSec)
	}
}

// stop sends SIGTERM, as systemctl stop does, and returns the exit code
// of the last start.
func (u *unit) stop() int {
	u.mu.Lock()
	u.stopping = true
	cmd := u.cmd
	u.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-u.done:
	case <-time.After(15 * time.Second):
		if cmd != nil {
			_ = cmd.Process.Kill()
		}
		<-u.done
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.starts) == 0 {
		return -1
	}
	return u.starts[len(u.starts)-1].exit
}

// running is the index of the last start.
func (u *unit) running() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.starts) - 1
}

var launched = regexp.MustCompile(`msg="doorbelld-boot: starting".* version=(\S+)`)

// describe returns "VERSION exit N" or "VERSION up" for each start from
// index from, the version as the launcher chose it.
func (u *unit) describe(from int) []string {
	u.mu.Lock()
	starts := append([]*start(nil), u.starts[min(max(from, 0), len(u.starts)):]...)
	exits := make([]int, len(starts))
	for i, s := range starts {
		exits[i] = s.exit
	}
	u.mu.Unlock()
	var d []string
	for i, s := range starts {
		v := "?"
		if b, err := os.ReadFile(s.log); err == nil {
			if m := launched.FindSubmatch(b); m != nil {
				v = string(m[1])
			}
		}
		if exits[i] == -1 {
			d = append(d, v+" up")
		} else {
			d = append(d, fmt.Sprintf("%s exit %d", v, exits[i]))
		}
	}
	return d
}

// logContains reports whether start n (0-based) printed s.
func (u *unit) logContains(n int, s string) bool {
	b, err := os.ReadFile(filepath.Join(u.logDir, fmt.Sprintf("start-%02d.log", n+1)))
	return err == nil && bytes.Contains(b, []byte(s))
}

func (u *unit) dumpLogs(t *testing.T) {
	ents, _ := os.ReadDir(u.logDir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(u.logDir, e.Name()))
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		t.Logf("%s (last %d of %d lines):\n%s", e.Name(), min(40, len(lines)), len(lines), strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

// recorder keeps every message the watcher got, in order.
type recorder struct {
	mu   sync.Mutex
	msgs []message
	more chan struct{} // closed and replaced at every message
}

type message struct {
	topic   string
	payload []byte
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{})} }

func (r *recorder) add(m message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	close(r.more)
	r.more = make(chan struct{})
	r.mu.Unlock()
}

// mark is the index of the next message.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) snapshot() ([]message, chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs, r.more
}

// await waits for a message on topic at or after index from that ok
// accepts, and returns it; it fails t after timeout.
func (r *recorder) await(t *testing.T, from int, topic string, timeout time.Duration, what string, ok func([]byte) bool) []byte {
	t.Helper()
	p, found := r.find(from, topic, timeout, ok)
	if !found {
		var seen []string
		for _, p := range r.all(from, topic) {
			seen = append(seen, string(p))
		}
		t.Fatalf("%s: not on %s within %v; there came:\n%s", what, topic, timeout, strings.Join(seen, "\n"))
	}
	return p
}

// find waits up to timeout for a message on topic at or after index from
// that ok accepts.
func (r *recorder) find(from int, topic string, timeout time.Duration, ok func([]byte) bool) ([]byte, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for i := from; ; {
		msgs, more := r.snapshot()
		for ; i < len(msgs); i++ {
			if msgs[i].topic == topic && ok(msgs[i].payload) {
				return msgs[i].payload, true
			}
		}
		select {
		case <-more:
		case <-deadline.C:
			return nil, false
		}
	}
}

// all returns the payloads on topic from index from.
func (r *recorder) all(from int, topic string) [][]byte {
	msgs, _ := r.snapshot()
	var ps [][]byte
	for _, m := range msgs[min(from, len(msgs)):] {
		if m.topic == topic {
			ps = append(ps, m.payload)
		}
	}
	return ps
}

// any reports whether a message on topic from index from satisfies ok.
func (r *recorder) any(from int, topic string, ok func([]byte) bool) bool {
	for _, p := range r.all(from, topic) {
		if ok(p) {
			return true
		}
	}
	return false
}
