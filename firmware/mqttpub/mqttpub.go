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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/doorbelld/doorbelld/firmware/ratelog"

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
	// OnConnect runs after every (re)connect, 300ms after connecting, just
	// before "online" is queued; use it to subscribe and publish retained
	// state: whoever sees "online" finds the subscriptions in place. It
	// must not block for long.
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
	lastErr   atomic.Pointer[string]
	failures  atomic.Uint64
	mu        sync.Mutex
	logged    time.Time // last failure logged
	unlogged  int       // failures not logged since then
	dropped   atomic.Uint64
	dropLog   *ratelog.Keys // paces the log of dropped messages
}

// New configures a client. It connects nothing until Connect.
func New(opts Options) *Client {
	opts.ensureDefaults()
	cl := &Client{opts: opts, dropLog: ratelog.New(failLogEvery, 1)}
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
		SetStore(ownStore{paho.NewOrderedMemoryStore()}).
		SetOrderMatters(false).
		// With a persistent session the broker sends, right at connect,
		// what it kept for this client id: messages that arrived while the
		// daemon was down, and any it had sent to the previous process
		// without getting its acknowledgement (a power cut, a crash). They
		// come before OnConnect subscribes, when no handler is routed, and
		// paho leaves a message without a handler unacknowledged: it then
		// stays in flight at the broker, and once max_inflight_messages
		// (Mosquitto: 20) are stuck, the broker sends this client nothing
		// more, ever. The default handler acknowledges them and drops them
		// (a command from before this start is stale).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { cl.unrouted(m) }).
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
				// OnConnect subscribes (commands) before "online" goes out:
				// the broker takes one client's packets in order, so whoever
				// sees "online" and sends a command reaches a subscriber.
				if opts.OnConnect != nil {
					opts.OnConnect()
				}
				cl.c.Publish(opts.StatusTopic, 1, true, Online)
			})
		}).
		SetConnectionNotificationHandler(func(_ paho.Client, n paho.ConnectionNotification) {
			switch n := n.(type) {
			case paho.ConnectionNotificationFailed: // every failed attempt, whatever the reason
				cl.failed(n.Reason)
			case paho.ConnectionNotificationConnected:
				cl.lastErr.Store(nil)
			}
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

// failed records why a connection attempt failed (a wrong password, a
// TLS certificate the broker does not accept, a broker that is down) and
// logs it, at most once per failLogEvery with the count in between: paho
// retries every few seconds, for ever.
func (c *Client) failed(err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	c.lastErr.Store(&msg)
	c.failures.Add(1)
	now := time.Now()
	c.mu.Lock()
	if !c.logged.IsZero() && now.Sub(c.logged) < failLogEvery {
		c.unlogged++
		c.mu.Unlock()
		return
	}
	n := c.unlogged
	c.logged, c.unlogged = now, 0
	c.mu.Unlock()
	c.opts.Logger.Error("mqtt: cannot connect to the broker; retrying", "broker", c.opts.Broker, "user", c.opts.Username,
		"err", err, "why", failureHint(err), "failures_since_last_line", n)
}

// unrouted drops a message no subscription of this process asked for
// yet (paho acknowledges it after this returns), logging at most once
// per failLogEvery.
func (c *Client) unrouted(m paho.Message) {
	n := c.dropped.Add(1)
	if !c.dropLog.Allow(time.Now(), "unrouted").OK {
		return
	}
	c.opts.Logger.Info("mqtt: message the broker kept from before this start: acknowledged and dropped",
		"topic", m.Topic(), "duplicate", m.Duplicate(), "dropped_total", n)
}

// Dropped returns how many messages came before their subscription (see
// unrouted).
func (c *Client) Dropped() uint64 { return c.dropped.Load() }

// failLogEvery paces the connection-failure log.
const failLogEvery = time.Minute

// failureHint says what an owner should look at for a connect error.
func failureHint(err error) string {
	s := strings.ToLower(err.Error())
	switch {
	case strings.Contains(s, "not authorized"), strings.Contains(s, "bad user name or password"):
		return "the broker refused the login: check mqtt.username and mqtt.password (and the broker's ACL)"
	case strings.Contains(s, "certificate"), strings.Contains(s, "x509"), strings.Contains(s, "tls"):
		return "TLS failed: check mqtt.ca_file, mqtt.cert_file and mqtt.key_file against the broker's certificate"
	case strings.Contains(s, "connection refused"), strings.Contains(s, "no route"), strings.Contains(s, "i/o timeout"):
		return "the broker is not reachable at mqtt.broker"
	}
	return "see err"
}

// LastError is why the last connection attempt failed; "" once connected.
func (c *Client) LastError() string {
	if p := c.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// Failures counts failed connection attempts.
func (c *Client) Failures() uint64 { return c.failures.Load() }

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

// ownStore is paho's ordered memory store holding its own copy of each
// PUBLISH packet. paho (1.5.1) stores the very packet Publish then queues
// for sending; when the connection comes up, resume() takes what the
// store holds and sets Dup on it, while the writer may be sending the
// same packet for Publish: a data race the race detector reports (a
// message published in the instant of a (re)connect). With a copy made
// at Put, before any writer has the packet, resume only touches the
// store's copy; such a message may go out twice, which QoS 1 allows (the
// outbox deduplicates events by id).
type ownStore struct{ *paho.OrderedMemoryStore }

func (s ownStore) Put(key string, m packets.ControlPacket) {
	if p, ok := m.(*packets.PublishPacket); ok {
		c := *p
		m = &c
	}
	s.OrderedMemoryStore.Put(key, m)
}
