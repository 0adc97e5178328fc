package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Options configure the embedded broker. Zero values take the defaults
// named on each field; see the package comment for how the bounds work
// together.
type Options struct {
	Listen string // TCP address, default 127.0.0.1:1883

	// Username and Password are doorbelld's own login, with full access.
	// With neither Username nor Accounts the broker is open, but to
	// loopback clients only (the laptop sim mode); as soon as either is
	// set, every client must log in, on loopback too.
	Username string
	Password string // may be empty (as before); never logged
	// Accounts are the other logins: Home Assistant and the owner's
	// doorbellctl (RoleOwner), dashboards (RoleReader).
	Accounts []Account

	Logger *slog.Logger

	// MaxPacketSize is the largest MQTT packet a client may send: the
	// connection of a client that announces a bigger one is closed before
	// the body is read. Default 1 MiB + 4 KiB (a 1 MiB payload, its topic
	// and header). doorbelld's own publishes must fit too.
	MaxPacketSize int
	// MaxClients bounds the clients connected plus the sessions kept for
	// clients that left (clean session off). Default 32.
	MaxClients int
	// WriteTimeout: a client that takes no byte from its socket for this
	// long, while the broker has bytes for it, is dropped. Default 30s: as
	// long as a keepalive, so a client on a starved CPU (a Pi under load,
	// qemu in CI) is not taken for a staller; WriteBuffer catches bulk.
	WriteTimeout time.Duration
	// WriteBuffer bounds the bytes waiting to be written to one client; a
	// client that falls further behind is dropped. Default 4 MiB, and at
	// least twice MaxPacketSize.
	WriteBuffer int
	// MaxQueued and MaxQueuedBytes bound the QoS 1/2 messages kept for a
	// client that left (clean session off) until it comes back: later
	// ones are dropped. A connected client that leaves twice as many, or
	// twice as many bytes, unacknowledged is dropped as slow. Defaults
	// 1024 messages (at most 32767) and 8 MiB.
	MaxQueued      int
	MaxQueuedBytes int
	// MaxSessionExpiry is the longest a session is kept for a client that
	// left, whatever the client asks. Default 1h.
	MaxSessionExpiry time.Duration
	// MaxMessageExpiry is the longest a message is held, retained
	// messages included (mochi's forced expiry). Default 24h, mochi's.
	MaxMessageExpiry time.Duration
	// ConnectTimeout is how long a new connection may take to send its
	// CONNECT packet. Default 10s.
	ConnectTimeout time.Duration

	// legacy runs the broker as before the hostile-network work: mochi's
	// TCP listener and default capabilities, no queue bounds (tests only:
	// they show what the defences change).
	legacy bool
}

// Defaults of Options.
const (
	DefaultMaxPacketSize    = 1<<20 + 4<<10
	DefaultMaxClients       = 32
	DefaultWriteTimeout     = 30 * time.Second
	DefaultWriteBuffer      = 4 << 20
	DefaultMaxQueued        = 1024
	DefaultMaxQueuedBytes   = 8 << 20
	DefaultMaxSessionExpiry = time.Hour
	DefaultMaxMessageExpiry = 24 * time.Hour
	DefaultConnectTimeout   = 10 * time.Second
)

// Fixed mochi capabilities: pending writes per client (our connection
// takes them at once, so the queue stays short; when full, mochi drops the
// message for that client instead of blocking), inbound QoS 2 flows per
// client, and inbound topic aliases per client (each keeps a topic name).
const (
	maxWritesPending = 1024
	receiveMaximum   = 256
	topicAliasMax    = 16
)

func (o *Options) ensureDefaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:1883"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxPacketSize <= 0 {
		o.MaxPacketSize = DefaultMaxPacketSize
	}
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.WriteBuffer <= 0 {
		o.WriteBuffer = DefaultWriteBuffer
	}
	o.WriteBuffer = max(o.WriteBuffer, 2*o.MaxPacketSize)
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultMaxQueued
	}
	o.MaxQueued = min(o.MaxQueued, 32767)
	if o.MaxQueuedBytes <= 0 {
		o.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if o.MaxSessionExpiry <= 0 {
		o.MaxSessionExpiry = DefaultMaxSessionExpiry
	}
	if o.MaxMessageExpiry <= 0 {
		o.MaxMessageExpiry = DefaultMaxMessageExpiry
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
}

// capabilities are mochi's limits made of o.
func (o *Options) capabilities() *mqtt.Capabilities {
	c := mqtt.NewDefaultServerCapabilities()
	if o.legacy {
		return c
	}
	c.MaximumPacketSize = uint32(o.MaxPacketSize)
	// MaxClients is enforced by access.OnConnect, which counts kept
	// sessions too and logs and counts each refusal. mochi's own cap
	// (connected clients) is left open: it would refuse a login in the
	// moment a leaving client is still counted, silently.
	c.MaximumClientWritesPending = maxWritesPending
	c.MaximumInflight = uint16(min(2*o.MaxQueued, 65535)) // a connected client's; see access.OnQosPublish
	c.ReceiveMaximum = receiveMaximum
	c.TopicAliasMaximum = topicAliasMax
	c.MaximumSessionExpiryInterval = uint32(max(o.MaxSessionExpiry/time.Second, 1))
	c.MaximumMessageExpiryInterval = int64(max(o.MaxMessageExpiry/time.Second, 1))
	return c
}

// Stats count what the broker refused or dropped since Start.
type Stats struct {
	AuthFailures    uint64 // logins refused: unknown user, wrong password, anonymous
	Denied          uint64 // publishes refused: a reader (or a reader's will) tried to write
	SlowClients     uint64 // clients dropped for not reading or not acknowledging
	OversizeRefused uint64 // clients disconnected for a packet over MaxPacketSize
	SessionDropped  uint64 // messages not kept for a client that left, over MaxQueuedBytes
	Busy            uint64 // logins refused: MaxClients reached
}

// counters are the live Stats. Each bump wakes whoever waits in changed
// (tests wait on it instead of polling).
type counters struct {
	auth, denied, slow, oversize, sessionDropped, busy atomic.Uint64

	mu sync.Mutex
	ch chan struct{}
}

func (c *counters) bump(n *atomic.Uint64) {
	n.Add(1)
	c.mu.Lock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
	c.mu.Unlock()
}

// changed returns a channel closed at the next bump.
func (c *counters) changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

func (c *counters) snapshot() Stats {
	return Stats{
		AuthFailures:    c.auth.Load(),
		Denied:          c.denied.Load(),
		SlowClients:     c.slow.Load(),
		OversizeRefused: c.oversize.Load(),
		SessionDropped:  c.sessionDropped.Load(),
		Busy:            c.busy.Load(),
	}
}

// Broker is an embedded MQTT 3.1.1/5 broker.
type Broker struct {
	opts  Options
	srv   *mqtt.Server
	ln    listeners.Listener
	guard *listener // ln, unless legacy
	stats counters
	warn  *logLimiter
}

// New prepares a broker; Start binds it.
func New(opts Options) *Broker {
	opts.ensureDefaults()
	return &Broker{opts: opts, warn: newLogLimiter(opts.Logger, nil)}
}

// Start checks the accounts, binds the listener and starts serving. It
// fails at once when the address is taken, so the daemon can say so
// before anything else starts.
func (b *Broker) Start() error {
	access, err := newAccess(b)
	if err != nil {
		return err
	}
	// mochi logs every connection at info and every disconnect at warn; keep errors.
	srv := mqtt.New(&mqtt.Options{
		Logger:       slog.New(minLevel{b.opts.Logger.Handler(), slog.LevelError}).With("component", "broker"),
		Capabilities: b.opts.capabilities(),
	})
	if err := srv.AddHook(access, nil); err != nil {
		return fmt.Errorf("broker: add access hook: %w", err)
	}
	var ln listeners.Listener
	if b.opts.legacy {
		ln = listeners.NewTCP(listeners.Config{ID: "tcp", Address: b.opts.Listen})
	} else {
		b.guard = newListener(b)
		ln = b.guard
	}
	if err := srv.AddListener(ln); err != nil {
		return fmt.Errorf("broker: listen on %s: %w", b.opts.Listen, err)
	}
	b.srv, b.ln = srv, ln
	if err := srv.Serve(); err != nil {
		return fmt.Errorf("broker: serve: %w", err)
	}
	mode := "open to loopback clients only"
	if !access.open {
		mode = fmt.Sprintf("%d accounts", len(access.users))
	}
	b.opts.Logger.Info("embedded MQTT broker listening", "addr", ln.Address(), "auth", mode)
	if access.open && !Loopback(b.opts.Listen) {
		b.opts.Logger.Warn("embedded MQTT broker: no accounts configured, so clients from other machines are refused; add mqtt.username or mqtt.accounts to let them in",
			"listen", b.opts.Listen)
	}
	return nil
}

// Addr is the address the broker listens on (useful with port 0).
func (b *Broker) Addr() string { return b.ln.Address() }

// Stats returns what the broker refused or dropped since Start.
func (b *Broker) Stats() Stats { return b.stats.snapshot() }

// Run serves until ctx is done, then closes the broker. Start must have
// succeeded. Messages accepted just before (the daemon's "offline") get a
// short grace period to reach subscribers: mochi drops what is still
// queued for a client when it closes. Run returns once every connection
// is closed; bytes still unsent to a client that does not read are given
// up after flushGrace.
func (b *Broker) Run(ctx context.Context) error {
	<-ctx.Done()
	time.Sleep(drainGrace)
	err := b.srv.Close()
	if b.guard != nil {
		b.guard.wait(time.Now().Add(flushGrace))
	}
	return err
}

const (
	drainGrace = 100 * time.Millisecond
	flushGrace = time.Second
)

// minLevel drops records below min.
type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(a []slog.Attr) slog.Handler            { return minLevel{m.h.WithAttrs(a), m.min} }
func (m minLevel) WithGroup(g string) slog.Handler                 { return minLevel{m.h.WithGroup(g), m.min} }
