package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/doorbelld/doorbelld/firmware/wire"
)

// Role is what an account may do.
type Role int

// The roles. The zero Role is none: an Account must name one.
const (
	RoleReader Role = iota + 1 // subscribes to every topic, publishes nothing: dashboards
	RoleOwner                  // reads and writes every topic: Home Assistant, the owner's doorbellctl
)

// String returns "reader" or "owner", the config file's names.
func (r Role) String() string {
	switch r {
	case RoleReader:
		return "reader"
	case RoleOwner:
		return "owner"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole reads a config file's role name: "owner" or "reader".
func ParseRole(s string) (Role, error) {
	switch s {
	case "owner":
		return RoleOwner, nil
	case "reader":
		return RoleReader, nil
	}
	return 0, fmt.Errorf("broker: role %s: want owner or reader", wire.Quote(s))
}

// Account is one login of the embedded broker.
type Account struct {
	Username string
	Password string // non-empty; never logged
	Role     Role
}

// String is "username (role)": never the password.
func (a Account) String() string { return a.Username + " (" + a.Role.String() + ")" }

// GoString hides the password from %#v too.
func (a Account) GoString() string {
	return fmt.Sprintf("broker.Account{Username:%q, Password:\"(hidden)\", Role:%v}", a.Username, a.Role)
}

// Loopback reports whether a listen address (host:port, or a bare host)
// binds loopback only: 127.0.0.0/8, ::1 or localhost. An empty host
// (":1883"), an unspecified one ("0.0.0.0", "::") and every other name or
// address are not loopback. It does no name lookup.
func Loopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// fromLoopback reports whether a client's remote address (ip:port) is a
// loopback address.
func fromLoopback(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// remoteHost is the IP of a remote address, the key of rate-limited logs.
func remoteHost(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

type account struct {
	hash [sha256.Size]byte // of the password: compared in constant time, whatever its length
	role Role
}

// access is the broker's mochi hook: logins and roles, the session cap,
// and the bounds of the messages held for each client.
type access struct {
	mqtt.HookBase
	b     *Broker
	open  bool // no Username, no Accounts: loopback clients get full access
	users map[string]account

	mu   sync.Mutex
	held map[*mqtt.Client]*held
}

// held is what one client has not acknowledged yet: QoS 1/2 publishes by
// packet id, kept up to date by mochi's hooks. For a connected client it
// is an estimate (mochi deletes some without a hook), made exact from the
// client's inflight store before the client is dropped on it; for a
// client that left it is exact from OnDisconnect on.
type held struct {
	ids   map[uint16]int
	bytes int
}

var errDuplicateUser = errors.New("broker: duplicate username")

var _ mqtt.Hook = (*access)(nil)

func newAccess(b *Broker) (*access, error) {
	a := &access{b: b, users: map[string]account{}, held: map[*mqtt.Client]*held{}}
	o := &b.opts
	if o.Username != "" {
		a.users[o.Username] = account{sha256.Sum256([]byte(o.Password)), RoleOwner}
	}
	for i, acc := range o.Accounts {
		switch {
		case acc.Username == "":
			return nil, fmt.Errorf("broker: account %d: empty username", i+1)
		case acc.Password == "":
			return nil, fmt.Errorf("broker: account %s: empty password", wire.Quote(acc.Username))
		case acc.Role != RoleOwner && acc.Role != RoleReader:
			return nil, fmt.Errorf("broker: account %s: role %v: want owner or reader", wire.Quote(acc.Username), acc.Role)
		}
		if _, dup := a.users[acc.Username]; dup {
			return nil, fmt.Errorf("%w: %s", errDuplicateUser, wire.Quote(acc.Username))
		}
		a.users[acc.Username] = account{sha256.Sum256([]byte(acc.Password)), acc.Role}
	}
	a.open = len(a.users) == 0
	return a, nil
}

// ID names the hook.
func (a *access) ID() string { return "doorbelld-access" }

// Provides says which hooks access implements.
func (a *access) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnDisconnect,
		mqtt.OnPacketEncode, mqtt.OnClientExpired:
		return true
	case mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped:
		return !a.b.opts.legacy
	}
	return false
}

// OnConnect refuses a new session when MaxClients clients are connected
// or have sessions kept (a returning client takes its session back).
func (a *access) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	if a.b.opts.legacy {
		return nil
	}
	srv := a.b.srv
	if _, ok := srv.Clients.Get(cl.ID); ok || srv.Clients.Len() < a.b.opts.MaxClients {
		return nil
	}
	a.b.stats.bump(&a.b.stats.busy)
	a.b.warn.log(remoteHost(cl.Net.Remote), "busy", "mqtt login refused: too many clients and sessions",
		"remote", cl.Net.Remote, "max_clients", a.b.opts.MaxClients)
	code := packets.ErrServerBusy
	if cl.Properties.ProtocolVersion < 5 {
		code = packets.ErrServerUnavailable
	}
	_ = srv.SendConnack(cl, code, false, nil)
	return code
}

// OnConnectAuthenticate checks the login. Open broker: loopback clients
// only, whatever they send. Otherwise: a known username with its
// password; anonymous clients are refused, on loopback too. A reader's
// will is dropped, since it would be a publish.
func (a *access) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	remote := cl.Net.Remote
	if a.open {
		if fromLoopback(remote) {
			return true
		}
		a.refuse(remote, "", "no accounts: only loopback clients may connect")
		return false
	}
	user := string(pk.Connect.Username)
	if user == "" {
		a.refuse(remote, user, "anonymous")
		return false
	}
	pw := sha256.Sum256(pk.Connect.Password)
	acc, ok := a.users[user]
	if subtle.ConstantTimeCompare(acc.hash[:], pw[:]) != 1 || !ok {
		reason := "wrong password"
		if !ok {
			reason = "unknown user"
		}
		a.refuse(remote, user, reason)
		return false
	}
	if acc.role != RoleOwner && atomic.LoadUint32(&cl.Properties.Will.Flag) != 0 {
		cl.Properties.Will = mqtt.Will{}
		a.b.stats.bump(&a.b.stats.denied)
		a.b.warn.log(remoteHost(remote), "will", "mqtt will dropped: read-only account",
			"remote", remote, "username", wire.Quote(user))
	}
	return true
}

func (a *access) refuse(remote, user, reason string) {
	a.b.stats.bump(&a.b.stats.auth)
	attrs := []any{"remote", remote, "reason", reason}
	if user != "" {
		attrs = append(attrs, "username", wire.Quote(user))
	}
	a.b.warn.log(remoteHost(remote), "auth", "mqtt login refused", attrs...)
}

// OnACLCheck lets every client read every topic, and owners (and
// everyone, on an open broker) write.
func (a *access) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if !write || a.open {
		return true
	}
	if acc, ok := a.users[string(cl.Properties.Username)]; ok && acc.role == RoleOwner {
		return true
	}
	a.b.stats.bump(&a.b.stats.denied)
	a.b.warn.log(remoteHost(cl.Net.Remote), "denied", "mqtt publish refused: read-only account",
		"remote", cl.Net.Remote, "username", wire.QuoteBytes(cl.Properties.Username), "topic", wire.Quote(topic))
	return false
}

// OnPacketEncode tells MQTT 5 clients the largest packet they may send.
func (a *access) OnPacketEncode(_ *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Connack && pk.ReasonCode == packets.CodeSuccess.Code && !a.b.opts.legacy {
		pk.Properties.MaximumPacketSize = uint32(a.b.opts.MaxPacketSize)
	}
	return pk
}

// heldSize estimates what a held publish costs.
func heldSize(pk packets.Packet) int { return len(pk.Payload) + len(pk.TopicName) + 64 }

// OnQosPublish accounts a QoS 1/2 publish stored for cl. Over the bounds
// (MaxQueued messages, MaxQueuedBytes), a client that left loses the
// message; a connected one may hold twice as much before it is dropped as
// slow (it keeps its session, trimmed at OnDisconnect), so that a client
// that comes back to a full session has room while it acknowledges the
// resent messages (resends, Dup, are only accounted).
func (a *access) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	if pk.FixedHeader.Type != packets.Publish {
		return
	}
	o := &a.b.opts
	offline := cl.Closed()
	if offline && !keepsSession(cl) {
		return // mochi clears it at disconnect
	}
	maxN, maxBytes := 2*o.MaxQueued, 2*o.MaxQueuedBytes
	if offline {
		maxN, maxBytes = o.MaxQueued, o.MaxQueuedBytes
	}
	a.mu.Lock()
	h := a.held[cl]
	if h == nil {
		h = &held{ids: map[uint16]int{}}
		a.held[cl] = h
		if len(a.held) > 2*o.MaxClients+16 {
			a.pruneLocked()
		}
	}
	h.bytes += heldSize(pk) - h.ids[pk.PacketID]
	h.ids[pk.PacketID] = heldSize(pk)
	if !offline {
		maxN-- // mochi refuses the next one itself (MaximumInflight), silently
	}
	over := (len(h.ids) > maxN || h.bytes > maxBytes) && !pk.FixedHeader.Dup
	a.mu.Unlock()
	if !over {
		return
	}
	if !offline {
		if n, bytes := a.recount(cl); n <= maxN && bytes <= maxBytes {
			return
		}
		if c, ok := cl.Net.Conn.(*conn); ok {
			c.drop(errSlowClient)
		}
		return
	}
	if cl.State.Inflight.Delete(pk.PacketID) {
		atomic.AddInt64(&a.b.srv.Info.Inflight, -1)
	}
	a.forget(cl, pk.PacketID)
	a.b.stats.bump(&a.b.stats.sessionDropped)
}

// recount makes cl's held messages exact from its inflight store (mochi
// deletes some without a hook) and returns their number and bytes.
func (a *access) recount(cl *mqtt.Client) (int, int) {
	h := &held{ids: map[uint16]int{}}
	for _, pk := range cl.State.Inflight.GetAll(false) {
		if pk.FixedHeader.Type == packets.Publish {
			h.ids[pk.PacketID] = heldSize(pk)
			h.bytes += heldSize(pk)
		}
	}
	n, bytes := len(h.ids), h.bytes
	a.mu.Lock()
	a.held[cl] = h
	a.mu.Unlock()
	return n, bytes
}

// keepsSession mirrors mochi's rule (server.go attachClient): a session is
// kept for a 3.1.1 client with clean session off, and for an MQTT 5 client
// with a session expiry.
func keepsSession(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

// OnQosComplete forgets an acknowledged message.
func (a *access) OnQosComplete(cl *mqtt.Client, pk packets.Packet) { a.forget(cl, pk.PacketID) }

// OnQosDropped forgets an abandoned or expired message.
func (a *access) OnQosDropped(cl *mqtt.Client, pk packets.Packet) { a.forget(cl, pk.PacketID) }

func (a *access) forget(cl *mqtt.Client, id uint16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h := a.held[cl]; h != nil {
		h.bytes -= h.ids[id]
		delete(h.ids, id)
	}
}

// OnDisconnect trims the session kept for a client that left to
// MaxQueued messages and MaxQueuedBytes, keeping the oldest, or forgets
// the client.
func (a *access) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	if expire || cl.IsTakenOver() || a.b.opts.legacy {
		a.mu.Lock()
		delete(a.held, cl)
		a.mu.Unlock()
		return
	}
	msgs := cl.State.Inflight.GetAll(false)
	sort.SliceStable(msgs, func(i, j int) bool {
		if msgs[i].Created != msgs[j].Created {
			return msgs[i].Created < msgs[j].Created
		}
		return msgs[i].PacketID < msgs[j].PacketID
	})
	h := &held{ids: map[uint16]int{}}
	for _, pk := range msgs {
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		if n := heldSize(pk); len(h.ids) < a.b.opts.MaxQueued && h.bytes+n <= a.b.opts.MaxQueuedBytes {
			h.ids[pk.PacketID] = n
			h.bytes += n
			continue
		}
		if cl.State.Inflight.Delete(pk.PacketID) {
			atomic.AddInt64(&a.b.srv.Info.Inflight, -1)
			a.b.stats.bump(&a.b.stats.sessionDropped)
		}
	}
	a.mu.Lock()
	a.held[cl] = h
	a.mu.Unlock()
}

// OnClientExpired forgets a session that expired.
func (a *access) OnClientExpired(cl *mqtt.Client) {
	a.mu.Lock()
	delete(a.held, cl)
	a.mu.Unlock()
}

// pruneLocked forgets clients mochi no longer knows (a session taken
// over by a new connection of the same client id). Called with mu held.
func (a *access) pruneLocked() {
	for cl := range a.held {
		if cur, ok := a.b.srv.Clients.Get(cl.ID); !ok || cur != cl {
			delete(a.held, cl)
		}
	}
}
