package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/live"
	"github.com/doorbelld/doorbelld/capture/mask"
	"github.com/doorbelld/doorbelld/capture/mic"
	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/broker"
	"github.com/doorbelld/doorbelld/firmware/bus"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/command"
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/hass"
	"github.com/doorbelld/doorbelld/firmware/metrics"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
	"github.com/doorbelld/doorbelld/firmware/outbox"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
	"github.com/doorbelld/doorbelld/firmware/rtsp"
	"github.com/doorbelld/doorbelld/firmware/sdnotify"
	"github.com/doorbelld/doorbelld/firmware/supervise"
	"github.com/doorbelld/doorbelld/firmware/timeline"
	"github.com/doorbelld/doorbelld/firmware/web"
	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/audio"
	"github.com/doorbelld/doorbelld/ota/delivery"
	"github.com/doorbelld/doorbelld/ota/install"
)

// Options configure a Daemon.
type Options struct {
	Config  config.Config // validated
	Version string
	Logger  *slog.Logger
	// Clock drives the event loop's ticks, health, Home Assistant's birth
	// delay and the camera; default the real clock.
	Clock clockwork.Clock
	// Pins, when set, are the lines to use instead of opening the
	// config's (sim mode and tests: package firmware/sim).
	Pins *hal.Pins
	// Speaker, when set, opens the speaker instead of audio.speaker's
	// ALSA device (tests: hal/audio/audiotest).
	Speaker func() (audio.Speaker, error)
	// Microphone, when set, opens the microphone instead of
	// audio.microphone's ALSA device (tests).
	Microphone func() (audio.Microphone, error)
	// Camera, when set, is the camera instead of camera.device's
	// (camera.device "sim": package firmware/sim).
	Camera capture.Source
	// Sim marks sim mode (shown in health; every entity is announced);
	// SimHandler, when set, is mounted at /api/sim/.
	Sim        bool
	SimHandler http.Handler
	// OutboxSync, when set, replaces the outbox journal's fdatasync
	// (benchmarks: a slow SD card).
	OutboxSync func(*os.File) error
	// Ready, if set, is called once every part is up.
	Ready func(*Daemon)
	// ConfigDamaged, when set, is why the config file was not used: it is
	// damaged on disk and Config is the last good copy. Health shows it
	// (degraded) until a start with the file fixed.
	ConfigDamaged error
}

// Daemon is the running doorbell.
type Daemon struct {
	opts   Options
	cfg    config.Config
	log    *slog.Logger
	clock  clockwork.Clock
	topics Topics
	seq    *event.Seq
	sw     *switches
	cmdLog *command.Limiter
	// The command path (commands.go).
	gate         *command.Gate
	cmds         chan command.Command
	restarts     *restartLog
	snapCmd      atomic.Bool // a snapshot command is on its way
	cmdAccepted  atomic.Uint64
	cmdFolded    atomic.Uint64
	cmdQueueFull atomic.Uint64
	cmdDone      atomic.Uint64 // accepted commands carried out (tests wait on it)
	// rejected counts the MQTT messages refused (malformed, retained,
	// or for a part that is not there); tests wait on it.
	rejected atomic.Uint64
	hassO    hass.Options
	tls      *tls.Config  // nil for a tcp:// broker
	ownerKey ownerkey.Key // mqtt.owner_key_file; nil without one

	// Parts. The optional ones are nil when the config has none.
	broker  *broker.Broker // with no external broker
	web     *web.Server    // with http.listen
	mq      *mqttpub.Client
	outbox  *outbox.Outbox
	sender  *outbox.Sender
	button  *hal.Input
	pir     *hal.Input
	chime   *hal.Chime
	led     *hal.LED
	door    *doorPart          // with gpio.door.line (door.go)
	speaker *speaker           // with audio.speaker (audio.go)
	mic     *mic.Mic           // with audio.microphone (audio.go)
	sound   *capture.AudioRing // the microphone's recent sound, for clips
	camera  *capture.Camera
	src     capture.Source      // the camera's source (a *v4l2src.Source on a board)
	masker  *mask.Masker        // privacy.masks, with a camera
	clips   *storage.Store      // with a camera and clip.enabled, when the store opened
	rec     *clip.Recorder      // with clips
	xfer    *clipxfer.Publisher // with clips
	inst    *install.Installer  // with OTA
	dev     *delivery.Device    // with OTA
	otaOff  string              // why OTA is off

	live     *live.Hub          // live view, with a camera
	rtsp     *rtsp.Server       // with a camera and rtsp.listen
	users    *account.Store     // users: the web app's, RTSP's and /metrics' logins
	timeline *timeline.Timeline // recent events for the web app
	metrics  *metrics.Metrics   // /metrics

	// Privacy (privacy.go).
	audit     *audit.Log         // the audit trail, always (in memory when its file cannot be opened)
	auditCh   <-chan audit.Entry // its entries, for the MQTT audit topic
	auditStop func()
	auditKick chan struct{} // a connect: publish what waited
	sealer    *seal.Sealer  // privacy.recipients; nil without
	opener    *seal.Opener  // privacy.identity_file; nil without
	seenMu    sync.Mutex
	seen      map[string]time.Time // snapshot fetches recorded lately (record)

	events chan hal.Event // hal inputs → event loop
	bus    *bus.Bus       // event loop → sinks
	sup    *supervise.Supervisor
	snaps  *snapshots // the snapshot publisher, with a camera
	motion *motionSink
	last   *lastSink

	started      time.Time
	heartbeat    atomic.Int64 // unix nanos of the event loop's last turn
	otaConfirmed bool         // event loop only

	mu         sync.Mutex
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
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	cfg := opts.Config
	d := &Daemon{
		opts: opts, cfg: cfg, log: opts.Logger, clock: opts.Clock,
		topics:  TopicsFor(cfg),
		events:  make(chan hal.Event, 64),
		started: opts.Clock.Now(),
	}
	if err := os.MkdirAll(cfg.Storage.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("daemon: create storage.dir: %w", err)
	}
	// storage.dir may itself be a symlink (to a USB disk, say): it is
	// resolved once, here, and everything below uses the real path.
	if real, err := filepath.EvalSymlinks(cfg.Storage.Dir); err != nil {
		return nil, fmt.Errorf("daemon: resolve storage.dir %s: %w", cfg.Storage.Dir, err)
	} else if real != cfg.Storage.Dir {
		d.log.Info("daemon: storage.dir is a symlink; using its target", "storage.dir", cfg.Storage.Dir, "target", real)
		cfg.Storage.Dir = real
		d.cfg.Storage.Dir = real
	}
	seq, err := event.OpenSeq(cfg.Storage.Dir)
	if seq == nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if err != nil {
		d.log.Warn("daemon: event sequence restarted", "err", err)
	}
	d.seq = seq
	if d.outbox, err = outbox.Open(filepath.Join(cfg.Storage.Dir, "outbox"), outbox.Options{
		Logger: d.log, Sync: opts.OutboxSync,
		// The line the power-cut campaign (scripts/board.sh) reads: from
		// here on the event survives a power cut.
		OnDurable: func(id string) { d.log.Info("outbox: journaled", "id", id) },
	}); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if err := d.buildPrivacy(); err != nil {
		return nil, err
	}
	if d.sw, err = loadSwitches(cfg.Storage.Dir, cfg.GPIO.Chime.Enabled, d.log); err != nil {
		d.log.Warn("daemon: switch states lost, using the config's", "err", err)
	}
	if d.restarts, err = loadRestarts(cfg.Storage.Dir); err != nil {
		d.log.Warn("daemon: restart history lost, counting from now", "err", err)
	}
	d.gate = command.NewGate(opts.Clock)
	d.cmds = make(chan command.Command, commandQueue)
	d.cmdLog = command.NewLimiter(command.LimiterOptions{Logger: d.log})
	d.hassO = hassOptions(cfg, opts.Version, opts.Sim)
	if d.tls, err = tlsConfig(cfg.MQTT); err != nil {
		return nil, err
	}
	if path := cfg.MQTT.OwnerKeyFile; path != "" {
		if d.ownerKey, err = ownerkey.Load(path); err != nil {
			return nil, fmt.Errorf("daemon: mqtt.owner_key_file: %w", err)
		}
		if ownerkey.Loose(path) {
			d.log.Warn("daemon: the owner key file is readable by other users; chmod 600 it", "path", path)
		}
	}
	if cfg.MQTT.TLSInsecureSkipVerify {
		d.log.Warn("mqtt: mqtt.tls_insecure_skip_verify is true: the broker's certificate is NOT checked; anyone on the path can read and fake every message")
	}
	if cfg.MQTT.Broker == "" {
		var accounts []broker.Account
		for i, a := range cfg.MQTT.Accounts {
			role, err := broker.ParseRole(a.Role)
			if err != nil { // config.Validate allows only known roles
				return nil, fmt.Errorf("daemon: mqtt.accounts[%d]: %w", i, err)
			}
			accounts = append(accounts, broker.Account{Username: a.Username, Password: a.Password, Role: role})
		}
		d.broker = broker.New(broker.Options{
			Listen: cfg.MQTT.Listen, Username: cfg.MQTT.Username, Password: cfg.MQTT.Password,
			Accounts: accounts, Logger: d.log,
		})
	}
	if d.users, err = users(cfg.Users, opts.Clock); err != nil {
		return nil, err
	}
	if err := d.buildGPIO(); err != nil {
		return nil, err
	}
	if err := d.buildCamera(); err != nil {
		return nil, err
	}
	if err := d.buildAudio(); err != nil {
		return nil, err
	}
	if err := d.buildLive(); err != nil {
		return nil, err
	}
	d.timeline = timeline.New(timeline.Options{})
	d.buildMetrics()
	if err := d.buildWeb(); err != nil {
		return nil, err
	}
	if err := d.buildOTA(); err != nil {
		return nil, err
	}
	if d.chime != nil {
		_, on := d.sw.get()
		d.chime.SetEnabled(on)
	}
	return d, nil
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
	if d.rtsp != nil {
		if err := d.rtsp.Start(); err != nil {
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
	d.sender = outbox.NewSender(d.outbox, outbox.SenderOptions{Topic: d.topics.Event, Publisher: d.mq, Logger: d.log, Acked: d.ackedEvent})
	d.buildXfer()
	d.wire()
	d.mq.Connect()

	done := make(chan error, 1)
	go func() { done <- d.sup.Run(ctx) }()

	d.log.Info("doorbelld running", "version", d.opts.Version, "device", d.cfg.Device.ID, "sim", d.opts.Sim,
		"broker", d.brokerURL(), "camera", d.cfg.Camera.Device, "topics", d.cfg.MQTT.TopicPrefix+"/"+d.cfg.Device.ID+"/#",
		"sinks", d.bus.Sinks())
	sdnotify.Ready(d.log)
	if d.opts.Ready != nil {
		d.opts.Ready(d)
	}

	err := <-done            // every part has returned; the bus has drained into the sinks
	_ = d.mq.Run(canceled()) // offline + disconnect, while the broker still runs
	if d.broker != nil {
		_ = d.broker.Run(canceled())
	}
	if cerr := d.outbox.Close(); cerr != nil {
		d.log.Error("daemon: close outbox", "err", cerr)
	}
	d.auditStop()
	if cerr := d.audit.Close(); cerr != nil {
		d.log.Error("daemon: close audit log", "err", cerr)
	}
	d.log.Info("doorbelld stopped")
	return err
}

// wire registers the sinks on the bus and the parts with the supervisor:
// the one place that says what reacts to a press and what runs. A new
// reaction is one sink and one line here.
func (d *Daemon) wire() {
	d.bus = bus.New(bus.Options{Logger: d.log})
	if d.chime != nil {
		d.bus.Add(chimeSink{chime: d.chime})
	}
	if d.led != nil {
		d.bus.Add(ledSink{d: d})
	}
	d.bus.Add(outboxSink{d: d})
	if d.pir != nil {
		d.motion = &motionSink{d: d}
		d.bus.Add(d.motion)
	}
	if d.rec != nil {
		d.bus.Add(recorderSink{rec: d.rec})
	}
	if d.camera != nil {
		d.snaps = newSnapshots(d)
		d.bus.Add(d.snaps)
		d.bus.Add(liveSink{h: d.live, cam: d.camera})
	}
	d.last = &lastSink{}
	d.bus.Add(d.last)
	d.bus.Add(timelineSink{d: d})
	if d.speaker != nil && d.cfg.Audio.AutoReply != "" {
		d.bus.Add(autoReplySink{d: d})
	}
	if d.speaker != nil && d.speaker.ringTone != nil {
		d.bus.Add(ringToneSink{sp: d.speaker})
	}
	if d.mic != nil {
		d.bus.Add(micSink{m: d.mic})
	}

	d.sup = supervise.New(supervise.Options{Logger: d.log, Clock: d.clock})
	add := func(name string, critical bool, run func(context.Context) error) {
		d.sup.Add(supervise.Part{Name: name, Critical: critical, Run: run})
	}
	add("stopping", false, func(ctx context.Context) error {
		<-ctx.Done() // the first part to see the stop tells systemd and the log
		sdnotify.Stopping(d.log)
		d.log.Info("doorbelld stopping")
		return nil
	})
	add("events", true, d.loop)
	add("bus", true, d.bus.Run)
	add("outbox", false, d.sender.Run)
	add("commands", false, d.runCommands)
	add("audit", false, d.runAudit)
	add("switches", false, d.sw.Run)
	add("button", true, func(ctx context.Context) error { return d.button.Run(ctx, d.events) })
	if d.pir != nil {
		add("pir", false, func(ctx context.Context) error { return d.pir.Run(ctx, d.events) })
	}
	if d.chime != nil {
		add("chime", false, d.chime.Run)
	}
	if d.led != nil {
		d.updateLED()
		add("led", false, d.led.Run)
	}
	if d.door != nil {
		add("door", false, d.door.relay.Run)
	}
	if d.speaker != nil {
		add("audio", false, d.speaker.player.Run)
	}
	if d.mic != nil {
		add("microphone", false, d.mic.Run)
	}
	if d.camera != nil {
		add("camera", false, d.camera.Run)
		add("snapshots", false, d.snaps.Run)
		add("live", false, d.live.Run)
	}
	if d.rec != nil {
		add("clips", false, d.clips.Run)
		add("recorder", false, d.rec.Run)
		add("clip-ready", false, d.clipReady)
		add("clip-transfer", false, d.xfer.Run)
	}
	if d.web != nil {
		add("web", true, d.web.Run)
	}
	if d.rtsp != nil {
		add("rtsp", false, d.rtsp.Run)
	}
	if d.dev != nil {
		add("ota", false, d.runOTA)
	} else {
		d.log.Info("over-the-air updates are off", "reason", d.otaOff)
	}
	add("watchdog", false, func(ctx context.Context) error { return sdnotify.Watchdog(ctx, d.log, d.healthy) })
}

// reject logs (rate-limited) and counts an MQTT message that was refused.
func (d *Daemon) reject(topic string, err error) {
	d.rejected.Add(1)
	d.cmdLog.Log(topic, err)
}

// restart stops every part; Run then returns ErrRestart.
func (d *Daemon) restart() { d.sup.Stop(ErrRestart) }

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// MQTTConnected reports whether the broker connection is up.
func (d *Daemon) MQTTConnected() bool { return d.mq != nil && d.mq.Connected() }

// Topics returns the device's topics.
func (d *Daemon) Topics() Topics { return d.topics }

// Parts returns the supervised parts' states (nil before Run).
func (d *Daemon) Parts() []supervise.State {
	if d.sup == nil {
		return nil
	}
	return d.sup.States()
}
