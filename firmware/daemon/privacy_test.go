package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/capture/seal/sealtest"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/config"
)

// jpegSOI is how every JPEG starts: SOI, then the next marker's 0xFF.
// Random ciphertext holds these 3 bytes by chance (about once in 5 MB),
// so the checks below look for whole frame headers (plainSigs) instead;
// jpegSOI only checks answers that must not be a picture at all.
var jpegSOI = []byte{0xFF, 0xD8, 0xFF}

// sigLen is how much of each plaintext JPEG a signature holds: no
// ciphertext matches 32 given bytes by chance.
const sigLen = 32

// plainSigs returns the first sigLen bytes of each JPEG: its headers,
// which a plaintext copy anywhere would carry.
func plainSigs(jpegs ...[]byte) [][]byte {
	var out [][]byte
	for _, j := range jpegs {
		if len(j) >= sigLen {
			out = append(out, j[:sigLen])
		}
	}
	return out
}

// holdsAny reports whether b contains any of sigs.
func holdsAny(b []byte, sigs [][]byte) bool {
	for _, s := range sigs {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}

// ownerKey writes a fresh age identity file and returns it with its
// public key.
func ownerKey(t *testing.T) (path, public string) {
	k := sealtest.NewKey(t)
	return k.Path, k.Public
}

// spy records every message the broker hands a subscriber of filter (a
// test's own base: a shared broker carries other tests' messages).
type spy struct {
	mu   sync.Mutex
	msgs []msg
}

func spyOn(t *testing.T, broker, filter string) *spy {
	t.Helper()
	s := &spy{}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("spy-%d-%d", os.Getpid(), testSeq.Add(1))))
	if tok := c.Connect(); !tok.WaitTimeout(liveWait) || tok.Error() != nil {
		t.Fatalf("spy connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, msg{topic: m.Topic(), payload: bytes.Clone(m.Payload()), retained: m.Retained()})
		s.mu.Unlock()
	})
	if !tok.WaitTimeout(liveWait) || tok.Error() != nil {
		t.Fatalf("spy subscribe: %v", tok.Error())
	}
	return s
}

func (s *spy) all() []msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]msg(nil), s.msgs...)
}

// sealedConfig is liveConfig with 1 s of pre- and post-roll and every
// clip and snapshot sealed for public.
func sealedConfig(t *testing.T, public string) config.Config {
	c := liveConfig(t)
	c.Capture.PreRoll = durCfg(time.Second)
	c.Capture.PostRoll = durCfg(time.Second)
	c.Privacy.Recipients = []string{public}
	c.Privacy.EncryptSnapshots = true
	return c
}

// TestSealedEndToEnd: with privacy.recipients and encrypt_snapshots, a
// ring's snapshot and clip leave the device only as ciphertext: no JPEG
// byte on the disk or on the broker (the clip's chunks included), and the
// owner's key opens both — the clip into an MP4 that ffprobe reads.
func TestSealedEndToEnd(t *testing.T) {
	keyPath, pub := ownerKey(t)
	c := sealedConfig(t, pub)
	r := start(t, c)
	tp := r.d.Topics()
	sp := spyOn(t, r.d.brokerURL(), tp.Base+"/#")
	events := subscribe(t, r.d.brokerURL(), tp.Event)
	sealedSnaps := subscribe(t, r.d.brokerURL(), tp.SnapshotSealed)
	clips := subscribe(t, r.d.brokerURL(), tp.Clip)
	waitCamera(t, r)
	waitPreRoll(t, r, c.Capture.PreRoll.D())

	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e, _ := nextEvent(t, events, tp, liveWait)
	opener, err := seal.LoadIdentities(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	open := func(what string, b []byte) []byte {
		t.Helper()
		rd, err := opener.Open(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		p, err := io.ReadAll(rd)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return p
	}
	snap := open("sealed snapshot", next(t, sealedSnaps, tp.SnapshotSealed, liveWait).payload)
	if img, err := jpeg.Decode(bytes.NewReader(snap)); err != nil || img.Bounds().Dx() != c.Camera.Width {
		t.Fatalf("the opened snapshot is not the %dpx JPEG: %v", c.Camera.Width, err)
	}

	var meta storage.Meta
	if err := json.Unmarshal(next(t, clips, tp.Clip, 2*liveWait).payload, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Encryption != "age" || !slices.Contains(meta.EventIDs, e.ID) {
		t.Fatalf("clip %+v: want sealed with age, of event %s", meta, e.ID)
	}
	pulled := pullClip(t, r, meta.ID)
	if !strings.HasSuffix(pulled, ".mp4.age") {
		t.Fatalf("pulled %s, want a .mp4.age file", pulled)
	}
	// The receiver's done reaches the device after the pull returns.
	waitFor(t, "the clip pull audited", func() bool { return r.d.audit.Stats().Entries[audit.ActionClipPull+"/"+audit.OK] == 1 })
	cipher, _ := os.ReadFile(pulled)
	plain := open("pulled clip", cipher)
	mp4 := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(mp4, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	frames := mp4JPEGs(t, mp4)
	if len(frames) != meta.Frames || len(frames) == 0 {
		t.Fatalf("the opened clip has %d frames, the device stored %d", len(frames), meta.Frames)
	}
	if bin, err := exec.LookPath("ffprobe"); err == nil {
		out, err := exec.Command(bin, "-v", "error", "-select_streams", "v:0", "-count_frames",
			"-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0", mp4).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != fmt.Sprintf("mjpeg,%d", meta.Frames) {
			t.Fatalf("ffprobe of the opened clip: %v %q, want mjpeg,%d", err, out, meta.Frames)
		}
	}

	// Nothing in plain: not on the disk (no frame of the clip, nor the
	// snapshot) ...
	sigs := plainSigs(append(frames, snap)...)
	filepath.WalkDir(c.Storage.Dir, func(path string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			if b, _ := os.ReadFile(path); holdsAny(b, sigs) {
				t.Errorf("%s holds a JPEG in plain", path)
			}
		}
		return nil
	})
	// ... nor on the broker, though the whole clip went through it.
	chunks := 0
	for _, m := range sp.all() {
		if strings.Contains(m.topic, "/chunk/") {
			chunks++
		}
		if holdsAny(m.payload, sigs) {
			t.Errorf("the broker carried a JPEG in plain on %s", m.topic)
		}
		if m.topic == tp.Snapshot || m.topic == tp.SnapshotSmall {
			if len(m.payload) > 0 {
				t.Errorf("a plaintext snapshot on %s", m.topic)
			}
		}
	}
	if chunks == 0 {
		t.Fatal("the spy saw no clip chunk: the test proves nothing about the clip on the broker")
	}
	t.Logf("sealed clip: %d bytes of ciphertext, %d of MP4, %d frames; %d chunks and %d messages on the broker, none in plain",
		len(cipher), len(plain), len(frames), chunks, len(sp.all()))

	// The web app has no key: it lists the clip, and refuses to show it.
	cl := loginClient(t, r)
	res, body := httpGet(t, cl, webURL(r, "/api/clips/"+meta.ID+".mp4"))
	if res.StatusCode != http.StatusConflict || bytes.Contains(body, jpegSOI) {
		t.Fatalf("web download of a sealed clip without an identity: %d %.200s, want 409", res.StatusCode, body)
	}
}

// TestSealedClipInWebApp: with privacy.identity_file the web app plays and
// serves a sealed clip as its MP4, decrypted as it is read.
func TestSealedClipInWebApp(t *testing.T) {
	keyPath, pub := ownerKey(t)
	c := sealedConfig(t, pub)
	c.Privacy.IdentityFile = keyPath
	r := start(t, c)
	tp := r.d.Topics()
	clips := subscribe(t, r.d.brokerURL(), tp.Clip)
	waitCamera(t, r)
	waitPreRoll(t, r, c.Capture.PreRoll.D())
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var meta storage.Meta
	if err := json.Unmarshal(next(t, clips, tp.Clip, 2*liveWait).payload, &meta); err != nil {
		t.Fatal(err)
	}
	cl := loginClient(t, r)
	res, body := httpGet(t, cl, webURL(r, "/api/clips/"+meta.ID+".mp4"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("download: %d %.200s", res.StatusCode, body)
	}
	path := filepath.Join(t.TempDir(), "web.mp4")
	os.WriteFile(path, body, 0o600)
	frames := mp4JPEGs(t, path)
	if len(frames) != meta.Frames {
		t.Fatalf("downloaded clip has %d frames, want %d", len(frames), meta.Frames)
	}
	// On the device, still sealed.
	sigs := plainSigs(frames...)
	files, _ := filepath.Glob(filepath.Join(c.Storage.Dir, "clips", "*"+meta.ID+"*"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); holdsAny(b, sigs) {
			t.Fatalf("%s holds a JPEG in plain", f)
		}
	}
}

// auditEntry waits for an audit entry on the MQTT audit topic that
// matches.
func auditEntry(t *testing.T, ib *inbox, topic string, match func(audit.Entry) bool) audit.Entry {
	t.Helper()
	deadline := time.Now().Add(liveWait)
	for time.Now().Before(deadline) {
		var e audit.Entry
		m := next(t, ib, topic, time.Until(deadline))
		if m.retained {
			t.Fatalf("audit entry retained: %s", m.payload)
		}
		if err := json.Unmarshal(m.payload, &e); err != nil {
			t.Fatalf("audit payload %s: %v", m.payload, err)
		}
		if match(e) {
			return e
		}
	}
	t.Fatal("no matching audit entry")
	return audit.Entry{}
}

// TestDeleteRecordings: cmd/delete_recordings removes every clip, clears
// the retained snapshots and the timeline's pictures, and is audited — on
// MQTT, in the log file (whose hash chain verifies), and on /api/audit.
// Privacy mode switched from the web app is audited with the user.
func TestDeleteRecordings(t *testing.T) {
	c := liveConfig(t)
	c.Capture.PreRoll = durCfg(time.Second)
	c.Capture.PostRoll = durCfg(time.Second)
	r := start(t, c)
	tp := r.d.Topics()
	events := subscribe(t, r.d.brokerURL(), tp.Event)
	snaps := subscribe(t, r.d.brokerURL(), tp.Snapshot)
	clips := subscribe(t, r.d.brokerURL(), tp.Clip)
	audits := subscribe(t, r.d.brokerURL(), tp.Audit)
	waitCamera(t, r)
	waitPreRoll(t, r, c.Capture.PreRoll.D())
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e, _ := nextEvent(t, events, tp, liveWait)
	if len(next(t, snaps, tp.Snapshot, liveWait).payload) == 0 {
		t.Fatal("empty snapshot")
	}
	next(t, clips, tp.Clip, 2*liveWait)
	if n := len(r.d.clips.List()); n != 1 {
		t.Fatalf("%d clips stored, want 1", n)
	}
	cl := loginClient(t, r)
	if res, _ := httpGet(t, cl, webURL(r, "/api/events/"+e.ID+"/snapshot.jpg")); res.StatusCode != http.StatusOK {
		t.Fatalf("timeline snapshot: %d", res.StatusCode)
	}
	auditEntry(t, audits, tp.Audit, func(a audit.Entry) bool {
		return a.Action == audit.ActionSnapshot && a.Actor == "web:"+liveUser && a.Object == e.ID && strings.HasPrefix(a.From, "127.0.0.1:")
	})

	commandsReady(t, r)
	publish(t, r.d.brokerURL(), tp.Command("delete_recordings"), false, "PRESS")
	got := auditEntry(t, audits, tp.Audit, func(a audit.Entry) bool { return a.Action == audit.ActionRecordingsDelete })
	if got.Actor != "mqtt" || got.Object != "1 clips" || got.Outcome != audit.OK {
		t.Fatalf("audit entry %+v: want recordings.delete by mqtt of 1 clips", got)
	}
	if n := len(r.d.clips.List()); n != 0 {
		t.Fatalf("%d clips left after delete_recordings", n)
	}
	files, _ := filepath.Glob(filepath.Join(c.Storage.Dir, "clips", "*"))
	if len(files) != 0 {
		t.Fatalf("files left in the clip store: %v", files)
	}
	for {
		m := next(t, snaps, tp.Snapshot, liveWait)
		if len(m.payload) == 0 {
			break // the retained snapshot cleared
		}
	}
	if res, _ := httpGet(t, cl, webURL(r, "/api/events/"+e.ID+"/snapshot.jpg")); res.StatusCode != http.StatusNotFound {
		t.Fatalf("timeline snapshot after delete: %d, want 404", res.StatusCode)
	}

	// Privacy mode from the web app: audited with the user.
	if code := postCSRF(t, r, cl, "/api/switch/privacy", `{"on":true}`); code/100 != 2 {
		t.Fatalf("POST /api/switch/privacy: %d", code)
	}
	auditEntry(t, audits, tp.Audit, func(a audit.Entry) bool {
		return a.Action == audit.ActionPrivacy && a.Actor == "web:"+liveUser && a.Object == "on"
	})

	// The same entries in the file, chained, and on /api/audit.
	last, n, err := audit.VerifyFiles(filepath.Join(c.Storage.Dir, "audit.log"))
	if err != nil || n < 4 || last != r.d.audit.Stats().Head {
		t.Fatalf("audit.log: %d entries, %v; head %s, the daemon's %s", n, err, last, r.d.audit.Stats().Head)
	}
	res, body := httpGet(t, cl, webURL(r, "/api/audit?limit=10"))
	var list []audit.Entry
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) == 0 || list[0].Action != audit.ActionPrivacy {
		t.Fatalf("/api/audit: %d %.300s", res.StatusCode, body)
	}
	for _, secret := range []string{livePass, "doorbelld_session"} {
		if b, _ := os.ReadFile(filepath.Join(c.Storage.Dir, "audit.log")); bytes.Contains(b, []byte(secret)) {
			t.Fatalf("audit.log contains %q", secret)
		}
	}
}

// postCSRF POSTs body (JSON; "" for none) to path as c's logged-in user,
// with the session's CSRF token, and returns the status.
func postCSRF(t *testing.T, r *running, c *http.Client, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", webURL(r, path), strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-CSRF-Token", csrfOf(t, r, c))
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// csrfOf returns the CSRF token of c's session.
func csrfOf(t *testing.T, r *running, c *http.Client) string {
	t.Helper()
	_, body := httpGet(t, c, webURL(r, "/api/session"))
	var s struct{ CSRF string }
	if err := json.Unmarshal(body, &s); err != nil || s.CSRF == "" {
		t.Fatalf("session: %s", body)
	}
	return s.CSRF
}

// TestConfigChangeAudited: a changed config section is audited once, at
// the next start, by name, without its values.
func TestConfigChangeAudited(t *testing.T) {
	c := simConfig(t, testBroker())
	r := start(t, c)
	first := r.d.audit.Recent(10)
	if len(first) == 0 || first[0].Action != audit.ActionConfig || first[0].Reason != "first start with an audit trail" {
		t.Fatalf("first start: %+v", first)
	}
	r.stop(t)

	c.Snapshot.MaxWidth = 320
	r = start(t, c)
	got := r.d.audit.Recent(1)
	if len(got) != 1 || got[0].Action != audit.ActionConfig || got[0].Object != "snapshot" || got[0].Seq != first[0].Seq+1 {
		t.Fatalf("after a change: %+v, want one config entry naming snapshot, after seq %d", got, first[0].Seq)
	}
	r.stop(t)

	r = start(t, c)
	if got := r.d.audit.Recent(1); len(got) != 1 || got[0].Seq != first[0].Seq+1 {
		t.Fatalf("unchanged config audited again: %+v", got)
	}
}

// TestSnapshotAuditRepeat: the same user fetching the same snapshot again
// within snapshotRepeat adds no entry; another user, another picture, or
// later, does.
func TestSnapshotAuditRepeat(t *testing.T) {
	clk := clockwork.NewFakeClock()
	l, _ := audit.Open("", audit.Options{Clock: clk})
	d := &Daemon{clock: clk, audit: l}
	snap := func(actor, object string) {
		d.record(audit.Entry{Action: audit.ActionSnapshot, Actor: actor, Object: object})
	}
	snap("web:alice", "ev1")
	snap("web:alice", "ev1")
	snap("web:bob", "ev1")
	snap("web:alice", "ev2")
	clk.Advance(snapshotRepeat)
	snap("web:alice", "ev1")
	d.record(audit.Entry{Action: audit.ActionPrivacy, Actor: "mqtt", Object: "on"})
	d.record(audit.Entry{Action: audit.ActionPrivacy, Actor: "mqtt", Object: "on"})
	if n := l.Stats().Seq; n != 6 {
		t.Fatalf("%d entries, want 6 (one repeat folded, other actions never)", n)
	}
}
