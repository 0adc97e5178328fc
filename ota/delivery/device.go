package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/install"
)

// Options configure a Device.
type Options struct {
	// Base is <mqtt.topic_prefix>/<device.id>.
	Base      string
	Installer *install.Installer
	// Publish sends one message at QoS 1 and returns once the broker has
	// it (or failed). Device calls it from Run's goroutine only.
	Publish func(topic string, retained bool, payload []byte) error
	// Version is the running daemon's version (installed_version).
	Version string
	// OfferDir (ota.offer_dir) is where path offers may point: a regular
	// file inside it, after symbolic links are resolved. "" refuses path
	// offers.
	OfferDir string
	// URLHosts (ota.url_hosts) are the hosts url offers, and each redirect
	// they take, may fetch from: "host" (the scheme's default port only)
	// or "host:port", compared case-insensitively. Empty refuses url
	// offers.
	URLHosts []string
	// HTTPClient fetches url offers; default: 15 minute timeout, at most 5
	// redirects. Device checks every redirect against URLHosts before the
	// client's own CheckRedirect.
	HTTPClient *http.Client
	// MaxBundle bounds what a transfer or download may be; default
	// install.DefaultMaxSize plus the largest header. Keep it in step with
	// the installer's MaxSize.
	MaxBundle int64
	// Window is how many chunks a pusher may have in flight; default 8.
	Window int
	// IdleTimeout ends a transfer that gets no chunk this long; default 30s.
	IdleTimeout time.Duration
	// ProgressEvery is the least time between progress states; default 1s.
	ProgressEvery time.Duration
	// JobTimeout bounds one whole update, so a sender trickling chunks
	// cannot hold the update lock forever; default 30m.
	JobTimeout time.Duration
	// StallTimeout ends a job whose source (download, file, transfer)
	// delivers less than 16 KiB this long, also before its first byte;
	// default 30s.
	StallTimeout time.Duration
	// PreemptAfter: a new offer preempts a running job whose source has
	// made no progress this long (see the package doc); default 5s.
	PreemptAfter time.Duration
	Clock        clockwork.Clock
	Logger       *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Minute, CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return nil
		}}
	}
	if o.MaxBundle <= 0 {
		o.MaxBundle = install.DefaultMaxSize + ota.MaxHeaderSize
	}
	if o.Window <= 0 {
		o.Window = 8
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = 30 * time.Minute
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 30 * time.Second
	}
	if o.PreemptAfter <= 0 {
		o.PreemptAfter = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Device runs the device's side of the protocol: it takes offers and
// chunks from the MQTT handlers, installs through the Installer, watches
// the health trial (Installer.Run) and publishes State.
//
// Wiring, in the daemon:
//
//	at start, before anything:  installer.Boot()  (exit ExitRestart if RestartRequired)
//	subscribe CommandTopic      → HandleCommand(payload)   (never a retained message)
//	subscribe Filters(base)     → HandleMessage(topic, payload, retained)
//	every (re)connect           → PublishState()  (update/status, then update/state)
//	healthy (broker, GPIO)      → Confirm()
//	a part:                       Run(ctx); an error wrapping install.ErrRestartRequired
//	                              means: shut down, exit install.ExitRestart
type Device struct {
	o     Options
	t     mqttapi.Topics
	hosts []urlHost    // URLHosts, parsed
	http  *http.Client // HTTPClient, with redirects checked against hosts

	jobs   chan *job
	outbox chan message

	mu        sync.Mutex
	cur       *job      // the job that holds the update: running or about to
	xfer      *transfer // cur's transfer, if it is one
	announced *Offer
	progress  *State // while a job runs: its state
	failure   string // the last refused offer, until the next one
}

// message is what one send queues: messages published in this order,
// with nothing queued by another send between them (the update/status and
// update/state pair, so the two retained topics never disagree for good).
type message []mqttapi.Message

// NewDevice returns a Device; it starts nothing. It logs URLHosts entries
// it cannot parse (and ignores them).
func NewDevice(o Options) *Device {
	o.ensureDefaults()
	d := &Device{o: o, t: mqttapi.TopicsUnder(o.Base), jobs: make(chan *job, 4), outbox: make(chan message, 64)}
	for _, s := range o.URLHosts {
		h, err := parseURLHost(s)
		if err != nil {
			o.Logger.Warn("ota: url host ignored", "err", err)
			continue
		}
		d.hosts = append(d.hosts, h)
	}
	c := *o.HTTPClient
	next := c.CheckRedirect
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if err := d.allowURL(r.URL); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return errors.New("more than 10 redirects")
		}
		return nil
	}
	d.http = &c
	return d
}

// HandleCommand takes a payload of CommandTopic: an offer, or "install".
// It never blocks. The error (also published as state "failed") is for the
// log.
func (d *Device) HandleCommand(payload []byte) error {
	var o Offer
	if IsInstall(payload) {
		d.mu.Lock()
		a := d.announced
		d.mu.Unlock()
		if a == nil {
			return d.refuse(fmt.Errorf("update: %q: no update announced: %w", InstallPayload, ErrBadOffer))
		}
		o = *a
		o.Install = nil
	} else {
		var err error
		if o, err = ParseOffer(payload); err != nil {
			return d.refuse(err)
		}
	}
	if err := d.allowed(o); err != nil {
		return d.refuse(err)
	}
	if o.Announce() {
		d.mu.Lock()
		d.announced, d.failure = &o, ""
		d.mu.Unlock()
		d.o.Logger.Info("ota: update announced", "version", o.Version)
		d.PublishState()
		return nil
	}
	if o.Transfer != "" && o.Size > d.o.MaxBundle {
		err := fmt.Errorf("update: transfer of %d bytes, at most %d: %w", o.Size, d.o.MaxBundle, ota.ErrTooLarge)
		d.sendAck(o.Transfer, Ack{Done: true, Error: err.Error()})
		return d.refuse(err)
	}
	now := d.o.Clock.Now()
	d.mu.Lock()
	if cur := d.cur; cur != nil {
		stopped := false
		if len(d.jobs) < cap(d.jobs) {
			_, stopped, _ = cur.stopIfIdle(now, d.o.PreemptAfter, func(idle time.Duration) error {
				return fmt.Errorf("update: offer of %s preempted by an offer of %s after %v without progress: %w",
					cur.offer.Version, o.Version, idle.Round(time.Millisecond), ErrPreempted)
			})
		}
		if !stopped {
			d.mu.Unlock()
			err := fmt.Errorf("update: offer of %s: %w", o.Version, install.ErrBusy)
			if o.Transfer != "" {
				d.sendAck(o.Transfer, Ack{Done: true, Error: err.Error()})
			}
			return err // the running update's state stays
		}
		d.o.Logger.Warn("ota: running update preempted by a newer offer", "running", cur.offer.Version, "offered", o.Version)
	}
	j := newJob(o, now)
	if o.Transfer != "" {
		j.xfer = newTransfer(context.Background(), o.Transfer, o.Size, o.ChunkSize, d.o.Window, d.o.IdleTimeout, d.o.Clock,
			func(next int64) { d.sendAck(o.Transfer, Ack{Next: next, Window: d.o.Window}) })
	}
	d.cur, d.xfer, d.failure = j, j.xfer, ""
	d.progress = &State{LatestVersion: canonical(o.Version), InProgress: true, UpdatePercentage: pct(0), State: StateDownloading}
	d.jobs <- j // never blocks: checked above, under mu
	d.mu.Unlock()
	return nil
}

// refuse reports an offer refused before any work.
func (d *Device) refuse(err error) error {
	d.o.Logger.Warn("ota: offer refused", "err", err)
	d.mu.Lock()
	if d.cur == nil {
		d.failure = err.Error()
	}
	d.mu.Unlock()
	d.PublishState()
	return err
}

// HandleMessage takes a message on Filters(base): a chunk or an abort of
// the running transfer. Others are ignored. It never blocks.
func (d *Device) HandleMessage(topic string, payload []byte, retained bool) {
	id, kind, offset, ok := d.t.ParseOTA(topic)
	if !ok || retained {
		return
	}
	d.mu.Lock()
	x := d.xfer
	d.mu.Unlock()
	if x == nil || id != x.id {
		return
	}
	switch kind {
	case mqttapi.OTAKindAbort:
		x.abort(fmt.Errorf("transfer %s: aborted by the sender: %w", x.id, ErrTransfer))
	case mqttapi.OTAKindChunk:
		off, err := strconv.ParseInt(offset, 10, 64)
		if err != nil || off < 0 || strconv.FormatInt(off, 10) != offset {
			d.o.Logger.Debug("ota: bad chunk topic", "topic", topic)
			return
		}
		if err := x.put(off, payload); err != nil {
			d.o.Logger.Debug("ota: chunk ignored", "transfer", x.id, "err", err)
		}
	}
}

// Confirm tells the installer the daemon is healthy (see
// install.Installer.Confirm) and publishes the state when that ended a
// trial.
func (d *Device) Confirm() error {
	ok, err := d.o.Installer.Confirm()
	if ok {
		d.PublishState()
	}
	return err
}

// PublishState queues the current State's messages (StateMessages,
// retained); call it after every connect.
func (d *Device) PublishState() {
	d.send(StateMessages(d.t, d.State()))
}

// State is what PublishState publishes.
func (d *Device) State() State {
	s := IdleState(d.o.Version)
	inst := s.InstalledVersion
	d.mu.Lock()
	var prog *State
	if d.progress != nil {
		p := *d.progress // a copy under mu: progressFunc updates it
		prog = &p
	}
	failure, ann := d.failure, d.announced
	d.mu.Unlock()
	if prog != nil {
		prog.InstalledVersion = inst
		return *prog
	}
	st, err := d.o.Installer.Status()
	switch {
	case err != nil:
		s.State, s.Error = StateFailed, err.Error()
	case st.Phase == install.PhaseTrial:
		s.State, s.InProgress = StateConfirming, true
	case st.Phase == install.PhaseRollback || st.Outcome == install.OutcomeRolledBack:
		s.State, s.Error = StateRolledBack, st.Error
	case st.Outcome == install.OutcomeRollbackFailed:
		s.State, s.Error = StateRollbackFailed, st.Error
	case st.Outcome == install.OutcomeInterrupted:
		s.State, s.Error = StateFailed, st.Error
	}
	if failure != "" && !s.InProgress {
		s.State, s.Error = StateFailed, failure
	}
	// An announced newer version shows even after a rollback (whose
	// outcome stays recorded until the next update): Home Assistant must
	// be able to offer it.
	if ann != nil && failure == "" && err == nil && st.Phase == install.PhaseIdle {
		if c, err := ota.CompareVersions(ann.Version, d.o.Version); err == nil && c > 0 {
			s.State, s.LatestVersion = StateAvailable, canonical(ann.Version)
		}
	}
	return s
}

func pct(p float64) *float64 { return &p }

func (d *Device) send(m message) {
	select {
	case d.outbox <- m:
	default:
		d.o.Logger.Warn("ota: outbox full, message dropped", "topic", m[0].Topic)
	}
}

func (d *Device) sendAck(id string, a Ack) {
	b, _ := json.Marshal(a)
	d.send(message{{Topic: d.t.OTAAckTopic(id), Payload: b}})
}

// Run runs installs and the health trial until ctx ends. It returns an
// error wrapping install.ErrRestartRequired when the daemon must exit with
// install.ExitRestart: after an update was installed, or when the version
// on trial did not confirm in time and was rolled back.
func (d *Device) Run(ctx context.Context) error {
	trialCtx, stopTrial := context.WithCancel(ctx)
	defer stopTrial()
	trial := make(chan error, 1)
	go func() { trial <- d.o.Installer.Run(trialCtx) }()
	jobCtx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	jobDone := make(chan error, 1)
	running := false
	var queue []*job // accepted while another ran: that one was preempted
	for {
		select {
		case <-ctx.Done():
			if running {
				stopJob()
				<-jobDone
			}
			d.flush()
			return nil
		case err := <-trial:
			trial = nil
			d.PublishState()
			if errors.Is(err, install.ErrRestartRequired) {
				if running {
					stopJob()
					<-jobDone
				}
				d.flush()
				return err
			}
		case m := <-d.outbox:
			d.publish(m)
		case j := <-d.jobs:
			queue = append(queue, j)
		case err := <-jobDone:
			running = false
			if errors.Is(err, install.ErrRestartRequired) {
				d.flush()
				return err
			}
		}
		if !running && len(queue) > 0 {
			j := queue[0]
			queue = queue[1:]
			running = true
			go func() { jobDone <- d.do(jobCtx, j) }()
		}
	}
}

func (d *Device) publish(m message) {
	for _, p := range m {
		if err := d.o.Publish(p.Topic, p.Retain, p.Payload); err != nil {
			d.o.Logger.Warn("ota: publish", "topic", p.Topic, "err", err)
		}
	}
}

// flush publishes what is queued.
func (d *Device) flush() {
	for {
		select {
		case m := <-d.outbox:
			d.publish(m)
		default:
			return
		}
	}
}

// do runs one install.
func (d *Device) do(parent context.Context, j *job) error {
	defer j.cancel(nil) // the job is over: ends its watchdog
	stop := context.AfterFunc(parent, func() { j.cancel(fmt.Errorf("update: the device stops: %w", context.Cause(parent))) })
	defer stop()
	// JobTimeout on the clock, as a cause of j.ctx: clockwork's fake
	// contexts block in Err until they are done, and the installer asks.
	timeout := d.o.Clock.AfterFunc(d.o.JobTimeout, func() {
		j.cancel(fmt.Errorf("update: not done within %v: %w", d.o.JobTimeout, context.DeadlineExceeded))
	})
	defer timeout.Stop()
	ctx := j.ctx
	o := j.offer
	log := d.o.Logger.With("version", o.Version)
	var (
		raw  io.ReadCloser
		src  *source
		size int64
		res  install.Result
		err  = context.Cause(j.ctx) // preempted before it started
	)
	if err == nil {
		go d.watch(j)
		d.PublishState()
		switch {
		case j.xfer != nil:
			log = log.With("transfer", o.Transfer, "bytes", o.Size)
			j.xfer.ctx = ctx
			raw, size = j.xfer, o.Size
			d.sendAck(o.Transfer, Ack{Next: 0, Window: d.o.Window})
		case o.URL != "":
			log = log.With("url", o.URL)
			raw, size, err = d.fetch(ctx, o.URL)
		default:
			log = log.With("path", o.Path)
			raw, size, err = d.open(o.Path)
		}
		log.Info("ota: update offered")
	}
	if err == nil {
		src = &source{r: raw, j: j, clk: d.o.Clock}
		res, err = d.o.Installer.Install(ctx, src, size, d.progressFunc(j))
		raw.Close()
	}
	if err != nil {
		err = d.explain(err, j, src)
	}
	d.mu.Lock()
	current := d.cur == j
	if current {
		d.cur, d.xfer = nil, nil
	}
	switch {
	case err != nil && current:
		d.progress, d.failure = nil, err.Error()
	case err == nil:
		d.progress = &State{LatestVersion: canonical(res.Manifest.Version), InProgress: true, UpdatePercentage: pct(100), State: StateRestarting}
		d.announced = nil
	}
	d.mu.Unlock()
	if err != nil {
		log.Error("ota: update failed; nothing changed", "err", err)
		if o.Transfer != "" {
			d.sendAck(o.Transfer, Ack{Done: true, Error: err.Error()})
		}
		if current {
			d.PublishState()
		}
		return nil
	}
	log.Info("ota: update installed; restarting into it", "installed", res.Manifest.Version)
	if o.Transfer != "" {
		d.sendAck(o.Transfer, Ack{Next: size, Done: true, Version: res.Manifest.Version})
	}
	d.PublishState()
	return fmt.Errorf("update: %s installed in slot %s: %w", res.Manifest.Version, res.Slot, install.ErrRestartRequired)
}

// progressFunc publishes j's download progress, at most every
// ProgressEvery and per whole percent, while j holds the update.
func (d *Device) progressFunc(j *job) func(done, total int64) {
	var last time.Time
	lastPct := -1.0
	return func(done, total int64) {
		p := math.Floor(float64(done)*1000/float64(total)) / 10
		now := d.o.Clock.Now()
		if p < 100 && (p-lastPct < 1 || now.Sub(last) < d.o.ProgressEvery) {
			return
		}
		last, lastPct = now, p
		d.mu.Lock()
		current := d.cur == j && d.progress != nil
		if current {
			d.progress.UpdatePercentage = pct(p)
		}
		d.mu.Unlock()
		if current {
			d.PublishState()
		}
	}
}

// fetch GETs an offered URL (allowed passed) with d.http, whose redirects
// are checked against URLHosts too.
func (d *Device) fetch(ctx context.Context, raw string) (io.ReadCloser, int64, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, 0, fmt.Errorf("update: fetch %s: %w", raw, err)
	}
	if err := d.allowURL(u); err != nil {
		return nil, 0, fmt.Errorf("update: fetch %s: %w", raw, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("update: fetch %s: %w", raw, err)
	}
	req.Header.Set("Accept", "application/octet-stream")
	resp, err := d.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.Is(err, ErrNotAllowed) && errors.As(err, &ue) {
			err = ue.Err // the redirect's own error says where to
		}
		return nil, 0, fmt.Errorf("update: fetch %s: %w", raw, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("update: fetch %s: %s", raw, resp.Status)
	}
	if resp.ContentLength > d.o.MaxBundle {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("update: fetch %s: %d bytes, at most %d: %w", raw, resp.ContentLength, d.o.MaxBundle, ota.ErrTooLarge)
	}
	return readCloser{io.LimitReader(resp.Body, d.o.MaxBundle+1), resp.Body}, resp.ContentLength, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
