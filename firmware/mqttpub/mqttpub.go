// Package mqttpub is doorbelld's MQTT client: one paho connection to the
// home's broker, with the availability topic kept true ("online" retained
// after every connect, "offline" as Last Will and on clean shutdown).
//
// Publish never blocks the caller: it hands the message to paho and
// returns its token. paho is configured against its known loss modes: a
// persistent session (with a clean one, paho drops the messages published
// while it connects), a write timeout, unordered delivery so a slow ack
// never stalls the client, retrying the first connect and reconnecting
// with a bounded interval. paho's store is in memory and ordered (messages
// in flight at a disconnect are resent in the order they were published):
// what a crash loses is for the event outbox to keep.
package mqttpub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/mqttapi"
)

// Availability payloads on the status topic (mqttapi's).
const (
	Online  = mqttapi.Online
	Offline = mqttapi.Offline
)

// Publisher is the MQTT client as the parts that publish see it: the
// outbox's Sender, the clip publisher, and their fakes in tests. *Client is
// one.
type Publisher interface {
	Publish(topic string, qos byte, retained bool, payload []byte) paho.Token
	Connected() bool
}

var _ Publisher = (*Client)(nil)

// Options configure the client.
type Options struct {
	Broker   string // tcp://host:port or ssl://host:port
	ClientID string
	Username string
	Password string // never logged
	// TLS configures ssl:// brokers; nil uses the system's CA certificates.
	TLS         *tls.Config
	StatusTopic string // availability topic: Last Will "offline", "online" on connect
	// OnConnect runs after every (re)connect, 300ms after connecting, once
	// "online" is queued; use it to publish retained state and subscribe.
	// It must not block for long.
	OnConnect func()
	Logger    *slog.Logger
	// MaxReconnectInterval bounds the reconnect backoff. Default 10s.
	MaxReconnectInterval time.Duration
}

func (o *Options) ensureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxReconnectInterval <= 0 {
		o.MaxReconnectInterval = 10 * time.Second
	}
}

// settle is how long after connecting "online" and OnConnect wait.
const settle = 300 * time.Millisecond

// Client is a connection to the broker.
type Client struct {
	opts      Options
	c         paho.Client
	connected atomic.Bool
}

// New configures a client. It connects nothing until Connect.
func New(opts Options) *Client {
	opts.ensureDefaults()
	cl := &Client{opts: opts}
	o := paho.NewClientOptions().
		AddBroker(opts.Broker).
		SetClientID(opts.ClientID).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		// A persistent session: paho resends what was published while
		// (re)connecting. With a clean session it drops those on connect.
		SetCleanSession(false).
		// The ordered store resends what was in flight at a disconnect
		// in the order it was published (the default store's map order
		// would reorder events after a reconnect).
		SetStore(paho.NewOrderedMemoryStore()).
		SetOrderMatters(false).
		SetWriteTimeout(10*time.Second).
		SetConnectTimeout(10*time.Second).
		SetKeepAlive(30*time.Second).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2*time.Second).
		SetMaxReconnectInterval(opts.MaxReconnectInterval).
		SetWill(opts.StatusTopic, Offline, 1, true).
		SetOnConnectHandler(func(paho.Client) {
			opts.Logger.Info("mqtt: connected", "broker", opts.Broker, "client_id", opts.ClientID)
			// Right after connecting paho resends what its store holds; a
			// message published in that instant goes out twice. Let it
			// pass: Connected stays false until then, so the outbox and
			// the clip publisher hold back too.
			time.AfterFunc(settle, func() {
				if !cl.c.IsConnectionOpen() {
					return
				}
				cl.connected.Store(true)
				cl.c.Publish(opts.StatusTopic, 1, true, Online)
				if opts.OnConnect != nil {
					opts.OnConnect()
				}
			})
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			cl.connected.Store(false)
			opts.Logger.Warn("mqtt: connection lost, reconnecting", "broker", opts.Broker, "err", err)
		})
	if opts.TLS != nil {
		o.SetTLSConfig(opts.TLS)
	}
	cl.c = paho.NewClient(o)
	return cl
}

// Connect starts connecting in the background; paho retries until it
// succeeds. Messages published meanwhile wait in paho's store.
func (c *Client) Connect() {
	c.opts.Logger.Info("mqtt: connecting", "broker", c.opts.Broker, "client_id", c.opts.ClientID, "user", c.opts.Username)
	c.c.Connect()
}

// Connected reports whether the broker connection is up.
func (c *Client) Connected() bool { return c.connected.Load() }

// Publish queues a message and returns at once. The token completes when
// the broker has it (PUBACK for QoS 1) or publishing failed.
func (c *Client) Publish(topic string, qos byte, retained bool, payload []byte) paho.Token {
	return c.c.Publish(topic, qos, retained, payload)
}

// Subscribe subscribes with handler; the subscription is renewed on
// reconnect by the caller's OnConnect if needed.
func (c *Client) Subscribe(filter string, qos byte, h paho.MessageHandler) paho.Token {
	return c.c.Subscribe(filter, qos, h)
}

// Run waits for ctx, then publishes "offline" (retained) and disconnects
// cleanly, all within about a second.
func (c *Client) Run(ctx context.Context) error {
	<-ctx.Done()
	if c.c.IsConnectionOpen() { // IsConnected is true while still trying to connect
		if err := Wait(c.c.Publish(c.opts.StatusTopic, 1, true, Offline), time.Second, "publish offline on shutdown"); err != nil {
			c.opts.Logger.Warn("mqtt: shutdown", "err", err)
		}
	}
	c.c.Disconnect(250)
	c.connected.Store(false)
	return nil
}

// ErrNoAck is what Wait returns, wrapped, when the broker does not
// acknowledge in time.
var ErrNoAck = errors.New("no acknowledgement from the broker")

// Wait waits for t (a publish, subscribe or connect) up to timeout and
// returns its error, naming what; ErrNoAck, wrapped, when the time runs
// out. It is the one way doorbelld's packages wait for a paho token.
func Wait(t paho.Token, timeout time.Duration, what string) error {
	if !t.WaitTimeout(timeout) {
		return fmt.Errorf("mqtt: %s: %w within %v", what, ErrNoAck, timeout)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("mqtt: %s: %w", what, err)
	}
	return nil
}
