package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/live"
	"github.com/doorbelld/doorbelld/capture/mic"
	"github.com/doorbelld/doorbelld/capture/v4l2src"
	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/bus"
	"github.com/doorbelld/doorbelld/firmware/command"
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/doorauth"
	"github.com/doorbelld/doorbelld/firmware/metrics"
	"github.com/doorbelld/doorbelld/firmware/outbox"
	"github.com/doorbelld/doorbelld/firmware/rtsp"
	"github.com/doorbelld/doorbelld/firmware/web"
	"github.com/doorbelld/doorbelld/firmware/webapp"
)

// The parts that show the door to people and tools: the live-view hub and
// the RTSP server, the web server with its app and logins, the timeline of
// recent events (the web app's), and /metrics.

// timelineSink puts every event in the web app's timeline. Snapshots and
// clips join their event later (snapshots.publish, publishClip).
type timelineSink struct {
	bus.Base
	d *Daemon
}

func (timelineSink) Name() string { return "timeline" }

// OnPrivacy forgets the pictures the timeline holds when privacy mode is
// switched on (from MQTT or the web app): the page shows none from then.
func (s timelineSink) OnPrivacy(_ context.Context, on bool) {
	if on {
		s.d.timeline.ClearSnapshots()
	}
}

func (s timelineSink) OnEvent(_ context.Context, e bus.Event) {
	if err := s.d.timeline.Add(e.Event); err != nil {
		s.d.log.Debug("daemon: timeline", "err", err)
	}
}

// timelineSnapshot gives an event's press-time snapshot to the timeline.
func (d *Daemon) timelineSnapshot(eventID string, jpeg []byte, at time.Time) {
	if d.timeline == nil || eventID == "" {
		return
	}
	if err := d.timeline.SetSnapshot(eventID, jpeg, at); err != nil {
		d.log.Debug("daemon: timeline snapshot", "event", eventID, "err", err)
	}
}

// buildMetrics registers what /metrics shows, read from the parts at each
// scrape. New calls it once the parts exist.
func (d *Daemon) buildMetrics() {
	src := metrics.Sources{
		Outbox:        func() int { return d.outbox.Len() },
		MQTTConnected: d.MQTTConnected,
		Parts: func() []metrics.Sample {
			var out []metrics.Sample
			for _, st := range d.Parts() {
				out = append(out, metrics.Sample{Labels: []string{st.Name, string(st.Status)}, Value: 1})
			}
			return out
		},
	}
	if c := d.camera; c != nil {
		src.Camera = func() (uint64, uint64, bool) {
			st := c.Status()
			return st.Frames, st.Dropped, st.Available
		}
		src.Ring = func() (int, int, int) {
			st := c.Ring().Stats()
			return st.Frames, st.Bytes, st.Capacity
		}
		if v, ok := d.src.(*v4l2src.Source); ok {
			src.Driver = func() (uint64, uint64) {
				st := v.Stats()
				return st.Skipped, st.Bad
			}
		}
	}
	if s := d.clips; s != nil {
		src.Clips = func() (int, int64) {
			st := s.Stats()
			return st.Clips, st.Bytes
		}
		// d.xfer is built in Run, before any part (the web server among
		// them) runs: read it at scrape time.
		src.ClipBytesSent = func() uint64 {
			if d.xfer == nil {
				return 0
			}
			return d.xfer.Stats().BytesSent
		}
	}
	if m := d.masker; m != nil {
		src.Masks = func() (uint64, uint64, uint64, []metrics.Sample) {
			st := m.Stats()
			var fb []metrics.Sample
			for r, n := range st.Fallbacks {
				fb = append(fb, metrics.Sample{Labels: []string{string(r)}, Value: float64(n)})
			}
			return st.Frames, st.Fast + st.Filled, d.camera.Status().FilterDropped, fb
		}
	}
	src.Audit = func() ([]metrics.Sample, uint64, uint64) {
		st := d.audit.Stats()
		var out []metrics.Sample
		for k, n := range st.Entries {
			action, outcome, _ := strings.Cut(k, "/")
			out = append(out, metrics.Sample{Labels: []string{action, outcome}, Value: float64(n)})
		}
		return out, st.WriteErrors, st.Dropped
	}
	d.addLiveMetrics(&src)
	d.metrics = metrics.New(src)
}

// ackedEvent feeds the edge-to-publish histogram from the outbox's acks
// (outbox.SenderOptions.Acked), live and replayed apart.
func (d *Daemon) ackedEvent(e outbox.Entry, at time.Time, replayed bool) {
	if d.metrics != nil && !e.At.IsZero() {
		d.metrics.ObserveEdgeToPublish(at.Sub(e.At), replayed)
	}
}

// addLiveMetrics adds the live viewers and the frames handed to them.
func (d *Daemon) addLiveMetrics(src *metrics.Sources) {
	h := d.live
	if h == nil {
		return
	}
	src.Viewers = func() map[string]int {
		v := h.Stats().Viewers
		for _, k := range live.Kinds { // every kind, 0 included, so a graph has no holes
			if _, ok := v[k]; !ok {
				v[k] = 0
			}
		}
		return v
	}
	src.LiveFrames = func() (uint64, uint64, uint64) {
		st := h.Stats()
		return st.Delivered, st.Dropped, st.Encoded
	}
}

// buildLive makes the live-view hub (with a camera) and the RTSP server
// (with rtsp.listen). New calls it after the camera.
func (d *Daemon) buildLive() error {
	if d.camera == nil {
		return nil
	}
	d.live = live.New(d.camera, live.Options{Clock: d.clock, Logger: d.log})
	if privacy, _ := d.sw.get(); privacy {
		d.live.SetPrivate(true) // before any viewer or frame; liveSink follows every switch
		d.camera.SetPaused(true)
	}
	r := d.cfg.RTSP
	if r.Listen == "" {
		return nil
	}
	tc, err := serverTLS("rtsp", r.CertFile, r.KeyFile)
	if err != nil {
		return err
	}
	opts := rtsp.Options{
		Listen: r.Listen, Path: d.cfg.Device.ID, Source: liveSource{d.live}, Auth: d.users,
		TLSConfig: tc, UDPRTPPort: r.UDPPort, Logger: d.log, Clock: d.clock, Audit: d.record,
	}
	if d.mic != nil {
		opts.Audio = micSource{d.mic}
	}
	if d.speaker != nil && d.cfg.Audio.Talk {
		opts.Talk = talker{d}
	}
	d.rtsp = rtsp.New(opts)
	return nil
}

// micSource adapts the microphone to the RTSP server's audio track.
type micSource struct{ m *mic.Mic }

func (s micSource) SubscribeAudio(kind string) (rtsp.AudioFeed, error) {
	f, err := s.m.Subscribe(kind)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return f, nil
}

// talkRate is the back-channel's rate: G.711 is 8000 Hz mono.
const talkRate = 8000

// talker plays the owner's voice from the RTSP back-channel on the
// speaker. A talk answers the ring.
type talker struct{ d *Daemon }

func (t talker) StartTalk(user, remote string) (rtsp.TalkSink, error) {
	sp := t.d.speaker
	sp.answered.Store(t.d.clock.Now().UnixNano())
	return sp.player.Talk("rtsp:"+displayUser(user)+"@"+remote, talkRate, 1), nil
}

func displayUser(u string) string {
	if u == "" {
		return "-"
	}
	return u
}

// liveSource adapts the hub to what the RTSP server consumes.
type liveSource struct{ h *live.Hub }

func (s liveSource) Info() (live.Info, error) { return s.h.Info() }

func (s liveSource) Subscribe(kind string) (rtsp.Viewer, error) {
	v, err := s.h.Subscribe(kind)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return v, nil
}

// liveSink makes privacy mode mean it: when it is switched on, every live
// stream ends and the camera device is closed (a USB camera's LED goes
// off), so no frame is even captured; switched off, the camera opens again
// and viewers are allowed.
type liveSink struct {
	bus.Base
	h   *live.Hub
	cam *capture.Camera
}

func (liveSink) Name() string { return "live" }

func (s liveSink) OnPrivacy(_ context.Context, on bool) {
	s.h.SetPrivate(on)
	s.cam.SetPaused(on)
}

// serverTLS loads the certificate of the web app or the RTSP server (key
// "http" or "rtsp") with web.LoadTLS; nil without one. A failure stops
// startup, naming the keys.
func serverTLS(key, certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	tc, err := web.LoadTLS(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("daemon: %s.cert_file/%s.key_file: %w", key, key, err)
	}
	return tc, nil
}

// users loads the logins of the web app, RTSP and /metrics. A hash the
// config's shape check let through but account cannot use fails here,
// naming the user.
func users(us []config.User, clk clockwork.Clock) (*account.Store, error) {
	list := make([]account.User, len(us))
	for i, u := range us {
		list[i] = account.User{Username: u.Username, PasswordHash: u.PasswordHash}
	}
	s, err := account.NewStore(list, account.StoreOptions{Clock: clk})
	if err != nil {
		return nil, fmt.Errorf("daemon: users: %w", err)
	}
	return s, nil
}

// buildWeb makes the web server (with http.listen): the API, the web app,
// the MJPEG live stream and /metrics, behind users' logins.
func (d *Daemon) buildWeb() error {
	h := d.cfg.HTTP
	if h.Listen == "" {
		return nil
	}
	tc, err := serverTLS("http", h.CertFile, h.KeyFile)
	if err != nil {
		return err
	}
	app := webapp.Options{Timeline: d.timeline, Backend: webBackend{d}, User: web.User, Logger: d.log, Clock: d.clock,
		Audit: d.record, AuditLog: d.audit.Recent, OpenSealed: d.opener != nil}
	shapes, err := d.cfg.Privacy.Shapes() // config.Validate checked them
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	for _, sh := range shapes {
		app.Masks = append(app.Masks, sh.Points)
	}
	if d.clips != nil {
		app.Clips = openedClips{d.clips, d.opener}
	}
	o := web.Options{
		Listen: h.Listen, Hosts: h.Hosts, Backend: backend{d}, Sim: d.opts.SimHandler,
		Accounts: d.users, TLSConfig: tc, Metrics: d.metrics.Handler(), App: webapp.New(app),
		Logger: d.log, Clock: d.clock, Audit: d.record,
	}
	if d.live != nil {
		o.Live = audited(liveMJPEG(d.live, d.log), d.clock, d.record)
	}
	d.web = web.New(o)
	return nil
}

// liveMJPEG serves GET /api/live.mjpeg, counting a browser (the web app's
// live view, which sends Fetch Metadata headers) as a "web" viewer and
// everything else (Home Assistant, go2rtc, VLC) as "mjpeg".
func liveMJPEG(h *live.Hub, log *slog.Logger) http.Handler {
	app := live.MJPEG(h, live.MJPEGOptions{Kind: live.KindWeb, Logger: log})
	tool := live.MJPEG(h, live.MJPEGOptions{Kind: live.KindMJPEG, Logger: log})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Sec-Fetch-Mode") != "" {
			app.ServeHTTP(w, r)
			return
		}
		tool.ServeHTTP(w, r)
	})
}

// audited records each live MJPEG session that showed the door (answered
// 200) when it ends: who, from where, how long.
func audited(h http.Handler, clk clockwork.Clock, record func(audit.Entry)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		start := clk.Now()
		h.ServeHTTP(sw, r)
		if sw.code != http.StatusOK {
			return
		}
		actor := "web"
		if u := web.User(r); u != "" {
			actor += ":" + u
		}
		record(audit.Entry{Action: audit.ActionLive, Actor: actor, From: r.RemoteAddr, Object: r.URL.Path,
			Reason: "mjpeg", Duration: clk.Since(start).Seconds()})
	})
}

// statusWriter notes the status of an answer; Unwrap keeps
// http.ResponseController (write deadlines, flushes) working.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// webBackend is what the web app's buttons and switches do: the same
// commands as MQTT's, through the same rate limits and queue (submit),
// marked with the user for the audit log.
type webBackend struct{ d *Daemon }

func (b webBackend) submit(ctx context.Context, c command.Command) error {
	c.From = "web:" + webUser(ctx)
	c.Done = make(chan struct{})
	if err := b.d.submit(c); err != nil {
		return err
	}
	// Answer once it is done, so that what the page does next (reload
	// the live view after privacy, say) sees the new state.
	select {
	case <-c.Done:
	case <-ctx.Done():
	}
	return nil
}

// SetSwitch sets "privacy" or "chime".
func (b webBackend) SetSwitch(ctx context.Context, name string, on bool) error {
	switch name {
	case "privacy":
		return b.submit(ctx, command.Command{Kind: command.Privacy, On: on})
	case "chime":
		if b.d.chime == nil {
			return errors.New("no chime relay configured (gpio.chime.line)")
		}
		return b.submit(ctx, command.Command{Kind: command.Chime, On: on})
	}
	return fmt.Errorf("no switch %q", name)
}

// TestChime rings the chime once.
func (b webBackend) TestChime(ctx context.Context) error {
	if b.d.chime == nil {
		return errors.New("no chime relay configured (gpio.chime.line)")
	}
	return b.submit(ctx, command.Command{Kind: command.TestChime})
}

// Snapshot publishes the newest frame as a snapshot, as cmd/snapshot does.
func (b webBackend) Snapshot(ctx context.Context) error {
	if privacy, _ := b.d.sw.get(); privacy {
		return errors.New("privacy mode is on: the camera is not shown")
	}
	if b.d.snaps == nil {
		return errors.New("no camera configured (camera.device)")
	}
	return b.submit(ctx, command.Command{Kind: command.Snapshot})
}

// DeleteRecordings deletes every stored clip and snapshot (the page's
// "Delete all recordings", behind the login).
func (b webBackend) DeleteRecordings(ctx context.Context) (int, error) {
	if err := b.d.gate.Allow(command.DeleteRecordings); err != nil {
		return 0, err
	}
	actor, from, ok := webapp.Requester(ctx)
	if !ok {
		actor = "web:" + webUser(ctx)
	}
	return b.d.deleteRecordings(actor, from), nil
}

// HasDoor says whether a door opener is configured (the page's button).
func (b webBackend) HasDoor() bool { return b.d.door != nil }

// OpenDoor opens the door for a logged-in user: the login is the
// authentication; the command rate limit and the audit trail apply.
func (b webBackend) OpenDoor(ctx context.Context) error {
	if b.d.door == nil {
		return errors.New("no door opener configured (gpio.door.line)")
	}
	actor, from, ok := webapp.Requester(ctx)
	if !ok {
		actor = "web:" + webUser(ctx)
	}
	if err := b.d.gate.Allow(command.Door); err != nil {
		b.d.refuseDoor(actor, "", doorauth.RateLimited, doorauth.ReasonRateLimited)
		return err
	}
	b.d.openDoor(actor, from, "", "login")
	return nil
}

// Replies are the quick replies' names (the page's buttons).
func (b webBackend) Replies() []string {
	if b.d.speaker == nil {
		return nil
	}
	return b.d.speaker.names
}

// PlayReply plays a quick reply, through the command path (its rate
// limit), marked with the user.
func (b webBackend) PlayReply(ctx context.Context, name string) error {
	if b.d.speaker == nil {
		return errNoSpeaker
	}
	if !slices.Contains(b.d.speaker.names, name) {
		return fmt.Errorf("no quick reply %q", name)
	}
	return b.submit(ctx, command.Command{Kind: command.Reply, Name: name})
}

// Switches is the switches' state, for the page's toggles.
func (b webBackend) Switches() map[string]bool {
	privacy, chime := b.d.sw.get()
	return map[string]bool{"privacy": privacy, "chime": chime}
}

// webUser is the user the web server put in ctx, or "(open mode)".
func webUser(ctx context.Context) string {
	if u := web.UserFrom(ctx); u != "" {
		return u
	}
	return "(open mode)"
}
