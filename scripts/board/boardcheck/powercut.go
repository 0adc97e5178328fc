package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// The power-cut campaign: qemu (the board's power) is killed at a random
// moment while doorbelld is busy, the board is powered on again, and what
// it promised is checked. Before each cut the guest reports on its serial
// console (journald forwards doorbelld's log there) which events its
// outbox has journaled ("outbox: journaled", logged after the write and
// fdatasync returned) and which OTA step it reached ("ota: step"), so the
// host knows what must have survived.
//
// Scenarios (each cut is one boot):
//
//	outbox  the broker down, a burst of presses: every event reported
//	        journaled is delivered after the reboot (late), none twice
//	clips   presses every 1.5 s, clips written and the oldest deleted by
//	        retention: the clips offered (retained manifests) are exactly
//	        the files on the card, each whole (its sha256)
//	ota     an update pushed, cut anywhere from the transfer to the
//	        restart (half the cuts pulled by the guest itself, plugpull,
//	        right after one of the install's last steps changed the disk
//	        and before its fsync returned; a quarter in the restart): one
//	        valid firmware runs (current's binary matches its recorded
//	        hash), the old one or the new one, the new one if the swap was
//	        reported
//	config  the privacy switch flipped over MQTT while the owner edits
//	        config.yaml and restarts the service: an editor's save leaves
//	        the old or the new text, an unsynced append may come back as
//	        NUL bytes and doorbelld then runs on its last good copy; an
//	        acknowledged switch survived
//
// After every cut: the image's ext4 is clean once its journal is replayed
// (e2fsck on a copy, on the host), the board boots and doorbelld comes
// online.
type campaign struct {
	b        *board
	st       *store
	mq       *mosquitto
	img      string // the disk image (for e2fsck)
	port     int
	prefix   string
	publish  func(topic, payload string) error
	rng      *rand.Rand
	ctl      string // doorbellctl on the host
	repo     string // for building update binaries
	keyDir   string
	goarch   string // the board's release arch (scripts/build.sh's name)
	deadline time.Time

	journaled map[string]bool // event ids the guest reported journaled
	version   string          // the version running
	rows      []row
}

type row struct {
	scenario                  string
	cuts, boots, fsClean      int
	replays                   int // boots whose ext4 journal was replayed
	hung                      int // boots the emulator hung in (power-cycled again)
	started                   int
	journaled, delivered, dup int
	lost, corrupt             int
	notes                     []string
	total                     time.Duration
}

var (
	reJournaled = regexp.MustCompile(`outbox: journaled" id=([0-9a-v]{20})`)
	reOTAStep   = regexp.MustCompile(`ota: step" step=([a-z-]+)`)
	rePlugWatch = regexp.MustCompile(`plugpull: (watching)`)
	rePlugPull  = regexp.MustCompile(`plugpull: pulling the plug at ([a-z]+)`)
	reWritten   = regexp.MustCompile(`ota: step" step=(written)`)
	rePrivacy   = regexp.MustCompile(`mqtt: command" kind=(privacy)`)
	reLastGood  = regexp.MustCompile(`(running on the last good copy)`)
	reRecovery  = regexp.MustCompile(`EXT4-fs \(vda\): (recovery complete|orphan cleanup|error.*)`)
)

func (c *campaign) fail(r *row, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.notes = append(r.notes, msg)
	fmt.Printf("POWERCUT: %s FAIL %s\n", r.scenario, msg)
}

// boot powers the board on and waits for doorbelld's "online". A boot
// whose shell does not answer within 4 minutes is an emulator hang (seen
// once in ~30 boots: both vCPUs in soft lockups early in systemd's start,
// a TCG artefact no board shows): the plug is pulled again and the hang
// counted, at most twice per boot.
func (c *campaign) boot(r *row) bool {
	n0 := c.onlines()
	for try := 0; ; try++ {
		by := time.Now().Add(4 * time.Minute)
		if c.deadline.Before(by) {
			by = c.deadline
		}
		err := c.b.powerOn(by)
		if err == nil {
			break
		}
		c.b.cut()
		if try == 2 || time.Now().After(c.deadline) {
			c.fail(r, "%v", err)
			return false
		}
		r.hung++
		fmt.Printf("POWERCUT: %s boot %d hung (%v); console: %s\n", r.scenario, c.b.boots, err, c.b.tail(6))
	}
	r.boots++
	if !waitFor(3*time.Minute, func() bool { return c.onlines() > n0 }) {
		out, _ := c.b.run("systemctl status doorbelld --no-pager | tail -5; journalctl -b -u doorbelld --no-pager -o cat | tail -15", time.Minute)
		c.fail(r, "boot %d: doorbelld not online after 3 min: %s", c.b.boots, lastLines(out, 20))
		return false
	}
	r.started++
	dmesg, _ := c.b.run("dmesg | grep 'EXT4-fs (vda)'", time.Minute)
	var rec []string
	for _, l := range strings.Split(dmesg, "\n") {
		if m := reRecovery.FindStringSubmatch(l); m != nil {
			rec = append(rec, m[1])
		}
	}
	if len(rec) > 0 {
		r.replays++
		for _, l := range rec {
			if strings.HasPrefix(l, "error") {
				c.fail(r, "boot %d: kernel: EXT4-fs (vda): %s", c.b.boots, l)
			}
		}
	}
	return true
}

func (c *campaign) onlines() int {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	return c.st.onlines
}

// fsck checks the image as the power cut left it: a copy, its ext4
// journal replayed (what the kernel does at the next mount), then a full
// read-only e2fsck that must find nothing.
func (c *campaign) fsck(r *row) {
	cp := c.img + ".fsck"
	defer os.Remove(cp)
	if out, err := exec.Command("cp", "--sparse=always", c.img, cp).CombinedOutput(); err != nil {
		c.fail(r, "copy the image: %v %s", err, out)
		return
	}
	exec.Command("e2fsck", "-y", "-E", "journal_only", cp).Run()
	out, err := exec.Command("e2fsck", "-fn", cp).CombinedOutput()
	if err != nil {
		c.fail(r, "cut %d: e2fsck -fn after the journal replay: %v: %s", r.cuts, err, lastLines(string(out), 8))
		r.corrupt++
		return
	}
	r.fsClean++
}

// cutAt waits d, then pulls the plug and checks the disk.
func (c *campaign) cutAt(r *row, d time.Duration) {
	time.Sleep(d) // the random moment of the cut: the one sleep that is the point
	c.b.cut()
	r.cuts++
	c.fsck(r)
}

func (c *campaign) press(n int, gap string) string {
	return fmt.Sprintf("(for i in $(seq %d); do %s; sleep %s; done) >/dev/null 2>&1 &", n, pressCmd("0.12"), gap)
}

func (c *campaign) uniform(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)))
}

// outbox: with the broker down, presses are journaled; the plug is
// pulled during the burst; after the reboot (broker up) every event the
// guest reported journaled arrives, once.
func (c *campaign) outbox(cuts int) row {
	r := row{scenario: "outbox"}
	t0 := time.Now()
	for k := 0; k < cuts; k++ {
		c.mq.stop()
		c.b.run(c.press(40, "0.2"), 30*time.Second)
		c.cutAt(&r, c.uniform(time.Second, 10*time.Second))
		for _, id := range c.b.find(reJournaled, 0) {
			c.journaled[id] = true
		}
		if err := c.mq.start(); err != nil {
			c.fail(&r, "restart the broker: %v", err)
			break
		}
		if !c.boot(&r) {
			break
		}
		// Every event reported journaled so far arrives.
		missing := func() []string {
			c.st.mu.Lock()
			defer c.st.mu.Unlock()
			var m []string
			for id := range c.journaled {
				if c.st.seen[id] == 0 {
					m = append(m, id)
				}
			}
			return m
		}
		if !waitFor(2*time.Minute, func() bool { return len(missing()) == 0 }) {
			c.fail(&r, "cut %d: %d event(s) reported journaled never arrived: %v", r.cuts, len(missing()), missing())
		}
	}
	c.st.mu.Lock()
	r.journaled = len(c.journaled)
	for id := range c.journaled {
		if n := c.st.seen[id]; n > 0 {
			r.delivered++
			if n > 1 {
				r.dup++
			}
		} else {
			r.lost++
		}
	}
	c.st.mu.Unlock()
	if r.dup > 0 {
		c.fail(&r, "%d event(s) delivered more than once", r.dup)
	}
	r.total = time.Since(t0)
	return r
}

var clipFile = regexp.MustCompile(`^[0-9TZ:.-]+_([0-9a-v]{20})\.(mp4|json|mp4\.age)$`)

// clipsOnCard lists the clip directory: id → sha256 of the MP4, and
// anything that is not a clip or its sidecar.
func (c *campaign) clipsOnCard() (map[string]string, []string, error) {
	out, rc := c.b.run("cd /var/lib/doorbell/clips && ls -A1 && echo __SUMS__ && (ls | grep -E '\\.mp4(\\.age)?$' | xargs -r sha256sum)", time.Minute)
	if rc != 0 {
		return nil, nil, fmt.Errorf("list clips: rc=%d %s", rc, out)
	}
	names, sums, _ := strings.Cut(out, "__SUMS__")
	files := map[string]string{}
	var junk []string
	sidecars := map[string]bool{}
	for _, n := range strings.Fields(names) {
		m := clipFile.FindStringSubmatch(n)
		if m == nil {
			junk = append(junk, n)
			continue
		}
		if m[2] == "json" {
			sidecars[m[1]] = true
		}
	}
	for _, l := range strings.Split(sums, "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		if m := clipFile.FindStringSubmatch(f[1]); m != nil {
			files[m[1]] = f[0]
		}
	}
	for id := range files {
		if !sidecars[id] {
			junk = append(junk, id+" (no sidecar)")
		}
	}
	return files, junk, nil
}

// clips: presses make clips while retention deletes the oldest; after
// the reboot the clips offered are exactly the whole files on the card.
func (c *campaign) clips(cuts int) row {
	r := row{scenario: "clips"}
	t0 := time.Now()
	maxClips := 0
	for k := 0; k < cuts; k++ {
		c.b.run(c.press(8, "1.4"), 30*time.Second)
		c.cutAt(&r, c.uniform(time.Second, 12*time.Second))
		if !c.boot(&r) {
			break
		}
		var files map[string]string
		var junk []string
		var err error
		same := waitFor(2*time.Minute, func() bool {
			if files, junk, err = c.clipsOnCard(); err != nil {
				return false
			}
			c.st.mu.Lock()
			defer c.st.mu.Unlock()
			if len(files) != len(c.st.manifests) {
				return false
			}
			for id, sum := range files {
				if c.st.manifests[id] != sum {
					return false
				}
			}
			return true
		})
		maxClips = max(maxClips, len(files))
		r.journaled += len(files)
		if !same {
			c.st.mu.Lock()
			c.fail(&r, "cut %d: offered %v, on the card %v (%v)", r.cuts, c.st.manifests, files, err)
			c.st.mu.Unlock()
			r.corrupt++
		}
		if len(junk) > 0 {
			c.fail(&r, "cut %d: left on the card after the start: %v", r.cuts, junk)
		}
	}
	r.notes = append(r.notes, fmt.Sprintf("at most %d clips on the card (retention)", maxClips))
	r.total = time.Since(t0)
	return r
}

type otaState struct {
	Slots map[string]struct {
		Version string `json:"version"`
		SHA256  string `json:"sha256"`
	} `json:"slots"`
	Trial *struct {
		Version string `json:"version"`
	} `json:"trial"`
	Floor string `json:"floor"`
}

// otaRunning reads the OTA directory and what runs: the current slot,
// its binary's hash against the recorded one, the version in health.
func (c *campaign) otaRunning() (version string, trial bool, err error) {
	out, rc := c.b.run("cd /var/lib/doorbell/ota && readlink current && cat state.json && echo && echo __SUMS__ && sha256sum slot-*/doorbelld && echo __PROCS__ && pgrep -c -x doorbelld", time.Minute)
	if rc != 0 {
		return "", false, fmt.Errorf("read the OTA directory: rc=%d %s", rc, out)
	}
	head, rest, _ := strings.Cut(out, "\n")
	cur := strings.TrimPrefix(strings.TrimSpace(head), "slot-")
	js, rest, _ := strings.Cut(rest, "__SUMS__")
	sums, procs, _ := strings.Cut(rest, "__PROCS__")
	var st otaState
	if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &st); err != nil {
		return "", false, fmt.Errorf("state.json: %v: %q", err, js)
	}
	var sum string
	for _, l := range strings.Split(sums, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] == "slot-"+cur+"/doorbelld" {
			sum = f[0]
		}
	}
	slot, ok := st.Slots[cur]
	if !ok || slot.SHA256 == "" {
		// The first install's slot is seeded by install.sh without a hash.
		if !ok {
			return "", false, fmt.Errorf("current -> slot-%s, which state.json does not know", cur)
		}
	} else if slot.SHA256 != sum {
		return "", false, fmt.Errorf("current -> slot-%s: binary sha256 %s, recorded %s", cur, sum, slot.SHA256)
	}
	if n := strings.TrimSpace(procs); n != "1" {
		return "", false, fmt.Errorf("%s doorbelld processes", n)
	}
	c.st.mu.Lock()
	v, _ := c.st.health["version"].(string)
	c.st.mu.Unlock()
	if slot.Version != "" && v != slot.Version {
		return "", false, fmt.Errorf("health says %s, current -> slot-%s holds %s", v, cur, slot.Version)
	}
	return v, st.Trial != nil, nil
}

// bundle builds doorbelld as version v with scripts/build.sh (the release
// build, so the update is what a release is) and signs it. It returns the
// bundle and the size of the binary in it.
func (c *campaign) bundle(v string) (string, int64, error) {
	dist := filepath.Join(c.keyDir, "dist-"+v)
	defer os.RemoveAll(dist)
	build := exec.Command("scripts/build.sh", c.goarch)
	build.Dir = c.repo
	build.Env = append(os.Environ(), "VERSION="+v, "BUILD_CMDS=firmware/cmd/doorbelld", "DIST="+dist, "DOORBELL_SKIP_APT=1")
	if o, err := build.CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("build %s: %v %s", v, err, lastLines(string(o), 5))
	}
	bin := filepath.Join(dist, "doorbelld-linux-"+c.goarch)
	fi, err := os.Stat(bin)
	if err != nil {
		return "", 0, fmt.Errorf("build %s: %w", v, err)
	}
	out := filepath.Join(c.keyDir, "doorbelld-"+v+".bundle")
	return out, fi.Size(), c.sign(bin, v, out)
}

// goFlags: doorbellctl ota sign's platform flags for a release arch (a
// script carries none of its own).
func goFlags(arch string) []string {
	switch arch {
	case "armv7", "armv6":
		return []string{"--goos", "linux", "--goarch", "arm", "--goarm", arch[len(arch)-1:]}
	}
	return []string{"--goos", "linux", "--goarch", arch}
}

func (c *campaign) sign(bin, v, out string, extra ...string) error {
	args := append([]string{"ota", "sign", "--key", filepath.Join(c.keyDir, "doorbell-ota.key"), "--version", v, "--in", bin, "--out", out}, extra...)
	if o, err := exec.Command(c.ctl, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("sign %s: %v %s", v, err, o)
	}
	os.Remove(bin)
	return nil
}

func (c *campaign) push(bundle string, wait time.Duration) *exec.Cmd {
	cmd := exec.Command(c.ctl, "ota", "push", "--broker", fmt.Sprintf("tcp://127.0.0.1:%d", c.port),
		"--device", "board", "--wait", wait.String(), bundle)
	return cmd
}

// waitConfirmed waits until no trial is pending (a new version confirmed
// or rolled back) and returns the running version.
func (c *campaign) waitConfirmed(r *row) string {
	var v string
	var trial bool
	var err error
	if !waitFor(3*time.Minute, func() bool {
		v, trial, err = c.otaRunning()
		return err == nil && !trial && v != ""
	}) {
		c.fail(r, "cut %d: firmware: %v (trial pending %v, version %q)", r.cuts, err, trial, v)
		r.corrupt++
	}
	return v
}

// ota: an update pushed, the plug pulled anywhere from the transfer to
// the new version's first start. Half the cuts are pulled by the guest
// itself (plugpull, in the test image) at one of the install's last
// steps in turn, right after its file-system change and before the fsync
// that makes it durable: ~55 ms of a ~6 s update, which a cut timed from
// the host never hits. A quarter fall in the 3.5 s after the binary is
// written (the exit 75, systemd's restart, the new version's first start
// and its counting), a quarter anywhere in the update.
func (c *campaign) ota(cuts int) row {
	r := row{scenario: "ota"}
	t0 := time.Now()
	c.version = c.waitConfirmed(&r)
	// One push without a cut: how long a whole update takes here.
	b, _, err := c.bundle("1.1.0")
	if err != nil {
		c.fail(&r, "%v", err)
		return r
	}
	n0 := c.onlines()
	s := time.Now()
	if out, err := c.push(b, 3*time.Minute).CombinedOutput(); err != nil {
		c.fail(&r, "push 1.1.0 (no cut): %v %s", err, lastLines(string(out), 5))
		return r
	}
	span := time.Since(s)
	waitFor(time.Minute, func() bool { return c.onlines() > n0 })
	if v := c.waitConfirmed(&r); v != "1.1.0" {
		c.fail(&r, "after the push without a cut, %q runs", v)
		return r
	}
	c.version = "1.1.0"
	r.notes = append(r.notes, fmt.Sprintf("an update without a cut: %v from push to confirmed", span.Round(100*time.Millisecond)))
	steps := map[string]int{}
	type pulled struct{ cuts, old, new int }
	atStep := map[string]*pulled{} // the guest's own cuts, by the step it cut at
	pullAt := []string{"written", "placed", "armed", "swapped"}
	restart, missed := 0, 0
	for k := 1; k <= cuts; k++ {
		next := fmt.Sprintf("1.1.%d", k)
		b, size, err := c.bundle(next)
		if err != nil {
			c.fail(&r, "%v", err)
			break
		}
		// Only what this update logs counts: the boot may have shown an
		// earlier one's steps.
		from := c.b.mark()
		at, pulledAt := "", ""
		if k%2 == 1 {
			at = pullAt[(k/2)%len(pullAt)]
			c.b.run(fmt.Sprintf("plugpull --at %s --size %d >/dev/null 2>&1 &", at, size), 30*time.Second)
			if !c.b.waitLine(rePlugWatch, from, time.Minute) {
				c.fail(&r, "cut %d: plugpull did not start: %s", r.cuts+1, c.b.tail(4))
				at = ""
			}
		}
		p := c.push(b, 0)
		p.Start()
		switch {
		case at != "":
			// The guest pulls its own plug; the host only waits for qemu
			// to end (and pulls it itself if the step never comes).
			if c.b.wentOff(span + time.Minute) {
				pulledAt = "?"
				if got := c.b.find(rePlugPull, from); len(got) > 0 {
					pulledAt = got[0]
				} else {
					c.fail(&r, "cut %d: qemu ended without plugpull's line: %s", r.cuts+1, c.b.tail(4))
				}
				if atStep[pulledAt] == nil {
					atStep[pulledAt] = &pulled{}
				}
				atStep[pulledAt].cuts++
			} else {
				missed++
				fmt.Printf("POWERCUT: ota cut %d: plugpull did not see step %s; cut from the host: %s\n", r.cuts+1, at, c.b.tail(4))
			}
			c.cutAt(&r, 0)
		case k%4 == 2:
			if c.b.waitLine(reWritten, from, span+30*time.Second) {
				restart++
			}
			c.cutAt(&r, c.uniform(0, 3500*time.Millisecond))
		default:
			c.cutAt(&r, c.uniform(500*time.Millisecond, span+3*time.Second))
		}
		p.Process.Kill()
		p.Wait()
		os.Remove(b)
		reached := c.b.find(reOTAStep, from)
		last := "none"
		if len(reached) > 0 {
			last = reached[len(reached)-1]
		}
		steps[last]++
		if !c.boot(&r) {
			break
		}
		v := c.waitConfirmed(&r)
		switch {
		case v != c.version && v != next:
			c.fail(&r, "cut %d (last step %s): %q runs, neither %s nor %s", r.cuts, last, v, c.version, next)
			r.corrupt++
		case slices.Contains(reached, "swapped") && v != next:
			c.fail(&r, "cut %d: the swap to %s was reported, %s runs", r.cuts, next, v)
			r.corrupt++
		}
		if p := atStep[pulledAt]; p != nil {
			if v == next {
				p.new++
			} else {
				p.old++
			}
		}
		if v == next {
			r.delivered++ // updates that took
		}
		c.version = v
	}
	var ks, ps []string
	for k, n := range steps {
		ks = append(ks, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(ks)
	for _, s := range pullAt {
		if p := atStep[s]; p != nil {
			ps = append(ps, fmt.Sprintf("%s %d (then old %d, new %d)", s, p.cuts, p.old, p.new))
		}
	}
	r.notes = append(r.notes,
		fmt.Sprintf("cut by the guest at an install step, right after its change and before its fsync returned: %s; step never seen (cut from the host) %d", strings.Join(ps, ", "), missed),
		fmt.Sprintf("%d cuts within 3.5 s after step written (the restart), the others uniform over the update", restart),
		"last step reported before the cut: "+strings.Join(ks, ", "))
	r.total = time.Since(t0)
	return r
}

// config: the owner flips privacy over MQTT and edits config.yaml, then
// restarts doorbelld, the plug pulled meanwhile. Every other edit is an
// editor's save (sed -i: a new file renamed over the old), the others an
// append not synced (echo >>), which a cut can leave as NUL bytes: then
// doorbelld must run on its last good copy of the config, and say so.
func (c *campaign) config(cuts int) row {
	r := row{scenario: "config"}
	t0 := time.Now()
	lastPrivacy := func() (string, int) {
		c.st.mu.Lock()
		defer c.st.mu.Unlock()
		if len(c.st.privacy) == 0 {
			return "", 0
		}
		return c.st.privacy[len(c.st.privacy)-1], len(c.st.privacy)
	}
	const cfg = "/etc/doorbell/config.yaml"
	acked, reached, damaged, fellBack := 0, 0, 0, 0
	for k := 0; k < cuts; k++ {
		before, n0 := lastPrivacy()
		want := map[string]string{"ON": "OFF", "OFF": "ON"}[before]
		if want == "" {
			want = "ON"
		}
		from := c.b.mark()
		edit := fmt.Sprintf("sed -i 's/^  post_roll: .*/  post_roll: %s/' %s", []string{"1s", "2s"}[k/2%2], cfg)
		appended := k%2 == 1
		if appended {
			edit = fmt.Sprintf("printf '# note %d\\n' >> %s", k, cfg)
		}
		c.b.run(fmt.Sprintf("(sleep %.1f; %s && systemctl restart doorbelld) >/dev/null 2>&1 &", c.uniform(0, 3*time.Second).Seconds(), edit), 30*time.Second)
		if err := c.publish(c.prefix+"/cmd/privacy", want); err != nil {
			c.fail(&r, "cut %d: publish the privacy command: %v", r.cuts+1, err)
		}
		c.cutAt(&r, c.uniform(300*time.Millisecond, 5*time.Second))
		if len(c.b.find(rePrivacy, from)) > 0 {
			reached++ // doorbelld logged the command before the cut
		}
		// Acknowledged before the cut?
		sawAck := false
		c.st.mu.Lock()
		for _, v := range c.st.privacy[n0:] {
			sawAck = sawAck || v == want
		}
		c.st.mu.Unlock()
		if sawAck {
			acked++
		}
		_, m0 := lastPrivacy()
		if !c.boot(&r) {
			break
		}
		// The state published at the connect after the boot.
		var now string
		waitFor(time.Minute, func() bool { var m int; now, m = lastPrivacy(); return m > m0 })
		switch {
		case sawAck && now != want:
			c.fail(&r, "cut %d: privacy %s was acknowledged before the cut, %q after the reboot", r.cuts, want, now)
			r.lost++
		case now != want && now != before:
			c.fail(&r, "cut %d: privacy %q after the reboot (was %s, commanded %s)", r.cuts, now, before, want)
			r.corrupt++
		}
		out, rc := c.b.run(fmt.Sprintf("doorbelld --check-config --config %[1]s >/dev/null 2>&1; echo check=$?; echo nul=$(tr -dc '\\000' < %[1]s | wc -c); grep -E '^  post_roll:' %[1]s; echo __SW__; cat /var/lib/doorbell/switches.json; echo", cfg), time.Minute)
		head, js, _ := strings.Cut(out, "__SW__")
		var sw map[string]any
		if rc != 0 || json.Unmarshal([]byte(strings.TrimSpace(js)), &sw) != nil {
			c.fail(&r, "cut %d: switches.json damaged: rc=%d %s", r.cuts, rc, out)
			r.corrupt++
		}
		switch {
		case strings.Contains(head, "check=0") && (strings.Contains(head, "post_roll: 1s") || strings.Contains(head, "post_roll: 2s")):
			// intact: the old text or the new
		case appended && !strings.Contains(head, "nul=0"):
			// The unsynced append came back as NUL bytes: doorbelld (online,
			// or boot would have failed) must say it runs on the last good
			// copy. The owner's fix: drop the NULs.
			damaged++
			if !c.b.waitLine(reLastGood, 0, time.Minute) {
				c.fail(&r, "cut %d: config.yaml damaged (%s) and doorbelld did not say it runs on the last good copy", r.cuts, strings.Join(strings.Fields(head), " "))
				r.corrupt++
				break
			}
			fellBack++
			if out, rc := c.b.run(fmt.Sprintf("tr -d '\\000' < %[1]s > /tmp/c.yaml && install -m 0640 -o root -g doorbell /tmp/c.yaml %[1]s && sync", cfg), time.Minute); rc != 0 {
				c.fail(&r, "cut %d: repair config.yaml: %s", r.cuts, out)
				return r
			}
		default:
			c.fail(&r, "cut %d: config damaged: %s", r.cuts, strings.Join(strings.Fields(head), " "))
			r.corrupt++
		}
	}
	r.journaled = acked
	r.notes = append(r.notes, fmt.Sprintf("%d of %d privacy commands logged by doorbelld before the cut, %d acknowledged", reached, r.cuts, acked),
		fmt.Sprintf("%d unsynced appends came back damaged (NUL bytes), doorbelld ran on its last good copy in %d", damaged, fellBack))
	r.total = time.Since(t0)
	return r
}

func (c *campaign) report() bool {
	ok := true
	fmt.Println("POWERCUT-TABLE: | scenario | cuts | ext4 clean after journal replay | boots with a journal replay | doorbelld online after boot | emulator hangs | journaled / offered / acked | delivered / taken | twice | lost | corrupt | time |")
	fmt.Println("POWERCUT-TABLE: |---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range c.rows {
		fmt.Printf("POWERCUT-TABLE: | %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %v |\n", r.scenario, r.cuts, r.fsClean, r.replays, r.started, r.hung,
			r.journaled, r.delivered, r.dup, r.lost, r.corrupt, r.total.Round(time.Second))
		good := r.cuts > 0 && r.fsClean == r.cuts && r.started == r.boots && r.boots == r.cuts && r.lost == 0 && r.corrupt == 0 && r.dup == 0
		ok = ok && good
		result("powercut-"+r.scenario, good, "%d cuts, %d boots, ext4 clean %d, online %d, journaled/offered/acked %d, delivered/taken %d, twice %d, lost %d, corrupt %d; %s",
			r.cuts, r.boots, r.fsClean, r.started, r.journaled, r.delivered, r.dup, r.lost, r.corrupt, strings.Join(r.notes, "; "))
	}
	return ok
}

// keygen makes the owner's update key pair on the host and returns the
// public key file's text.
func (c *campaign) keygen() (string, error) {
	if out, err := exec.Command(c.ctl, "ota", "keygen", "--out", c.keyDir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ota keygen: %v %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(c.keyDir, "doorbell-ota.pub"))
	return string(b), err
}

// setup prepares the campaign after the checks: a small clip budget, so
// that retention deletes while clips are written, and doorbelld started.
// The sync: an append (>>) is in the page cache only, and a power cut
// seconds later leaves the file's new length with zeros in it (ext4's
// delayed allocation; its auto_da_alloc covers replace-by-rename and
// truncate-and-rewrite, which editors do, but not an append).
func (c *campaign) setup() bool {
	n0 := c.onlines()
	out, rc := c.b.run("printf 'storage:\\n  max_bytes: 6MiB\\n' >> /etc/doorbell/config.yaml && doorbelld --check-config --config /etc/doorbell/config.yaml && sync && systemctl start doorbelld", 2*time.Minute)
	ok := rc == 0 && waitFor(3*time.Minute, func() bool { return c.onlines() > n0 })
	result("powercut-setup", ok, "rc=%d %s", rc, lastLines(out, 3))
	return ok
}
