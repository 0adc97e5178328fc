package daemon

import (
	"bytes"
	"cmp"
	"encoding/json"
	"image/jpeg"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/firmware/event"
)

// testBroker is the Mosquitto the test script started, or "" for the
// embedded broker.
func testBroker() string { return os.Getenv("DOORBELL_TEST_BROKER") }

func post(t *testing.T, r *running, path string) {
	t.Helper()
	resp, err := http.Post("http://"+r.d.web.Addr()+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s = %d, want 202", path, resp.StatusCode)
	}
}

// waitPreRoll waits until the camera's ring holds d of frames.
func waitPreRoll(t testing.TB, r *running, d time.Duration) {
	t.Helper()
	waitFor(t, "the ring to fill the pre-roll", func() bool {
		oldest, newest, _ := r.d.camera.Ring().Span()
		return newest.Sub(oldest) >= d
	})
}

func waitCamera(t testing.TB, r *running) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := r.d.camera.Ring().Latest(); ok && r.d.camera.Status().Available {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sim camera not streaming: %+v", r.d.camera.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// framesAround returns the times (in event.TimeLayout, as a payload gives
// them) of the frames in rg from the last taken at or before an instant,
// or from the first taken at or after since if that is older, to the
// first taken after the instant. at is the instant's payload time, cut to
// the millisecond: the instant is in [at, at+1ms). It looks 3s either
// way, more than the camera's MaxSkew.
func framesAround(rg *capture.Ring, at, since time.Time) []string {
	frames := rg.Frames(at.Add(-3*time.Second), at.Add(3*time.Second))
	last, first, hi := -1, -1, len(frames)
	for i, f := range frames {
		if !f.At.After(at) {
			last = i // at or before the earliest the instant can be
		}
		if first < 0 && !f.At.Before(since) {
			first = i
		}
		if !f.At.Before(at.Add(time.Millisecond)) {
			hi = i + 1 // after the latest the instant can be
			break
		}
	}
	lo := max(last, 0)
	if first >= 0 {
		lo = min(lo, first)
	}
	var out []string
	for _, f := range frames[lo:hi] {
		out = append(out, f.At.UTC().Format(event.TimeLayout))
	}
	return out
}

func TestRingEndToEnd(t *testing.T) {
	c := simConfig(t, testBroker())
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), c.MQTT.TopicPrefix+"/#")
	if m := next(t, ch, tp.Status, 5*time.Second); string(m.payload) != "online" {
		t.Fatalf("status = %q, want online", m.payload)
	}
	if m := next(t, subscribe(t, r.d.brokerURL(), tp.Status), tp.Status, 5*time.Second); string(m.payload) != "online" || !m.retained {
		t.Fatalf("status for a new subscriber = %q retained=%v, want retained online", m.payload, m.retained)
	}
	if m := next(t, ch, tp.Motion, 5*time.Second); string(m.payload) != "OFF" {
		t.Errorf("motion state at start %q, want OFF", m.payload)
	}
	waitCamera(t, r)

	// Press just after a frame reaches the ring. The snapshot is the frame
	// nearest the press of those in the ring when the camera stops waiting
	// for one taken after the press (it waits MaxWait at most): the last
	// frame at or before the press or the first after it, or, when the
	// camera lags that far behind its ticks, an older one, but never one
	// older than the newest in the ring before the press.
	rg := r.d.camera.Ring()
	_, seen, _ := rg.Span()
	delivered := seen
	for deadline := time.Now().Add(5 * time.Second); !delivered.After(seen); _, delivered, _ = rg.Span() {
		if time.Now().After(deadline) {
			t.Fatal("the camera delivers no frame")
		}
		time.Sleep(time.Millisecond)
	}
	// The sim endpoint stamps the press edge while it handles the POST.
	before := time.Now()
	post(t, r, "/api/sim/ring")
	after := time.Now()
	e, _ := nextEvent(t, ch, tp, 5*time.Second)
	if e.Type != event.Ring || e.Device != c.Device.ID || len(e.ID) != 20 || e.Seq == 0 || e.Snapshot == "" {
		t.Fatalf("event = %+v, want a ring with id, seq and snapshot", e)
	}
	if !between(e.At, before, after) {
		t.Errorf("event at %v, want the press time (during the POST, %v to %v)", e.At, before, after)
	}
	im := next(t, ch, tp.SnapshotInfo, 5*time.Second)
	var info SnapshotInfo
	if err := json.Unmarshal(im.payload, &info); err != nil {
		t.Fatal(err)
	}
	if info.ID != e.Snapshot || info.EventID != e.ID {
		t.Errorf("snapshot info %+v does not match event %+v", info, e)
	}
	// (The camera's ticker drops ticks when it falls behind: frames are not
	// always one interval apart, so the candidates come from the ring.)
	if around := framesAround(rg, e.At, delivered); !slices.Contains(around, info.FrameAt) {
		t.Errorf("snapshot frame at %s, want the last frame at or before the press (%s) or the first after it: one of %v",
			info.FrameAt, e.At.UTC().Format(event.TimeLayout), around)
	}
	sm := next(t, ch, tp.Snapshot, 5*time.Second)
	if rm := next(t, subscribe(t, r.d.brokerURL(), tp.Snapshot), tp.Snapshot, 5*time.Second); !rm.retained || !bytes.Equal(rm.payload, sm.payload) {
		t.Errorf("a new subscriber does not get the snapshot as retained message")
	}
	img, err := jpeg.Decode(bytes.NewReader(sm.payload))
	if err != nil {
		t.Fatalf("snapshot is not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != c.Camera.Width || b.Dy() != c.Camera.Height {
		t.Errorf("snapshot %v, want %dx%d", b, c.Camera.Width, c.Camera.Height)
	}

	post(t, r, "/api/sim/motion?state=on")
	if m, _ := nextEvent(t, ch, tp, 5*time.Second); m.Type != event.MotionStart || m.Seq <= e.Seq || m.ID == e.ID {
		t.Errorf("after motion on: %+v, want motion_start with a higher seq", m)
	}
	if m := next(t, ch, tp.Motion, 5*time.Second); string(m.payload) != "ON" {
		t.Errorf("motion state %q, want ON", m.payload)
	}
	// The sensor goes quiet (the edge is stamped) during the POST.
	offFrom := time.Now()
	post(t, r, "/api/sim/motion?state=off")
	offTo := time.Now()
	m, _ := nextEvent(t, ch, tp, 5*time.Second)
	if m.Type != event.MotionEnd || m.Snapshot != "" {
		t.Errorf("after motion off: %+v, want motion_end without snapshot", m)
	}
	if hold := c.GPIO.PIR.Hold.D(); !between(m.At, offFrom.Add(hold), offTo.Add(hold)) {
		t.Errorf("motion_end at %v, want the hold time %v after the sensor went quiet (%v to %v)", m.At, hold, offFrom, offTo)
	}
	if m := next(t, ch, tp.Motion, 5*time.Second); string(m.payload) != "OFF" {
		t.Errorf("motion state %q, want OFF", m.payload)
	}

	took := r.stop(t)
	if took > 2*time.Second {
		t.Errorf("shutdown took %v, want < 2s", took)
	}
	if m := next(t, ch, tp.Status, 5*time.Second); string(m.payload) != "offline" {
		t.Errorf("status after shutdown = %q, want offline", m.payload)
	}
}

func TestLongPressAndBouncyPress(t *testing.T) {
	c := simConfig(t, testBroker())
	c.GPIO.Button.LongPress = durCfg(400 * time.Millisecond)
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), tp.Event)

	// A bouncing press: pressed past min_press, five bounces while held
	// (edges back to back, far closer than the debounce), held 100ms, then
	// released with five more bounces. The test sets every gap itself, so
	// a stall can only lengthen a phase in which the button is held.
	if mp := c.GPIO.Button.MinPress.D(); mp >= 10*time.Millisecond {
		t.Fatalf("min_press %v: the test holds the first contact 10ms", mp)
	}
	var gap time.Duration // the longest a bounce can have left the button released
	bounce := func() {
		for i := 0; i < 5; i++ {
			from, _ := setButton(r, false)
			_, to := setButton(r, true)
			gap = max(gap, to.Sub(from))
		}
	}
	pressFrom, pressTo := setButton(r, true)
	time.Sleep(10 * time.Millisecond)
	bounce()
	time.Sleep(100 * time.Millisecond)
	bounce()
	_, relTo := setButton(r, false)
	// The test's subscriber may take messages out of order; the daemon's
	// order is the seq.
	first, _ := nextEvent(t, ch, tp, 5*time.Second)
	evs := append([]event.Event{first}, eventsFor(t, ch, tp, 300*time.Millisecond)...)
	slices.SortFunc(evs, func(a, b event.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	e := evs[0]
	if e.Type != event.Ring || !between(e.At, pressFrom, pressTo) {
		t.Fatalf("got %s at %v, want a ring at the first contact (%v to %v)", e.Type, e.At, pressFrom, pressTo)
	}
	// Only a stall can have held the button (~110ms) for long_press; a
	// long_press for the same press is then right.
	held := relTo.Sub(pressFrom)
	for i, x := range evs[1:] {
		if i == 0 && x.Type == event.LongPress && x.At.Equal(e.At) && held >= c.GPIO.Button.LongPress.D() {
			continue
		}
		t.Errorf("bouncy press (held at most %v, bounces at most %v long) gave %s@%v after its ring@%v, want the one ring",
			held, gap, x.Type, x.At, e.At)
	}

	if err := r.board.Press(600 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e1, _ := nextEvent(t, ch, tp, 5*time.Second)
	e2, _ := nextEvent(t, ch, tp, 5*time.Second)
	if e2.Seq < e1.Seq {
		e1, e2 = e2, e1
	}
	if e1.Type != event.Ring || e2.Type != event.LongPress || !e2.At.Equal(e1.At) {
		t.Errorf("long press gave %s@%v, %s@%v; want ring then long_press for the same press", e1.Type, e1.At, e2.Type, e2.At)
	}
}

func TestNoCameraStillRings(t *testing.T) {
	c := simConfig(t, testBroker())
	c.Camera.Device = "/dev/video-not-there"
	r := start(t, c)
	tp := r.d.Topics()
	ch := subscribe(t, r.d.brokerURL(), tp.Event)
	health := subscribe(t, r.d.brokerURL(), tp.Health)
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e, _ := nextEvent(t, ch, tp, 5*time.Second)
	if e.Type != event.Ring || e.Snapshot != "" {
		t.Errorf("event = %+v, want a ring with no snapshot", e)
	}
	deadline := time.After(5 * time.Second)
	for {
		m := next(t, health, tp.Health, 5*time.Second)
		var h Health
		if err := json.Unmarshal(m.payload, &h); err != nil {
			t.Fatal(err)
		}
		if h.Camera == "unavailable" && h.Status == "degraded" && h.CameraError != "" {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("health never said camera unavailable: %s", m.payload)
		default:
		}
	}
}

func TestSeqSurvivesRestart(t *testing.T) {
	c := simConfig(t, testBroker())
	c.Camera.Device = ""
	var seqs []uint64
	seen := map[string]bool{}
	for run := 0; run < 2; run++ {
		r := start(t, c)
		ch := subscribe(t, r.d.brokerURL(), r.d.Topics().Event)
		if err := r.board.Press(30 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		e, _ := nextEvent(t, ch, r.d.Topics(), 5*time.Second)
		// The last run's event comes again (late) if its PUBACK came after
		// the stop; this run's press then queues behind it and is late too.
		for seen[e.ID] {
			e, _ = nextEvent(t, ch, r.d.Topics(), 5*time.Second)
		}
		seen[e.ID] = true
		seqs = append(seqs, e.Seq)
		r.stop(t)
	}
	if seqs[1] <= seqs[0] {
		t.Errorf("seq after restart %d <= %d", seqs[1], seqs[0])
	}
}
