// Package broker runs the embedded MQTT broker (mochi-mqtt) that doorbelld
// uses when the config names no broker of its own: the laptop sim mode, and
// households with no broker yet. It listens on one TCP address, by default
// on loopback only, so nothing leaves the machine unless the owner says so.
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Options configure the embedded broker.
type Options struct {
	Listen   string // TCP address, default 127.0.0.1:1883
	Username string // when set, clients must log in with Username/Password
	Password string
	Logger   *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:1883"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Broker is an embedded MQTT 3.1.1/5 broker.
type Broker struct {
	opts Options
	srv  *mqtt.Server
	tcp  *listeners.TCP
}

// New prepares a broker; Start binds it.
func New(opts Options) *Broker {
	opts.ensureDefaults()
	return &Broker{opts: opts}
}

// Start binds the listener and starts serving. It fails at once when the
// address is taken, so the daemon can say so before anything else starts.
func (b *Broker) Start() error {
	// mochi logs every connection at info and every disconnect at warn; keep errors.
	srv := mqtt.New(&mqtt.Options{
		Logger: slog.New(minLevel{b.opts.Logger.Handler(), slog.LevelError}).With("component", "broker"),
	})
	var hook mqtt.Hook = new(auth.AllowHook)
	var cfg any
	if b.opts.Username != "" {
		hook = new(auth.Hook)
		cfg = &auth.Options{Ledger: &auth.Ledger{Users: auth.Users{
			b.opts.Username: {Username: auth.RString(b.opts.Username), Password: auth.RString(b.opts.Password)},
		}}}
	}
	if err := srv.AddHook(hook, cfg); err != nil {
		return fmt.Errorf("broker: add auth hook: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: b.opts.Listen})
	if err := srv.AddListener(tcp); err != nil {
		return fmt.Errorf("broker: listen on %s: %w", b.opts.Listen, err)
	}
	if err := srv.Serve(); err != nil {
		return fmt.Errorf("broker: serve: %w", err)
	}
	b.srv, b.tcp = srv, tcp
	b.opts.Logger.Info("embedded MQTT broker listening", "addr", tcp.Address(), "auth", b.opts.Username != "")
	return nil
}

// Addr is the address the broker listens on (useful with port 0).
func (b *Broker) Addr() string { return b.tcp.Address() }

// Run serves until ctx is done, then closes the broker. Start must have
// succeeded. Messages accepted just before (the daemon's "offline") get a
// short grace period to reach subscribers: mochi drops what is still
// queued for a client when it closes.
func (b *Broker) Run(ctx context.Context) error {
	<-ctx.Done()
	time.Sleep(drainGrace)
	return b.srv.Close()
}

const drainGrace = 100 * time.Millisecond

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
