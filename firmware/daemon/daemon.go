package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/simcam"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/capture/v4l2src"
	"github.com/doorbelld/doorbelld/firmware/broker"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/command"
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/hass"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
	"github.com/doorbelld/doorbelld/firmware/outbox"
	"github.com/doorbelld/doorbelld/firmware/sdnotify"
	"github.com/doorbelld/doorbelld/firmware/web"
	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/gpioline"
	"github.com/doorbelld/doorbelld/hal/haltest"
	"github.com/doorbelld/doorbelld/ota/delivery"
	"github.com/doorbelld/doorbelld/ota/install"
)

// Options configure a Daemon.
type Options struct {
	Config  config.Config // validated
	Sim     bool          // simulated pins and camera, sim HTTP endpoints
	Version string
	Logger  *slog.Logger
	// SimPressHold is how long a simulated press holds the button.
	// Default 150ms.
	SimPressHold time.Duration
	// Ready, if set, is called once every part is up.
	Ready func(*Daemon)
}

// Daemon is the running doorbell.
type Daemon struct {
	opts   Options
	cfg    config.Config
	log    *slog.Logger
	clock  clockwork.Clock
	topics Topics
	seq    *event.Seq

	broker *broker.Broker // nil with an external broker
	mq     *mqttpub.Client
	tls    *tls.Config // nil for a tcp:// broker
	web    *web.Server // nil when http.listen is empty
	outbox *outbox.Outbox
	sender *outbox.Sender
	sw     *switches
	cmdLog *command.Limiter
	hassO  hass.Options

	events chan hal.Event
	button *hal.Input
	pir    *hal.Input          // nil without a PIR
	chime  *hal.Chime          // nil without a chime relay
	led    *hal.LED            // nil without a status LED
	camera *capture.Camera     // nil without a camera
	clips  *storage.Store      // nil without a camera, with clip.enabled false, or when the store failed
	rec    *clip.Recorder      // nil when clips is nil
	xfer   *clipxfer.Publisher // nil when clips is nil

	simButton, simPIR *haltest.Pin // sim mode only

	started   time.Time
	runCtx    context.Context    // guarded by mu
	stop      context.CancelFunc // stops Run; guarded by mu
	bg        sync.WaitGroup     // snapshot publishers; Add only through background
	stopping  bool               // Run is waiting for bg: no more Adds; guarded by mu
	heartbeat atomic.Int64       // unix nanos of the event loop's last turn
	pirState  atomic.Value       // string: ok | unavailable | none
	motionOn  atomic.Bool        // the PIR's last reported state

	restart atomic.Bool // the restart command asked Run to return ErrRestart

	inst         *install.Installer // nil when OTA is off
	dev          *delivery.Device   // nil when OTA is off
	otaOff       string             // why OTA is off
	otaConfirmed bool               // event loop only

	mu         sync.Mutex
	last       *event.Event
	lastHealth []byte
}

// ErrRestart is what Run returns after the restart command: the process
// should exit non-zero so that systemd (Restart=on-failure) starts it again.
var ErrRestart = errors.New("daemon: restart requested over MQTT")

// New builds every part from the config. It opens GPIO lines (so a wrong
// line name fails here, naming it) but starts nothing.
func New(opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SimPressHold <= 0 {
		opts.SimPressHold = 150 * time.Millisecond
	}
	cfg := opts.Config
	d := &Daemon{
		opts:    opts,
		cfg:     cfg,
		log:     opts.Logger,
		clock:   clockwork.NewRealClock(),
		topics:  TopicsFor(cfg),
		events:  make(chan hal.Event, 64),
		started: time.Now(),
	}
	d.pirState.Store("none")

	if err := os.MkdirAll(cfg.Storage.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("daemon: create storage.dir: %w", err)
	}
	seq, err := event.OpenSeq(cfg.Storage.Dir)
	if seq == nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if err != nil {
		d.log.Warn("daemon: event sequence restarted", "err", err)
	}
	d.seq = seq
	if d.outbox, err = outbox.Open(filepath.Join(cfg.Storage.Dir, "outbox"), outbox.Options{Logger: d.log}); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if d.sw, err = loadSwitches(cfg.Storage.Dir, cfg.GPIO.Chime.Enabled); err != nil {
		d.log.Warn("daemon: switch states lost, using the config's", "err", err)
	}
	d.cmdLog = command.NewLimiter(command.LimiterOptions{Logger: d.log})
	d.hassO = hassOptions(cfg, opts.Version, opts.Sim)

	if d.tls, err = tlsConfig(cfg.MQTT); err != nil {
		return nil, err
	}
	if cfg.MQTT.TLSInsecureSkipVerify {
		d.log.Warn("mqtt: mqtt.tls_insecure_skip_verify is true: the broker's certificate is NOT checked; anyone on the path can read and fake every message")
	}
	if cfg.MQTT.Broker == "" {
		d.broker = broker.New(broker.Options{
			Listen: cfg.MQTT.Listen, Username: cfg.MQTT.Username, Password: cfg.MQTT.Password, Logger: d.log,
		})
	}
	if cfg.HTTP.Listen != "" {
		var sim web.Sim
		if opts.Sim {
			sim = simControl{d}
		}
		d.web = web.New(web.Options{Listen: cfg.HTTP.Listen, Backend: backend{d}, Sim: sim, Logger: d.log})
	}
	if err := d.buildGPIO(); err != nil {
		return nil, err
	}
	d.buildCamera()
	if err := d.buildOTA(); err != nil {
		return nil, err
	}
	_, chimeOn := d.sw.get()
	if d.chime != nil {
		d.chime.SetEnabled(chimeOn)
	}
	return d, nil
}

func pull(s string) gpio.Pull {
	switch s {
	case "up":
		return gpio.PullUp
	case "down":
		return gpio.PullDown
	case "none":
		return gpio.Float
	}
	return gpio.PullNoChange
}

func (d *Daemon) buildGPIO() error {
	g := d.cfg.GPIO
	var btn, pir gpio.PinIn
	var chime, led gpio.PinOut
	if d.opts.Sim {
		// Idle levels: a released active-low button reads high.
		d.simButton = haltest.NewPin("SIM_BUTTON", gpio.Level(g.Button.ActiveLow))
		d.simPIR = haltest.NewPin("SIM_PIR", gpio.Level(g.PIR.ActiveLow))
		btn, pir = d.simButton, d.simPIR
		chime = haltest.NewPin("SIM_CHIME", gpio.Level(g.Chime.ActiveLow))
		led = haltest.NewPin("SIM_LED", gpio.Level(g.LED.ActiveLow))
	} else {
		if err := gpioline.Init(); err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		// Inputs are read with the kernel's edge timestamps.
		in := func(key, spec string) (gpio.PinIn, error) {
			p, err := gpioline.OpenInput(spec)
			if err != nil {
				return nil, fmt.Errorf("daemon: %s: %w", key, err)
			}
			return p, nil
		}
		out := func(key, spec string) (gpio.PinOut, error) {
			p, err := gpioline.Open(spec)
			if err != nil {
				return nil, fmt.Errorf("daemon: %s: %w", key, err)
			}
			return p, nil
		}
		var err error
		if btn, err = in("gpio.button.line", g.Button.Line); err != nil {
			return err
		}
		if g.PIR.Line != "" {
			if pir, err = in("gpio.pir.line", g.PIR.Line); err != nil {
				return err
			}
		}
		if g.Chime.Line != "" {
			if chime, err = out("gpio.chime.line", g.Chime.Line); err != nil {
				return err
			}
		}
		if g.LED.Line != "" {
			if led, err = out("gpio.led.line", g.LED.Line); err != nil {
				return err
			}
		}
	}
	d.button = hal.NewButton(btn,
		hal.InputOptions{Name: "button", ActiveLow: g.Button.ActiveLow, Pull: pull(g.Button.Pull), Logger: d.log},
		hal.ButtonOptions{Debounce: g.Button.Debounce.D(), MinPress: g.Button.MinPress.D(),
			LongPress: g.Button.LongPress.D(), DoublePress: g.Button.DoublePress.D()})
	if pir != nil {
		d.pir = hal.NewMotion(pir,
			hal.InputOptions{Name: "pir", ActiveLow: g.PIR.ActiveLow, Pull: pull(g.PIR.Pull), Logger: d.log},
			hal.MotionOptions{Hold: g.PIR.Hold.D(), MinActive: g.PIR.MinActive.D(), Cooldown: g.PIR.Cooldown.D()})
		d.pirState.Store("ok")
	}
	if chime != nil {
		quiet, err := hal.ParseQuietHours(g.Chime.QuietHours) // validated already
		if err != nil {
			return fmt.Errorf("daemon: gpio.chime.quiet_hours: %w", err)
		}
		d.chime = hal.NewChime(chime, hal.ChimeOptions{
			ActiveLow: g.Chime.ActiveLow, Pulse: g.Chime.Pulse.D(), Enabled: g.Chime.Enabled,
			MinGap: g.Chime.MinGap.D(), Quiet: quiet, Logger: d.log,
		})
	}
	if led != nil {
		d.led = hal.NewLED(led, hal.LEDOptions{ActiveLow: g.LED.ActiveLow, Logger: d.log})
	}
	return nil
}

func (d *Daemon) buildCamera() {
	c := d.cfg.Camera
	var src capture.Source
	switch c.Device {
	case "":
		return
	case "sim":
		src = simcam.New(c.Width, c.Height, c.FPS, d.clock)
	default:
		src = v4l2src.New(c.Device, v4l2src.Options{Width: c.Width, Height: c.Height, FPS: c.FPS, Format: c.Format, Logger: d.log})
	}
	ring := capture.NewRing(int(d.cfg.Capture.RingBytes.Bytes()))
	d.camera = capture.New(src, ring, capture.Options{Clock: d.clock, Logger: d.log})
	if !d.cfg.Clip.Enabled {
		return
	}
	st := d.cfg.Storage
	store, err := storage.Open(filepath.Join(st.Dir, "clips"), storage.Options{
		Mode: storage.Mode(st.Mode), MaxBytes: st.MaxBytes.Bytes(), MaxAge: st.MaxAge.D(), MinFree: st.MinFree.Bytes(),
		Clock: d.clock, Logger: d.log,
	})
	if err != nil {
		d.log.Error("daemon: clip storage unavailable, recording no clips", "err", err)
		return
	}
	d.clips = store
	d.rec = clip.New(ring, store, clip.Options{
		PreRoll: d.cfg.Capture.PreRoll.D(), PostRoll: d.cfg.Capture.PostRoll.D(),
		Merge: d.cfg.Clip.Merge, MaxLength: d.cfg.Clip.MaxLength.D(), Clock: d.clock, Logger: d.log,
	})
}

// brokerURL is where the MQTT client connects: the configured broker, or
// the embedded one on its bound address.
func (d *Daemon) brokerURL() string {
	if d.broker == nil {
		return d.cfg.MQTT.BrokerURL()
	}
	host, port, err := net.SplitHostPort(d.broker.Addr())
	if err != nil {
		return "tcp://" + d.broker.Addr()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "tcp://" + net.JoinHostPort(host, port)
}

// Run runs the doorbell until ctx is done. It returns an error only when a
// part the doorbell cannot work without fails: the broker or HTTP port is
// taken, or the button line cannot be read.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.bootOTA(); err != nil {
		return err
	}
	if d.broker != nil {
		if err := d.broker.Start(); err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
	}
	if d.web != nil {
		if err := d.web.Start(); err != nil {
			if d.broker != nil {
				_ = d.broker.Run(canceled())
			}
			return fmt.Errorf("daemon: %w", err)
		}
	}
	d.mq = mqttpub.New(mqttpub.Options{
		Broker: d.brokerURL(), ClientID: d.cfg.MQTT.ClientID, TLS: d.tls,
		Username: d.cfg.MQTT.Username, Password: d.cfg.MQTT.Password,
		StatusTopic: d.topics.Status, OnConnect: d.onConnect, Logger: d.log,
	})
	d.buildXfer()
	d.sender = outbox.NewSender(d.outbox, outbox.SenderOptions{Topic: d.topics.Event, Publisher: d.mq, Logger: d.log})
	d.mq.Connect()

	partsCtx, stopParts := context.WithCancel(ctx)
	defer stopParts()
	d.mu.Lock()
	d.runCtx, d.stop = partsCtx, stopParts
	d.mu.Unlock()
	var (
		parts    sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	start := func(name string, critical bool, run func(context.Context) error) {
		parts.Add(1)
		go func() {
			defer parts.Done()
			err := run(partsCtx)
			if err == nil {
				return
			}
			if !critical {
				d.log.Error("daemon: part failed, continuing without it", "part", name, "err", err)
				return
			}
			d.log.Error("daemon: part failed, stopping", "part", name, "err", err)
			errMu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			errMu.Unlock()
			stopParts()
		}()
	}
	start("events", true, d.loop)
	start("outbox", false, d.sender.Run)
	start("button", true, func(ctx context.Context) error { return d.button.Run(ctx, d.events) })
	if d.pir != nil {
		start("pir", false, func(ctx context.Context) error {
			err := d.pir.Run(ctx, d.events)
			if err != nil {
				d.pirState.Store("unavailable")
			}
			return err
		})
	}
	if d.chime != nil {
		start("chime", false, d.chime.Run)
	}
	if d.led != nil {
		d.updateLED()
		start("led", false, d.led.Run)
	}
	if d.camera != nil {
		start("camera", false, d.camera.Run)
	}
	if d.rec != nil {
		start("clips", false, d.clips.Run)
		start("recorder", false, d.rec.Run)
		start("clip-ready", false, d.clipReady)
		start("clip-transfer", false, d.xfer.Run)
	}
	if d.web != nil {
		start("web", true, d.web.Run)
	}
	if d.dev != nil {
		start("ota", false, func(ctx context.Context) error {
			err := d.dev.Run(ctx)
			if errors.Is(err, install.ErrRestartRequired) {
				d.log.Warn("daemon: restarting into the other OTA slot", "reason", err)
				d.restart.Store(true)
				stopParts()
				return nil
			}
			return err
		})
	} else {
		d.log.Info("over-the-air updates are off", "reason", d.otaOff)
	}
	start("watchdog", false, func(ctx context.Context) error { return sdnotify.Watchdog(ctx, d.log, d.healthy) })

	d.log.Info("doorbelld running", "version", d.opts.Version, "device", d.cfg.Device.ID, "sim", d.opts.Sim,
		"broker", d.brokerURL(), "camera", d.cfg.Camera.Device, "topics", d.cfg.MQTT.TopicPrefix+"/"+d.cfg.Device.ID+"/#")
	sdnotify.Ready(d.log)
	if d.opts.Ready != nil {
		d.opts.Ready(d)
	}

	<-partsCtx.Done()
	sdnotify.Stopping(d.log)
	d.log.Info("doorbelld stopping")
	parts.Wait()
	d.mu.Lock()
	d.stopping = true // MQTT commands still arrive until the disconnect below
	d.mu.Unlock()
	d.bg.Wait()
	_ = d.mq.Run(canceled()) // offline + disconnect, while the broker still runs
	if d.broker != nil {
		_ = d.broker.Run(canceled())
	}
	if err := d.outbox.Close(); err != nil {
		d.log.Error("daemon: close outbox", "err", err)
	}
	d.log.Info("doorbelld stopped")
	if firstErr == nil && d.restart.Load() {
		return ErrRestart
	}
	return firstErr
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// healthy is what the systemd watchdog checks: the event loop turns.
func (d *Daemon) healthy() bool {
	return time.Since(time.Unix(0, d.heartbeat.Load())) < 5*time.Second
}

// loop is the event flow: every hal event becomes a published event.
func (d *Daemon) loop(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	d.heartbeat.Store(time.Now().UnixNano())
	lastDiag := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case he := <-d.events:
			d.handle(ctx, he)
		case now := <-t.C:
			d.heartbeat.Store(now.UnixNano())
			d.publishHealth(false)
			d.updateLED()
			d.confirmOTA()
			if now.Sub(lastDiag) >= time.Minute {
				lastDiag = now
				d.publishDiagnostics()
			}
		}
	}
}

func (d *Daemon) handle(ctx context.Context, he hal.Event) {
	seq, err := d.seq.Next()
	if err != nil {
		d.log.Error("daemon: persist event sequence", "err", err)
	}
	e := event.Event{ID: event.NewID(), Seq: seq, Device: d.cfg.Device.ID, Type: event.Type(he.Type), At: he.At}
	props, _ := event.Of(e.Type)
	if props.Chime {
		if d.chime != nil {
			d.chime.Ring()
		}
		if d.led != nil {
			d.led.Flash()
		}
	}
	if props.Motion {
		d.publishMotion(e.Type == event.MotionStart)
	}
	privacy, _ := d.sw.get()
	camera := d.camera != nil && props.Camera && !privacy
	snap := camera && d.cameraStills()
	if snap {
		e.Snapshot = event.NewID()
	}
	if camera && d.rec != nil {
		d.rec.Trigger(e.At, e.ID)
	}
	payload, err := json.Marshal(e)
	if err != nil {
		d.log.Error("daemon: encode event", "err", err)
		return
	}
	// Durable first, then published: a ring survives a broker outage, a
	// crash and a power cut.
	if ent, err := d.outbox.Add(e, payload); err != nil {
		d.log.Error("daemon: event outbox, publishing without it", "id", e.ID, "err", err)
		d.mq.Publish(d.topics.Event, 1, false, payload)
	} else {
		d.sender.Send(ent)
	}
	d.log.Info("event", "type", e.Type, "id", e.ID, "seq", e.Seq, "at", e.At.Format(event.TimeLayout), "snapshot", e.Snapshot)
	d.mu.Lock()
	d.last = &e
	d.mu.Unlock()
	if snap {
		d.background(func(ctx context.Context) { d.publishSnapshot(ctx, e) })
	}
}

// background runs f on its own goroutine with Run's context, unless Run is
// already shutting down; Run waits for it before it disconnects.
func (d *Daemon) background(f func(ctx context.Context)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping {
		return
	}
	ctx := d.runCtx
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		f(ctx)
	}()
}

// SnapshotInfo describes the JPEG on the snapshot topic.
type SnapshotInfo struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	At        string `json:"at"`       // the event's time
	FrameAt   string `json:"frame_at"` // the frame's capture time
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	Source    string `json:"source_format"`
	Bytes     int    `json:"bytes"`
}

func (d *Daemon) publishSnapshot(ctx context.Context, e event.Event) {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s, err := d.camera.Snapshot(sctx, e.At)
	if err != nil {
		d.log.Warn("daemon: snapshot for event", "event", e.ID, "err", err)
		return
	}
	info, _ := json.Marshal(SnapshotInfo{
		ID: e.Snapshot, EventID: e.ID, EventType: string(e.Type),
		At: e.At.UTC().Format(event.TimeLayout), FrameAt: s.At.UTC().Format(event.TimeLayout),
		Width: s.Format.Width, Height: s.Format.Height, Source: s.Format.PixelFormat, Bytes: len(s.JPEG),
	})
	d.mq.Publish(d.topics.SnapshotInfo, 1, true, info)
	tok := d.mq.Publish(d.topics.Snapshot, 1, true, s.JPEG)
	if w := d.cfg.Snapshot.MaxWidth; w > 0 {
		if small, err := capture.Downscale(s.JPEG, w, 80); err != nil {
			d.log.Warn("daemon: snapshot copy for dashboards", "err", err)
		} else {
			d.mq.Publish(d.topics.SnapshotHA, 1, true, small) // the downscaled copy, when max_width is set
		}
	}
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			d.log.Error("daemon: publish snapshot", "event", e.ID, "err", err)
			return
		}
		d.log.Debug("snapshot published", "event", e.ID, "bytes", len(s.JPEG), "skew", s.At.Sub(e.At))
	case <-ctx.Done():
	}
}

// Health is the retained JSON on the health topic and part of /api/status.
type Health struct {
	Status       string `json:"status"` // ok | degraded
	Version      string `json:"version"`
	Started      string `json:"started"`
	Sim          bool   `json:"sim"`
	Camera       string `json:"camera"` // ok | unavailable | none
	CameraFormat string `json:"camera_format,omitempty"`
	CameraError  string `json:"camera_error,omitempty"`
	PIR          string `json:"pir"`   // ok | unavailable | none
	Chime        string `json:"chime"` // enabled | disabled | none
}

func (d *Daemon) health() Health {
	h := Health{
		Status: "ok", Version: d.opts.Version, Started: d.started.UTC().Format(event.TimeLayout), Sim: d.opts.Sim,
		Camera: "none", PIR: d.pirState.Load().(string), Chime: "none",
	}
	if d.camera != nil {
		st := d.camera.Status()
		h.Camera = "unavailable"
		if st.Available {
			h.Camera = "ok"
			h.CameraFormat = st.Format.String()
		}
		h.CameraError = st.LastError
	}
	if d.chime != nil {
		h.Chime = "disabled"
		if d.chime.Enabled() {
			h.Chime = "enabled"
		}
	}
	if h.Camera == "unavailable" || h.PIR == "unavailable" {
		h.Status = "degraded"
	}
	return h
}

// publishHealth publishes the health JSON when it changed, or always.
func (d *Daemon) publishHealth(always bool) {
	b, _ := json.Marshal(d.health())
	d.mu.Lock()
	same := string(b) == string(d.lastHealth)
	d.lastHealth = b
	d.mu.Unlock()
	if same && !always {
		return
	}
	if !same {
		d.log.Info("health", "json", string(b))
	}
	d.mq.Publish(d.topics.Health, 1, true, b)
}

// publishMotion publishes the PIR's binary state, retained.
func (d *Daemon) publishMotion(on bool) {
	d.motionOn.Store(on)
	p := "OFF"
	if on {
		p = "ON"
	}
	d.mq.Publish(d.topics.Motion, 1, true, []byte(p))
}

// updateLED shows the daemon's state on the status LED.
func (d *Daemon) updateLED() {
	if d.led == nil {
		return
	}
	p := hal.Idle
	if privacy, _ := d.sw.get(); privacy {
		p = hal.Privacy
	}
	if !d.MQTTConnected() {
		p = hal.Offline
	}
	if d.dev != nil && d.dev.State().InProgress {
		p = hal.Updating
	}
	d.led.Set(p)
}

// MQTTConnected reports whether the broker connection is up.
func (d *Daemon) MQTTConnected() bool { return d.mq != nil && d.mq.Connected() }

// Topics returns the device's topics.
func (d *Daemon) Topics() Topics { return d.topics }

// backend serves the web API.
type backend struct{ d *Daemon }

func (b backend) Status() any {
	d := b.d
	st := map[string]any{"device": d.cfg.Device, "health": d.health(), "mqtt_connected": d.MQTTConnected()}
	d.mu.Lock()
	if d.last != nil {
		st["last_event"] = d.last
	}
	d.mu.Unlock()
	if d.camera != nil {
		st["camera"] = d.camera.Status()
	}
	return st
}

func (b backend) LatestJPEG(ctx context.Context) ([]byte, error) {
	if b.d.camera == nil {
		return nil, errors.New("no camera configured (camera.device is empty)")
	}
	s, err := b.d.camera.Snapshot(ctx, time.Now())
	if err != nil {
		return nil, err
	}
	return s.JPEG, nil
}

// cameraStills reports whether the camera streams frames that can be
// snapshots right now (not H.264, which has no decoder here).
func (d *Daemon) cameraStills() bool {
	if d.camera == nil {
		return false
	}
	st := d.camera.Status()
	return st.Available && st.Format.Stills()
}
