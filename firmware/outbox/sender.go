package outbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// Publisher is the MQTT client as the Sender needs it: mqttpub's, which
// *mqttpub.Client implements.
type Publisher = mqttpub.Publisher

// SenderOptions configure a Sender.
type SenderOptions struct {
	Topic     string // the event topic
	Publisher Publisher
	Logger    *slog.Logger
	// AckTimeout is how long a publish may wait for its PUBACK before the
	// event counts as not delivered and is replayed. Default 5m: paho keeps
	// resending an unacknowledged message across reconnects by itself, so
	// giving up early only makes duplicates.
	AckTimeout time.Duration
	// RetryInterval is how often a replay is attempted while events wait,
	// besides Kick. Default 30s.
	RetryInterval time.Duration
	// Window bounds the replayed events awaiting their PUBACK at once.
	// Default 16.
	Window int
	Clock  clockwork.Clock // default: the real clock
	// Acked, when set, is called once the broker has acknowledged an
	// event, with the time of the ack (metrics: edge-to-publish latency).
	// replayed is true for an event published again from the journal,
	// whose latency is the outage's, not the path's. It must not block.
	Acked func(e Entry, at time.Time, replayed bool)
}

func (o *SenderOptions) ensureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 5 * time.Minute
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 30 * time.Second
	}
	if o.Window <= 0 {
		o.Window = 16
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// Sender publishes the outbox's events, QoS 1, never retained, and acks
// each on its PUBACK. Post stores and publishes a new event in one call,
// the journal write running beside the publish. Live events go out at
// once with their payload as is; everything that waited (published while
// disconnected, left over from before a restart, or whose publish failed)
// is replayed oldest first with "late": true. While older events wait, a
// new event queues behind them (and so is late too), so events reach the
// broker in order. An event is never published twice at the same time; it
// may be published twice in all (a PUBACK lost to a crash, a power cut or
// a timeout), and subscribers dedupe by id.
type Sender struct {
	ob   *Outbox
	opts SenderOptions

	kick    chan struct{} // cap 1: a replay is wanted
	stop    chan struct{} // closed when Run ends
	window  chan struct{} // tokens for replayed publishes awaiting PUBACK
	waiters sync.WaitGroup

	mu         sync.Mutex
	inflight   map[string]bool
	needReplay bool // events wait that are not in flight
	failures   int  // publishes that failed or timed out, ever
	kicks      int  // Kick calls, ever
	stopped    bool
}

// NewSender returns a Sender for ob. It starts nothing; Run does.
func NewSender(ob *Outbox, opts SenderOptions) *Sender {
	opts.ensureDefaults()
	return &Sender{
		ob: ob, opts: opts,
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		window:     make(chan struct{}, opts.Window),
		inflight:   map[string]bool{},
		needReplay: ob.Len() > 0, // left from before a restart
	}
}

// Post stores e in the outbox and publishes it at once: live when
// connected and nothing older waits, otherwise after the events that wait
// (and then late). Its journal write runs beside the publish, on the
// outbox's journal goroutine; Post never waits for the disk, nor for the
// network beyond handing the message to paho. payload must be the event's
// JSON (json.Marshal(e)).
//
// An event the outbox cannot store (ErrFull, ErrTooLarge) is logged and
// still published, just not kept across an outage; a failed journal write
// is logged by the outbox, and the event stays in memory until the broker
// has it. The error is for the caller to log: ErrClosed after the outbox
// was closed (the event is still published), or an event that is not one
// (no ID, no payload).
func (s *Sender) Post(e event.Event, payload []byte) error {
	ent, _, err := s.ob.put(e, payload)
	if err != nil {
		if len(payload) > 0 {
			s.opts.Publisher.Publish(s.opts.Topic, 1, false, payload)
		}
		if errors.Is(err, ErrFull) || errors.Is(err, ErrTooLarge) {
			s.opts.Logger.Warn("outbox: event not stored, published without it", "id", e.ID, "type", e.Type, "err", err)
			return nil
		}
		return err
	}
	s.Send(ent)
	return nil
}

// Send publishes e, an entry of the outbox, live when connected and
// nothing older waits; otherwise e waits for the replay. An entry whose
// publish still waits for its PUBACK is not published again. It never
// blocks on the network beyond paho's Publish. Post is Send for an event
// not yet stored.
func (s *Sender) Send(e Entry) {
	s.mu.Lock()
	if s.inflight[e.ID] {
		s.mu.Unlock()
		return
	}
	if s.stopped || s.needReplay || !s.opts.Publisher.Connected() {
		s.needReplay = !s.stopped
		s.mu.Unlock()
		s.wake()
		return
	}
	s.inflight[e.ID] = true
	s.waiters.Add(1)
	s.mu.Unlock()
	tok := s.opts.Publisher.Publish(s.opts.Topic, 1, false, e.Payload)
	go s.await(e, tok, false)
}

// Kick asks Run to replay waiting events; call it after every
// (re)connect, once the Publisher reports Connected (mqttpub's OnConnect
// runs after paho has resent its store). Events sent until that replay is
// done wait for it, so events stay in order. It does not block.
func (s *Sender) Kick() {
	s.mu.Lock()
	if !s.stopped {
		s.needReplay = true
		s.kicks++
	}
	s.mu.Unlock()
	s.wake()
}

// wake makes Run look for waiting events.
func (s *Sender) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run replays waiting events on Kick and every RetryInterval until ctx is
// done, then waits for the PUBACK waiters to stop.
func (s *Sender) Run(ctx context.Context) error {
	t := s.opts.Clock.NewTicker(s.opts.RetryInterval)
	defer t.Stop()
	s.wake() // events left from before a restart
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.stopped = true
			s.mu.Unlock()
			close(s.stop)
			s.waiters.Wait()
			return nil
		case <-s.kick:
		case <-t.Chan():
		}
		s.replay(ctx)
	}
}

// replay publishes every waiting event not in flight, oldest first.
func (s *Sender) replay(ctx context.Context) {
	s.mu.Lock()
	need, failures, kicks := s.needReplay, s.failures, s.kicks
	s.mu.Unlock()
	if !need || !s.opts.Publisher.Connected() {
		return
	}
	pending := s.ob.Pending()
	sent := 0
	for _, e := range pending {
		select {
		case s.window <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if !s.opts.Publisher.Connected() {
			<-s.window
			return // the next connect kicks again
		}
		s.mu.Lock()
		if s.inflight[e.ID] || !s.ob.Has(e.ID) {
			s.mu.Unlock()
			<-s.window
			continue
		}
		s.inflight[e.ID] = true
		s.waiters.Add(1)
		s.mu.Unlock()
		payload, err := e.LatePayload()
		if err != nil {
			s.opts.Logger.Error("outbox: replaying event without late mark", "id", e.ID, "err", err)
			payload = e.Payload
		}
		tok := s.opts.Publisher.Publish(s.opts.Topic, 1, false, payload)
		go s.await(e, tok, true)
		sent++
	}
	// Done when nothing is left that is neither acked nor in flight.
	s.mu.Lock()
	left := false
	for _, e := range s.ob.Pending() {
		if !s.inflight[e.ID] {
			left = true
			break
		}
	}
	// A Kick during the pass (a reconnect) keeps live events waiting
	// until the pass it asked for.
	s.needReplay = left || s.kicks != kicks
	again := left && s.failures == failures
	s.mu.Unlock()
	if sent > 0 {
		s.opts.Logger.Info("outbox: replayed events", "count", sent, "topic", s.opts.Topic)
	}
	if again {
		// Events were added during the pass. After a failure the next try
		// waits for a reconnect (Kick) or RetryInterval instead, so a
		// broker refusing every publish does not make a busy loop.
		s.wake()
	}
}

// await waits for tok, acks e on success and marks it for replay on
// failure. replayed publishes hold a window slot.
func (s *Sender) await(e Entry, tok paho.Token, replayed bool) {
	defer s.waiters.Done()
	if replayed {
		defer func() { <-s.window }()
	}
	timer := s.opts.Clock.NewTimer(s.opts.AckTimeout)
	defer timer.Stop()
	var err error
	done := true
	select {
	case <-tok.Done():
		err = tok.Error()
	case <-timer.Chan():
		done = false
		s.opts.Logger.Warn("outbox: no PUBACK, will publish again", "id", e.ID, "after", s.opts.AckTimeout)
	case <-s.stop:
		select { // shutting down: take an ack that is already there
		case <-tok.Done():
			err = tok.Error()
		default:
			done = false
		}
	}
	if done && err == nil {
		at := s.opts.Clock.Now()
		if aerr := s.ob.Ack(e.ID); aerr != nil {
			s.opts.Logger.Error("outbox: ack", "id", e.ID, "err", aerr)
		}
		if s.opts.Acked != nil {
			s.opts.Acked(e, at, replayed)
		}
	} else if err != nil {
		s.opts.Logger.Warn("outbox: publish failed, will publish again", "id", e.ID, "type", e.Type, "err", err)
	}
	s.mu.Lock()
	delete(s.inflight, e.ID)
	if !(done && err == nil) && !s.stopped {
		s.needReplay = true
		s.failures++
	}
	s.mu.Unlock()
}
