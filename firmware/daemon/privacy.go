package daemon

// privacy.go: what keeps the pictures to their owner, beyond the masks
// (hardware.go) and privacy mode (switches.go):
//
//	privacy.recipients ──▶ d.sealer ──▶ storage (every clip sealed on its way to disk/RAM)
//	                                └─▶ snapshots (privacy.encrypt_snapshots: snapshot/age only)
//	privacy.identity_file ──▶ d.opener ──▶ the web app plays sealed clips
//
//	web, rtsp, commands, clip transfer, OTA, config ──audit()──▶ d.audit (firmware/audit):
//	    <storage.dir>/audit.log (hash-chained, rotated) ──▶ "audit" part ──▶ MQTT <base>/audit (QoS 1, not retained)
//	                                                    ──▶ GET /api/audit (web app), /metrics counters
//
//	cmd/delete_recordings, web app ──deleteRecordings──▶ every clip, the retained snapshots,
//	                                                      the timeline's pictures; audited

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	"go.yaml.in/yaml/v3"

	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/audit"
)

// auditQueue is how many audit entries may wait for the MQTT publisher;
// more are dropped from MQTT (counted), never from the log file.
const auditQueue = 64

// buildPrivacy opens the audit trail and the sealing keys, and records a
// config change since the last start.
func (d *Daemon) buildPrivacy() error {
	path := filepath.Join(d.cfg.Storage.Dir, "audit.log")
	l, err := audit.Open(path, audit.Options{Sync: true, Clock: d.clock, Logger: d.log})
	if err != nil {
		d.log.Error("daemon: audit log unavailable; the audit trail is kept in memory only", "path", path, "err", err)
		l, _ = audit.Open("", audit.Options{Clock: d.clock, Logger: d.log})
	}
	d.audit = l
	d.auditCh, d.auditStop = l.Subscribe(auditQueue)
	d.auditKick = make(chan struct{}, 1)
	p := d.cfg.Privacy
	if len(p.Recipients) > 0 {
		if d.sealer, err = seal.NewSealer(p.Recipients); err != nil {
			return errors.New("daemon: privacy.recipients: " + err.Error())
		}
	}
	if p.IdentityFile != "" {
		if d.opener, err = seal.LoadIdentities(p.IdentityFile); err != nil {
			return errors.New("daemon: privacy.identity_file: " + err.Error())
		}
	}
	d.auditConfig()
	return nil
}

// snapshotRepeat is how long a user's further fetches of the same
// snapshot go unrecorded: the web app's timeline fetches every event's
// thumbnail on each page load, and one entry per user, picture and
// quarter hour says who saw it without flooding the trail (or the SD
// card: each entry is fsynced).
const snapshotRepeat = 15 * time.Minute

// record adds an entry to the audit trail.
func (d *Daemon) record(e audit.Entry) {
	if e.Outcome == "" {
		e.Outcome = audit.OK
	}
	if e.Action == audit.ActionSnapshot && e.Outcome == audit.OK && d.recentlySeen(e.Actor+"\x00"+e.Object) {
		return
	}
	d.audit.Record(e)
}

// recentlySeen reports whether key was seen within snapshotRepeat, and
// notes it now.
func (d *Daemon) recentlySeen(key string) bool {
	now := d.clock.Now()
	d.seenMu.Lock()
	defer d.seenMu.Unlock()
	if d.seen == nil {
		d.seen = make(map[string]time.Time)
	}
	if t, ok := d.seen[key]; ok && now.Sub(t) < snapshotRepeat && !now.Before(t) {
		return true
	}
	if len(d.seen) >= 1024 { // bounded: forget the old ones
		for k, t := range d.seen {
			if now.Sub(t) >= snapshotRepeat || now.Before(t) {
				delete(d.seen, k)
			}
		}
		if len(d.seen) >= 1024 {
			clear(d.seen)
		}
	}
	d.seen[key] = now
	return false
}

// actor is who a command came from, for the audit trail: "mqtt" (any
// client of the broker) or "web:<user>".
func actor(from string) string {
	if from == "" {
		return "mqtt"
	}
	return from
}

// auditBacklog bounds the audit entries kept for MQTT while the broker
// is away (the file has them all).
const auditBacklog = 256

// runAudit publishes audit entries on <base>/audit until ctx is done.
// While the broker is away they wait (at most auditBacklog, the oldest
// dropped first) and go out after the next connect (auditKick): paho is
// not handed messages to keep for a connection that is not there.
func (d *Daemon) runAudit(ctx context.Context) error {
	var pending [][]byte
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.auditKick:
		case e, ok := <-d.auditCh:
			if !ok {
				return nil
			}
			b, err := json.Marshal(e)
			if err != nil {
				continue
			}
			if len(pending) == auditBacklog {
				pending = pending[1:]
			}
			pending = append(pending, b)
		}
		if !d.MQTTConnected() {
			continue
		}
		for _, b := range pending {
			d.mq.Publish(d.topics.Audit, 1, false, b)
		}
		pending = pending[:0]
	}
}

// configState is <storage.dir>/config-audit.json: a hash of each config
// section as of the last start, so a change is audited once.
const configState = "config-audit.json"

// auditConfig records which config sections changed since the last start
// (by hash: the state file holds no value).
func (d *Daemon) auditConfig() {
	now, err := sectionHashes(d.cfg)
	if err != nil {
		d.log.Warn("daemon: audit config", "err", err)
		return
	}
	path := filepath.Join(d.cfg.Storage.Dir, configState)
	var before map[string]string
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		d.log.Warn("daemon: audit config", "err", err)
	default:
		if err := json.Unmarshal(b, &before); err != nil {
			d.log.Warn("daemon: audit config: ignoring a bad state file", "path", path, "err", err)
		}
	}
	var changed []string
	for k, h := range now {
		if before[k] != h {
			changed = append(changed, k)
		}
	}
	for k := range before {
		if _, ok := now[k]; !ok {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return
	}
	slices.Sort(changed)
	reason := "changed since the last start"
	if before == nil {
		reason = "first start with an audit trail"
	}
	d.record(audit.Entry{Action: audit.ActionConfig, Actor: "device", Object: strings.Join(changed, ","), Reason: reason})
	out, _ := json.Marshal(now)
	if err := renameio.WriteFile(path, out, 0o600); err != nil {
		d.log.Warn("daemon: audit config: save state", "err", err)
	}
}

// sectionHashes returns the sha256 of each top-level config section.
func sectionHashes(c any) (map[string]string, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, err
	}
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(top))
	for k, v := range top {
		vb, err := yaml.Marshal(v)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append([]byte(k+"\n"), vb...))
		out[k] = hex.EncodeToString(sum[:])
	}
	return out, nil
}

// deleteRecordings removes every stored clip (their retained manifests go
// with them: the clip transfer withdraws what leaves the store), the
// retained snapshots and the timeline's pictures, and audits it.
func (d *Daemon) deleteRecordings(from, remote string) int {
	n := 0
	if d.clips != nil {
		n = d.clips.DeleteAll()
	}
	if d.timeline != nil {
		d.timeline.ClearSnapshots()
	}
	if d.mq != nil {
		for _, t := range []string{d.topics.Snapshot, d.topics.SnapshotInfo, d.topics.SnapshotSmall, d.topics.SnapshotSealed, d.topics.Clip} {
			d.mq.Publish(t, 1, true, nil) // an empty retained message clears the broker's copy
		}
	}
	d.log.Warn("daemon: every recording deleted", "clips", n, "by", actor(from))
	d.record(audit.Entry{Action: audit.ActionRecordingsDelete, Actor: actor(from), From: remote, Object: strconv.Itoa(n) + " clips"})
	if d.xfer != nil {
		d.xfer.Kick()
	}
	return n
}

// openedClips is the web app's view of the clip store: with
// privacy.identity_file, a sealed clip opens as its plaintext MP4 (random
// access, decrypted as it is read, never written out).
type openedClips struct {
	s *storage.Store
	o *seal.Opener // nil: sealed clips stay sealed (the web app refuses them)
}

func (c openedClips) List() []storage.Meta                  { return c.s.List() }
func (c openedClips) Lookup(id string) (storage.Meta, bool) { return c.s.Lookup(id) }

func (c openedClips) Open(id string) (io.ReadCloser, error) {
	m, ok := c.s.Lookup(id)
	rc, err := c.s.Open(id)
	if err != nil || !ok || m.Encryption == "" {
		return rc, err
	}
	ra, isAt := rc.(io.ReaderAt)
	if c.o == nil || !isAt {
		rc.Close()
		return nil, fmt.Errorf("daemon: clip %s is encrypted for its owner and cannot be opened here", id)
	}
	rs, _, err := c.o.OpenAt(ra, m.Size)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return struct {
		io.ReadSeeker
		io.Closer
	}{rs, rc}, nil
}
