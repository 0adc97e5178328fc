// Command hilcheck runs inside the HIL guest (scripts/hil.sh) next to a real
// doorbelld. It drives the gpio-sim lines through sysfs, as a person at the
// door would, and checks what doorbelld publishes over MQTT:
//
//   - a bouncing press (5 bounces, held 200ms) gives exactly one ring, a
//     press-time JPEG snapshot (frame_at within 80ms of the event) and a
//     chime pulse on the CHIME line
//   - holding past gpio.button.long_press gives ring + long_press
//   - the PIR line gives motion_start, and motion_end gpio.pir.hold after release
//   - with -load-presses, bouncing, 50 Hz chattering and clean presses made
//     while busy loops load the guest's CPUs ring once each, unless the
//     kernel's own edge stamps (doorbelld's debug log) show a release of at
//     least debounce inside the press (load.go)
//   - with the camera gone (vivid unbound) the bell still rings, without a
//     snapshot, and health says the camera is unavailable
//   - SIGTERM publishes offline and exits within 5s (half the unit's TimeoutStopSec; the time is printed)
//
// It prints one "HIL-RESULT: name PASS|FAIL detail" line per check and exits
// non-zero if any failed.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

type event struct {
	ID       string    `json:"id"`
	Seq      uint64    `json:"seq"`
	Type     string    `json:"event_type"`
	Snapshot string    `json:"snapshot"`
	At       time.Time `json:"at"`
	rx       time.Time
}

type snapInfo struct {
	ID        string    `json:"id"`
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	At        time.Time `json:"at"`
	FrameAt   time.Time `json:"frame_at"`
	Width     int       `json:"width"`
	Height    int       `json:"height"`
	Source    string    `json:"source_format"`
	Bytes     int       `json:"bytes"`
	jpeg      []byte
}

type clipMeta struct {
	ID       string    `json:"id"`
	EventIDs []string  `json:"event_ids"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Frames   int       `json:"frames"`
	Codec    string    `json:"codec"`
	Width    int       `json:"width"`
	Height   int       `json:"height"`
	Size     int64     `json:"size"`
	Audio    string    `json:"audio"`
}

type health struct {
	Status       string `json:"status"`
	Version      string `json:"version"`
	Camera       string `json:"camera"`
	CameraFormat string `json:"camera_format"`
	CameraError  string `json:"camera_error"`
	PIR          string `json:"pir"`
	Chime        string `json:"chime"`
	Microphone   string `json:"microphone"`
}

// store keeps everything received on <prefix>/#.
type store struct {
	mu       sync.Mutex
	events   []event
	infos    map[string]*snapInfo // by event id
	lastInfo *snapInfo            // the snapshot/info that the next snapshot belongs to
	health   health
	status   []string
	clips    []clipMeta
}

func (s *store) handle(m mqtt.Message, prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch strings.TrimPrefix(m.Topic(), prefix+"/") {
	case "event":
		var e event
		if err := json.Unmarshal(m.Payload(), &e); err != nil {
			fmt.Printf("hilcheck: bad event %q: %v\n", m.Payload(), err)
			return
		}
		e.rx = time.Now()
		fmt.Printf("hilcheck: event %s\n", m.Payload())
		s.events = append(s.events, e)
	case "snapshot/info":
		var in snapInfo
		if err := json.Unmarshal(m.Payload(), &in); err != nil {
			fmt.Printf("hilcheck: bad snapshot/info %q: %v\n", m.Payload(), err)
			return
		}
		fmt.Printf("hilcheck: snapshot/info %s\n", m.Payload())
		s.lastInfo = &in
		s.infos[in.EventID] = &in
	case "snapshot":
		if s.lastInfo != nil && s.lastInfo.jpeg == nil {
			s.lastInfo.jpeg = append([]byte(nil), m.Payload()...)
		}
	case "clip":
		var cm clipMeta
		if err := json.Unmarshal(m.Payload(), &cm); err != nil {
			fmt.Printf("hilcheck: bad clip %q: %v\n", m.Payload(), err)
			return
		}
		fmt.Printf("hilcheck: clip %s\n", m.Payload())
		s.clips = append(s.clips, cm)
	case "health":
		_ = json.Unmarshal(m.Payload(), &s.health)
		fmt.Printf("hilcheck: health %s\n", m.Payload())
	case "status":
		s.status = append(s.status, string(m.Payload()))
		fmt.Printf("hilcheck: status %s\n", m.Payload())
	}
}

func (s *store) since(n int) []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event(nil), s.events[min(n, len(s.events)):]...)
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

func (s *store) info(eventID string) *snapInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.infos[eventID]; in != nil && in.jpeg != nil {
		c := *in
		return &c
	}
	return nil
}

// clipFor returns the clip that shows event id.
func (s *store) clipFor(id string) *clipMeta {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clips {
		if slices.Contains(c.EventIDs, id) {
			cc := c
			return &cc
		}
	}
	return nil
}

func (s *store) getHealth() health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health
}

func (s *store) lastStatus() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.status) == 0 {
		return ""
	}
	return s.status[len(s.status)-1]
}

// waitFor polls cond every 5ms until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var passed, failed int

func result(name string, ok bool, format string, args ...any) {
	st := "PASS"
	if ok {
		passed++
	} else {
		st = "FAIL"
		failed++
	}
	fmt.Printf("HIL-RESULT: %s %s %s\n", name, st, fmt.Sprintf(format, args...))
}

// line is one gpio-sim line, driven through its simulated pull.
type line struct {
	dir string // .../gpiochipN/sim_gpioK
}

func (l line) set(high bool) time.Time {
	v := "pull-down"
	if high {
		v = "pull-up"
	}
	t := time.Now()
	if err := os.WriteFile(filepath.Join(l.dir, "pull"), []byte(v), 0); err != nil {
		fmt.Printf("hilcheck: %v\n", err)
	}
	return t
}

func (l line) value() int {
	b, err := os.ReadFile(filepath.Join(l.dir, "value"))
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// presses records the button writes of one press, bracketed by the times
// before and after each write (the kernel stamps the edge in between).
type presses struct{ ups, downs [][2]time.Time }

func (p *presses) set(l line, high bool) time.Time {
	before := l.set(high)
	span := [2]time.Time{before, time.Now()}
	if high {
		p.ups = append(p.ups, span)
	} else {
		p.downs = append(p.downs, span)
	}
	return before
}

// longReleases counts the releases (button line high, active low) that
// may have lasted debounce: from the start of the write that released to
// the end of the write that pressed again. The last release has no end.
func (p *presses) longReleases(debounce time.Duration) int {
	n := 0
	for i, up := range p.ups {
		if i+1 < len(p.downs) && p.downs[i+1][1].Sub(up[0]) >= debounce {
			n++
		}
	}
	return n
}

// transition is a change of a sampled line. The change happened at some
// instant in (prev, at]: prev is the last sample that still read the old
// value, at the first that read the new one. On a starved guest the two can
// be far apart, so widths are judged on these brackets, never on at alone.
type transition struct {
	prev, at time.Time
	value    int
}

// watch samples l every millisecond until stop is closed and returns the
// value changes it saw.
func watch(l line, stop <-chan struct{}) <-chan []transition {
	out, _ := watchN(l, stop)
	return out
}

// watchN is watch, with the number of transitions seen so far: a caller
// that must act while the line is high (SIGTERM mid-pulse) waits for the
// watch itself to have seen the rise, not for a look of its own, which a
// starved watch goroutine could miss.
func watchN(l line, stop <-chan struct{}) (<-chan []transition, *atomic.Int32) {
	var n atomic.Int32
	out := make(chan []transition, 1)
	last := l.value() // before returning: the goroutine may start after the press
	lastAt := time.Now()
	go func() {
		var tr []transition
		sample := func() {
			v := l.value()
			now := time.Now()
			if v != last {
				tr = append(tr, transition{prev: lastAt, at: now, value: v})
				last = v
				n.Add(1)
			}
			lastAt = now
		}
		for {
			select {
			case <-stop:
				// One more look: a caller that saw the line change by
				// itself stops the watch at once, maybe before its next
				// sample.
				sample()
				out <- tr
				return
			default:
			}
			sample()
			time.Sleep(time.Millisecond)
		}
	}()
	return out, &n
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

type checker struct {
	s                        *store
	button, pir, chime, door line
	tone                     tone
	doorPIN, cmdDoor         string
	doorPulse                time.Duration
	longPress, hold, pulse   time.Duration
	debounce, frameTolerance time.Duration
	width, height            int
	preRoll, postRoll        time.Duration
	clipsDir                 string
}

// checkClip waits for the clip of e and dumps its MP4 on the console
// (HIL-CLIPDATA lines, base64) for hil.sh to judge with ffprobe.
func (c *checker) checkClip(e event) {
	var cm *clipMeta
	waitFor(c.postRoll+10*time.Second, func() bool { cm = c.s.clipFor(e.ID); return cm != nil })
	if cm == nil {
		result("clip-ready", false, "no clip for event %s within post_roll + 10s", e.ID)
		return
	}
	pre := e.At.Sub(cm.Start)
	result("clip-ready", pre >= 0 && pre <= c.preRoll && cm.Frames > 0 && cm.Width == c.width && cm.Height == c.height,
		"clip %s: %d frames %s %dx%d, starts %v before the press (pre_roll %v), %d bytes",
		cm.ID, cm.Frames, cm.Codec, cm.Width, cm.Height, pre.Round(time.Millisecond), c.preRoll, cm.Size)
	files, _ := filepath.Glob(filepath.Join(c.clipsDir, "*"+cm.ID+".mp4"))
	if len(files) != 1 {
		result("clip-file", false, "no file for clip %s in %s: %v", cm.ID, c.clipsDir, files)
		return
	}
	b, err := os.ReadFile(files[0])
	if err != nil || int64(len(b)) != cm.Size {
		result("clip-file", false, "read %s: %d bytes, %v (want %d)", files[0], len(b), err, cm.Size)
		return
	}
	result("clip-file", true, "%s, %d bytes", filepath.Base(files[0]), len(b))
	fmt.Printf("HIL-CLIP: %s frames=%d duration_ms=%d sha256=%x\n", cm.ID, cm.Frames, cm.End.Sub(cm.Start).Milliseconds(), sha256.Sum256(b))
	c.tone.report(cm.ID, cm.Start, cm.Audio)
	enc := base64.StdEncoding.EncodeToString(b)
	for len(enc) > 0 {
		n := min(len(enc), 96)
		fmt.Printf("HIL-CLIPDATA: %s\n", enc[:n])
		enc = enc[n:]
	}
}

// checkSnapshot checks the press-time snapshot of e.
func (c *checker) checkSnapshot(name string, e event) {
	if e.Snapshot == "" {
		result(name, false, "event %s has no snapshot", e.ID)
		return
	}
	var in *snapInfo
	waitFor(5*time.Second, func() bool { in = c.s.info(e.ID); return in != nil })
	if in == nil {
		result(name, false, "no snapshot/info + snapshot for event %s within 5s", e.ID)
		return
	}
	img, err := jpeg.Decode(bytes.NewReader(in.jpeg))
	ok := err == nil && img.Bounds().Dx() == c.width && img.Bounds().Dy() == c.height
	dims := "?"
	if err == nil {
		dims = fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy())
	}
	result(name+"-jpeg", ok && in.ID == e.Snapshot && len(in.jpeg) == in.Bytes,
		"%d bytes, decodes %s (err %v), info %dx%d %s, id match %v", len(in.jpeg), dims, err,
		in.Width, in.Height, in.Source, in.ID == e.Snapshot)
	skew := in.FrameAt.Sub(e.At)
	result(name+"-frame-time", abs(skew) <= c.frameTolerance, "frame_at - at = %v (limit ±%v)",
		skew.Round(time.Millisecond), c.frameTolerance)
}

func types(es []event) []string {
	var t []string
	for _, e := range es {
		t = append(t, e.Type)
	}
	return t
}

func (c *checker) ringBouncing() {
	n0 := c.s.count()
	stop := make(chan struct{})
	chime := watch(c.chime, stop)
	// Press with 5 bounces 3ms apart, hold 200ms, release with 2 bounces.
	// Each write is bracketed: a starved guest can stretch a 3ms bounce
	// into a real release, after which a second ring is right.
	var p presses
	t0 := p.set(c.button, false)
	t0after := time.Now() // the kernel stamps the edge between t0 and t0after
	for i := 0; i < 5; i++ {
		time.Sleep(3 * time.Millisecond)
		p.set(c.button, true)
		time.Sleep(3 * time.Millisecond)
		p.set(c.button, false)
	}
	time.Sleep(200 * time.Millisecond)
	p.set(c.button, true)
	time.Sleep(3 * time.Millisecond)
	p.set(c.button, false)
	time.Sleep(3 * time.Millisecond)
	p.set(c.button, true)
	waitFor(3*time.Second, func() bool { return c.s.count() > n0 })
	c.tone.play()                                  // into the clip's post-roll
	time.Sleep(c.debounce + 1200*time.Millisecond) // room for a wrong second ring or long_press
	close(stop)
	es := c.s.since(n0)
	long := p.longReleases(c.debounce)
	ok := len(es) >= 1 && len(es) <= 1+long
	for _, e := range es {
		ok = ok && e.Type == "ring"
	}
	detail := fmt.Sprintf("events %v, %d releases may have lasted debounce", types(es), long)
	if len(es) > 0 {
		detail += fmt.Sprintf(", at - press = %v, published %v after at",
			es[0].At.Sub(t0).Round(time.Millisecond), es[0].rx.Sub(es[0].At).Round(time.Millisecond))
		ok = ok && es[0].At.After(t0.Add(-5*time.Millisecond)) && es[0].At.Before(t0after.Add(100*time.Millisecond))
	}
	result("ring-bouncing-press", ok, "%s (want one ring, plus at most one per release that may have lasted debounce; at within 100ms of the press)", detail)
	if len(es) > 0 && es[0].Type == "ring" {
		c.checkSnapshot("ring-snapshot", es[0])
		c.checkClip(es[0])
	}
	// One pulse per ring at most (chime.min_gap may swallow a second).
	tr := <-chime
	okc := len(tr) >= 2 && len(tr)%2 == 0 && len(tr)/2 <= max(len(es), 1)
	d := "transitions:"
	for i, x := range tr {
		d += fmt.Sprintf(" %d@+%v", x.value, x.at.Sub(t0).Round(time.Millisecond))
		okc = okc && x.value == 1-i%2
	}
	for i := 0; okc && i+1 < len(tr); i += 2 {
		// The pulse lasted between these two bounds; it fails only when
		// the samples prove it too short or too long.
		minW, maxW := tr[i+1].prev.Sub(tr[i].at), tr[i+1].at.Sub(tr[i].prev)
		d += fmt.Sprintf(", high for %v..%v", minW.Round(time.Millisecond), maxW.Round(time.Millisecond))
		okc = maxW >= c.pulse-20*time.Millisecond && minW <= c.pulse+300*time.Millisecond
	}
	result("chime-pulse", okc, "%s (want 1 then 0, high ~%v)", d, c.pulse)
}

func (c *checker) longPressCheck() {
	n0 := c.s.count()
	t0 := c.button.set(false)
	time.Sleep(c.longPress + 500*time.Millisecond)
	c.button.set(true)
	waitFor(5*time.Second, func() bool { return c.s.count() >= n0+2 })
	time.Sleep(c.debounce + 500*time.Millisecond) // room for a wrong extra event
	es := c.s.since(n0)
	ok := len(es) == 2 && es[0].Type == "ring" && es[1].Type == "long_press"
	detail := fmt.Sprintf("events %v", types(es))
	if ok {
		lp := es[1]
		detail += fmt.Sprintf(", long_press at - ring at = %v, long_press published %v after the press",
			lp.At.Sub(es[0].At).Round(time.Millisecond), lp.rx.Sub(t0).Round(time.Millisecond))
		// Not before long_press (a correctness bound); the upper bound is
		// only "before the release plus a generous delivery allowance",
		// since a starved guest delays delivery, not the decision.
		ok = abs(lp.At.Sub(es[0].At)) < 10*time.Millisecond &&
			lp.rx.Sub(t0) >= c.longPress-50*time.Millisecond && lp.rx.Sub(t0) < c.longPress+5*time.Second
	}
	result("long-press", ok, "%s (want ring, long_press ~%v after the press, long_press at = press time)", detail, c.longPress)
}

func (c *checker) motion() {
	n0 := c.s.count()
	t0 := c.pir.set(true)
	ok := waitFor(2*time.Second, func() bool { return c.s.count() > n0 })
	es := c.s.since(n0)
	okStart := ok && len(es) == 1 && es[0].Type == "motion_start"
	detail := fmt.Sprintf("events %v", types(es))
	if len(es) > 0 {
		detail += fmt.Sprintf(", at - PIR high = %v", es[0].At.Sub(t0).Round(time.Millisecond))
	}
	result("pir-motion-start", okStart, "%s", detail)
	if okStart {
		c.checkSnapshot("motion-snapshot", es[0])
	}
	time.Sleep(300 * time.Millisecond)
	n1 := c.s.count()
	tr := c.pir.set(false)
	waitFor(c.hold+3*time.Second, func() bool { return c.s.count() > n1 })
	time.Sleep(200 * time.Millisecond)
	es = c.s.since(n1)
	detail = fmt.Sprintf("events %v", types(es))
	okEnd := len(es) == 1 && es[0].Type == "motion_end" && es[0].Snapshot == ""
	if len(es) > 0 {
		after := es[0].At.Sub(tr)
		detail += fmt.Sprintf(", at - PIR low = %v (hold %v)", after.Round(time.Millisecond), c.hold)
		okEnd = okEnd && after >= c.hold-50*time.Millisecond && after <= c.hold+3*time.Second
	}
	result("pir-motion-end", okEnd, "%s", detail)
}

func (c *checker) cameraGone(unbind string) {
	file, dev, _ := strings.Cut(unbind, "=")
	if err := os.WriteFile(file, []byte(dev), 0); err != nil {
		result("camera-removed-health", false, "unbind %s: %v", unbind, err)
		return
	}
	t0 := time.Now()
	ok := waitFor(15*time.Second, func() bool {
		h := c.s.getHealth()
		return h.Camera == "unavailable" && h.Status == "degraded"
	})
	h := c.s.getHealth()
	result("camera-removed-health", ok, "after %v: status=%s camera=%s camera_error=%q",
		time.Since(t0).Round(time.Millisecond), h.Status, h.Camera, h.CameraError)

	n0 := c.s.count()
	stop := make(chan struct{})
	chime := watch(c.chime, stop)
	c.button.set(false)
	time.Sleep(200 * time.Millisecond)
	c.button.set(true)
	waitFor(3*time.Second, func() bool { return c.s.count() > n0 })
	time.Sleep(c.debounce + 300*time.Millisecond)
	close(stop)
	es := c.s.since(n0)
	result("camera-removed-ring", len(es) == 1 && es[0].Type == "ring" && es[0].Snapshot == "",
		"events %v, snapshot %q (want one ring without snapshot)", types(es), func() string {
			if len(es) > 0 {
				return es[0].Snapshot
			}
			return ""
		}())
	tr := <-chime
	result("camera-removed-chime", len(tr) == 2 && tr[0].value == 1 && tr[1].value == 0, "%d transitions", len(tr))
}

// shutdown sends SIGTERM and wants offline published and the process gone
// within stopLimit. The guest's CPU is emulated (TCG) and the host may be
// busy, so the bound is half of the unit's TimeoutStopSec=10, not the
// sub-second a board takes; the measured time is in the result line.
const stopLimit = 5 * time.Second

func (c *checker) shutdown(cl mqtt.Client, pid int) {
	// Open the door first: SIGTERM mid-pulse must release the relay at
	// once, not when the pulse would have ended.
	stop := make(chan struct{})
	relay, seen := watchN(c.door, stop)
	c.openDoor(cl, c.doorPIN)
	high := waitFor(15*time.Second, func() bool { return seen.Load() >= 1 })
	highAt := time.Now()
	t0 := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		result("sigterm-shutdown", false, "kill %d: %v", pid, err)
		return
	}
	exited := func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		f := strings.Fields(string(b)) // pid (comm) state ...: comm has no spaces here
		return len(f) > 2 && f[2] == "Z"
	}
	gone := waitFor(stopLimit+time.Second, exited)
	took := time.Since(t0)
	offline := waitFor(5*time.Second, func() bool { return c.s.lastStatus() == "offline" })
	result("sigterm-shutdown", gone && took <= stopLimit && offline, "exited=%v after %v, offline published=%v",
		gone, took.Round(time.Millisecond), offline)
	close(stop)
	tr := <-relay
	ok := high && len(tr) == 2 && tr[0].value == 1 && tr[1].value == 0 && c.door.value() == 0
	detail := fmt.Sprintf("relay high=%v, transitions %d", high, len(tr))
	if ok {
		// The release came before the pulse's own end: shutdown did it.
		ok = tr[1].at.Before(highAt.Add(c.doorPulse))
		detail += fmt.Sprintf(", released %v after SIGTERM (pulse %v)", tr[1].at.Sub(t0).Round(time.Millisecond), c.doorPulse)
	}
	if !ok {
		detail += ", " + c.door.describe()
	}
	result("door-released-at-shutdown", ok, "%s", detail)
}

func main() {
	broker := flag.String("broker", "tcp://127.0.0.1:1883", "doorbelld's (embedded) broker")
	prefix := flag.String("prefix", "doorbell/doorbell", "<mqtt.topic_prefix>/<device.id>")
	sim := flag.String("gpiosim", "", "gpio-sim bank sysfs dir (/sys/devices/platform/gpio-sim.0/gpiochipN)")
	button := flag.Int("button", 0, "button line offset")
	pir := flag.Int("pir", 1, "PIR line offset")
	chime := flag.Int("chime", 2, "chime line offset")
	door := flag.Int("door", 6, "door relay line offset")
	doorPIN := flag.String("door-pin", "2468", "the PIN of gpio.door.pin_hash")
	doorPulse := flag.Duration("door-pulse", 4*time.Second, "gpio.door.pulse of the config")
	longPress := flag.Duration("long-press", time.Second, "gpio.button.long_press of the config")
	debounce := flag.Duration("debounce", 50*time.Millisecond, "gpio.button.debounce of the config")
	hold := flag.Duration("pir-hold", time.Second, "gpio.pir.hold of the config")
	pulse := flag.Duration("chime-pulse", 200*time.Millisecond, "gpio.chime.pulse of the config")
	frameTol := flag.Duration("frame-tolerance", 80*time.Millisecond, "max |frame_at - at| of a snapshot")
	unbind := flag.String("camera-unbind", "/sys/bus/platform/drivers/vivid/unbind=vivid.0", "FILE=VALUE written to remove the camera")
	pid := flag.Int("pid", 0, "doorbelld's pid: SIGTERM it at the end (0: skip)")
	toneDev := flag.String("tone", "", "ALSA playback device doorbelld's microphone hears (hw:Loopback,0): a tone is played into the ring's clip (\"\": skip)")
	talk := flag.Bool("talk", false, "talk over the RTSP back-channel and hear it come back (speaker and microphone on one loopback card)")
	restart := flag.String("restart", "", "doorbelld's command line: after the SIGTERM check, start it again and SIGKILL it mid-pulse (\"\": skip)")
	version := flag.String("version", "", "version doorbelld's health must report")
	preRoll := flag.Duration("pre-roll", 2*time.Second, "capture.pre_roll of the config")
	postRoll := flag.Duration("post-roll", time.Second, "capture.post_roll of the config")
	clipsDir := flag.String("clips", "/tmp/doorbell/clips", "<storage.dir>/clips of the config")
	loadPresses := flag.Int("load-presses", 0, "presses made with CPU hogs running in the guest (0: skip)")
	loadHogs := flag.Int("load-hogs", 4, "busy loops run during -load-presses")
	httpAddr := flag.String("http", "127.0.0.1:8080", "http.listen of the config (\"\": skip the MJPEG checks)")
	rtspURL := flag.String("rtsp", "rtsp://127.0.0.1:8554/doorbell", "the RTSP stream (\"\": skip)")
	logPath := flag.String("log", "/tmp/doorbelld.log", "doorbelld's log (log.level debug): the kernel's edge stamps")
	flag.Parse()
	if *sim == "" {
		fmt.Fprintln(os.Stderr, "hilcheck: -gpiosim is required")
		os.Exit(2)
	}
	simLine := func(n int) line { return line{filepath.Join(*sim, fmt.Sprintf("sim_gpio%d", n))} }
	c := &checker{
		s:      &store{infos: map[string]*snapInfo{}},
		button: simLine(*button), pir: simLine(*pir), chime: simLine(*chime),
		door: simLine(*door), doorPIN: *doorPIN, doorPulse: *doorPulse, cmdDoor: *prefix + "/cmd/door",
		longPress: *longPress, hold: *hold, pulse: *pulse, debounce: *debounce,
		frameTolerance: *frameTol, width: 640, height: 480,
		preRoll: *preRoll, postRoll: *postRoll, clipsDir: *clipsDir,
		tone: tone{dev: *toneDev},
	}
	defer func() {
		fmt.Printf("HIL-SUMMARY: hilcheck %d passed, %d failed\n", passed, failed)
		if failed > 0 {
			os.Exit(1)
		}
	}()

	// The broker lives inside doorbelld: keep trying until it is up.
	opts := mqtt.NewClientOptions().AddBroker(*broker).SetClientID("hilcheck").
		SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).SetAutoReconnect(false)
	opts.OnConnect = func(cl mqtt.Client) {
		cl.Subscribe(*prefix+"/#", 1, func(_ mqtt.Client, m mqtt.Message) { c.s.handle(m, *prefix) })
	}
	t0 := time.Now()
	cl := mqtt.NewClient(opts)
	tok := cl.Connect()
	connected := tok.WaitTimeout(30*time.Second) && tok.Error() == nil
	result("mqtt-connect", connected, "embedded broker %s after %v (err %v)", *broker, time.Since(t0).Round(time.Millisecond), tok.Error())
	if !connected {
		return
	}
	ready := waitFor(30*time.Second, func() bool {
		h := c.s.getHealth()
		return c.s.lastStatus() == "online" && h.Camera == "ok" && h.Status == "ok"
	})
	h := c.s.getHealth()
	result("startup-health", ready && (*version == "" || h.Version == *version),
		"after %v: status=%q health status=%s camera=%s (%s) pir=%s chime=%s microphone=%s version=%s",
		time.Since(t0).Round(time.Millisecond), c.s.lastStatus(), h.Status, h.Camera, h.CameraFormat, h.PIR, h.Chime, h.Microphone, h.Version)
	if !ready {
		return
	}
	time.Sleep(1 * time.Second) // let the ring buffer fill around the first press
	c.ringBouncing()
	c.longPressCheck()
	c.motion()
	if *loadPresses > 0 {
		c.pressesUnderLoad(*loadPresses, *loadHogs, *logPath)
	}
	if *httpAddr != "" {
		c.liveMJPEG("http://" + *httpAddr + "/api/live.mjpeg")
	}
	if *rtspURL != "" {
		c.liveRTSP(*rtspURL)
		if *talk {
			c.talkRoundTrip(*rtspURL, *logPath)
		}
	}
	if *httpAddr != "" {
		c.livePrivacy(cl, *prefix+"/cmd/privacy", "http://"+*httpAddr+"/api/live.mjpeg")
	}
	c.doorPulseCheck(cl)
	c.cameraGone(*unbind)
	if *pid > 0 {
		c.shutdown(cl, *pid)
		if *restart != "" {
			c.killMidPulse(*broker, *prefix, strings.Fields(*restart), *logPath)
		}
	}
	cl.Disconnect(100)
}

// openDoor sends Home Assistant's lock command with pin.
func (c *checker) openDoor(cl mqtt.Client, pin string) {
	tok := cl.Publish(c.cmdDoor, 1, false, fmt.Sprintf(`{"action":"open","code":%q}`, pin))
	tok.WaitTimeout(10 * time.Second)
}

// doorPulseCheck: a wrong PIN never moves the door relay; the right one
// pulses it once for gpio.door.pulse (within 10 %; on an emulated CPU the
// end may come up to 250ms late), and the line is released after.
func (c *checker) doorPulseCheck(cl mqtt.Client) {
	stop := make(chan struct{})
	relay := watch(c.door, stop)
	c.openDoor(cl, "0000") // wrong: no pulse (commands on one client arrive in order)
	c.openDoor(cl, c.doorPIN)
	rose := waitFor(15*time.Second, func() bool { return c.door.value() == 1 })
	fell := rose && waitFor(c.doorPulse+10*time.Second, func() bool { return c.door.value() == 0 })
	close(stop)
	tr := <-relay
	ok := rose && fell && len(tr) == 2 && tr[0].value == 1 && tr[1].value == 0
	d := fmt.Sprintf("transitions %d", len(tr))
	if ok {
		minW, maxW := tr[1].prev.Sub(tr[0].at), tr[1].at.Sub(tr[0].prev)
		d += fmt.Sprintf(", high for %v..%v", minW.Round(time.Millisecond), maxW.Round(time.Millisecond))
		p := c.doorPulse
		ok = maxW >= p-p/10 && minW <= p+p/10+250*time.Millisecond
	}
	if !ok {
		d += ", " + c.door.describe()
		for i, x := range tr {
			d += fmt.Sprintf(" [%d: %d@%s]", i, x.value, x.at.Format("15:04:05.000"))
		}
	}
	result("door-pulse", ok, "%s (want one pulse of %v for the right PIN, none for the wrong one)", d, c.doorPulse)
}

// describe tells a sim line's value and pull, for a failure message.
func (l line) describe() string {
	pull, _ := os.ReadFile(filepath.Join(l.dir, "pull"))
	return fmt.Sprintf("line %s now %d, pull %s", filepath.Base(l.dir), l.value(), strings.TrimSpace(string(pull)))
}
