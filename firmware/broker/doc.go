// Package broker runs the embedded MQTT broker (mochi-mqtt) that doorbelld
// uses when the config names no broker of its own: the laptop sim mode, and
// households with no broker yet. It listens on one TCP address, by default
// on loopback only, so nothing leaves the machine unless the owner says so;
// when it does (mqtt.listen 0.0.0.0:1883), the broker faces the network,
// and every connection goes through the defences below.
//
//	client ──TCP──▶ listener ── conn (ConnectTimeout for the CONNECT) ──▶ mochi reader goroutine
//	                                                                        │ packet > MaxPacketSize:
//	                                                                        │   closed after the fixed header
//	             access.OnConnect ◀── MaxClients (connected + kept) ───────┤
//	 access.OnConnectAuthenticate ◀── login: device, owner, reader ────────┤ (open broker: loopback only)
//	          access.OnACLCheck ◀── PUBLISH: owners only, else dropped ────┤
//	                                                                        ▼ fan-out, on this goroutine,
//	                                                   for each subscriber: │ never blocking:
//	   access.OnQosPublish ◀── QoS 1/2 held: MaxQueued, MaxQueuedBytes ─────┤
//	                                  subscriber's mochi queue (1024; full: message dropped)
//	                                                                        ▼
//	            mochi WriteLoop ── WritePacket, holding the subscriber's lock ──▶ conn.Write
//	                 conn.Write: copies into the subscriber's queue, returns at once;
//	                             queue > WriteBuffer: the subscriber is dropped
//	                 conn writer goroutine ──writev──▶ socket; no byte taken for
//	                             WriteTimeout: the subscriber is dropped
//
// # Accounts and roles
//
// Options.Username and Password are doorbelld's own login (full access).
// Options.Accounts add owners (RoleOwner: read and write, Home Assistant and
// the owner's doorbellctl) and readers (RoleReader: subscribe to anything,
// publish nothing; a reader's will is dropped at login, since it would be a
// publish). With neither, the broker is open, to loopback clients only
// (127.0.0.0/8, ::1): the sim mode on a laptop. With either, every client
// must log in, on loopback too. A refused login gets CONNACK "not
// authorized"; refusals (logins, publishes, busy, slow and oversize
// clients) are logged at Warn at most once a minute per client address and
// kind, the next line counting those suppressed, never with a password;
// Stats counts them all. Loopback tells whether a listen address binds
// loopback only (the config package applies the same rule).
//
// # Bounds
//
// Every resource a client can make the broker hold is bounded: the packet
// it sends (MaxPacketSize, 1 MiB + 4 KiB: mochi checks the announced length
// in ReadFixedHeader, before it allocates the body, so an 8 MiB publish
// costs a few KiB), the bytes waiting to be written to it (WriteBuffer,
// 4 MiB), the QoS 1/2 messages held until it acknowledges them (MaxQueued
// 1024 and MaxQueuedBytes 8 MiB for a session kept while it is away,
// twice that while it is connected), how long a session is kept
// (MaxSessionExpiry, 1 h), how many clients and kept sessions there are
// (MaxClients, 32), how long a new connection may stay silent
// (ConnectTimeout, 10 s), and its inbound topic aliases (16). The worst case
// is thus about MaxClients × (WriteBuffer + 2 × MaxQueuedBytes); in practice
// a client is dropped long before.
//
// # The staller
//
// In mochi v2.7.9 one subscriber that stops reading its socket stalls the
// whole broker. mochi's WritePacket (clients.go:602-631) writes to the
// net.Conn while holding the client's lock (cl.Lock, clients.go:603),
// with no write deadline other than the keepalive one (clients.go:262-270:
// 1.5 × keepalive, refreshed by every packet the client sends, none at
// keepalive 0). Once the socket buffers are full that write blocks, in the
// subscriber's WriteLoop (clients.go:198). Every QoS 1/2 publish to that
// subscriber then needs a packet id: publishToClient (server.go:1072) calls
// NextPacketID, which takes the same lock (clients.go:277), and it runs on
// the publisher's own reader goroutine (processPublish, server.go:965 →
// publishToSubscribers, server.go:1014). So the publisher stops: its later
// messages reach no one, its PINGREQs go unanswered (doorbelld's own
// connection times out), until the staller's keepalive deadline ends the
// write (60 to 100 s), or never. Closing the broker hangs the same way:
// Close writes a DISCONNECT to each client (server.go:1511 →
// DisconnectClient → WritePacket). At QoS 0 the fan-out does not stall
// (the queue send at server.go:1100 drops when full), but each staller
// holds up to 8192 queued messages.
//
// The fix is at the socket, below mochi: conn.Write never blocks. It copies
// the bytes into a per-client queue and returns, so mochi holds the client's
// lock only for a copy; the conn's own goroutine writes the queue with a
// deadline. A client whose queue passes WriteBuffer, that takes no byte for
// WriteTimeout, or that leaves twice MaxQueued (or MaxQueuedBytes)
// unacknowledged, is dropped: its socket is closed at once, without
// flushing, and mochi ends it as it would a broken connection (with its
// will). Other clients see nothing; TestStaller and TestWriteTimeout prove
// it, and fail with -broker.legacy (the broker as it was).
//
// Run closes the broker: after a short grace for the last messages,
// mochi disconnects every client; each conn flushes what it still has
// (at most flushGrace for a client that does not read), and Run returns
// once every connection is closed.
package broker
