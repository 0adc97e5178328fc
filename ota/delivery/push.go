package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// Errors of Push.
var (
	// ErrNoAnswer: the device did not answer the offer or stopped acking.
	// (A broker that does not acknowledge is mqttpub.ErrNoAck.)
	ErrNoAnswer = errors.New("device does not answer")
	// ErrRefused: the device refused the bundle (Ack.Error says why).
	ErrRefused = errors.New("device refused the update")
	// ErrNotConfirmed: installed, but the new version did not confirm its
	// health (rolled back), or not within PushOptions.Wait.
	ErrNotConfirmed = errors.New("update not confirmed")
)

// brokerTimeout bounds each wait for the broker's acknowledgement.
const brokerTimeout = 30 * time.Second

// PushOptions configure Push.
type PushOptions struct {
	// Client is a connected paho client.
	Client paho.Client
	// Base is the device's <mqtt.topic_prefix>/<device.id>.
	Base string
	// Bundle and Size are the bundle to send.
	Bundle io.ReaderAt
	Size   int64
	// Version labels the offer (the bundle's manifest decides).
	Version string
	// ChunkSize defaults to DefaultChunkSize.
	ChunkSize int
	// AckTimeout: without an ack this long, resend from the last ack;
	// default 10s. The first ack (the device taking the offer) gets 3×.
	AckTimeout time.Duration
	// Retries is how many resends without progress before giving up;
	// default 5.
	Retries int
	// Wait, if not zero, is how long to wait after the transfer for the
	// device to restart and confirm the new version.
	Wait time.Duration
	// Progress, if set, is called with the bytes the device has acked.
	Progress func(acked, total int64)
	// Phase, if set, is told what Push waits for now: "offer", "transfer",
	// "restart" (waiting for the confirmation).
	Phase  func(string)
	Logger *slog.Logger
}

// PushResult is what a Push achieved.
type PushResult struct {
	Version   string // installed, as the device's manifest check said
	Confirmed bool   // the device runs it and confirmed its health
	State     State  // the last state seen
}

// Push offers a bundle to a device and sends it in chunks over MQTT,
// paced by the device's acks. It returns once the device has installed it
// (or, with Wait, confirmed it) or refused it.
func Push(ctx context.Context, o PushOptions) (PushResult, error) {
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 10 * time.Second
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	phase := func(p string) {
		if o.Phase != nil {
			o.Phase(p)
		}
	}
	var res PushResult
	id := newID()
	acks := make(chan Ack, 256)
	states := make(chan State, 64)
	ackTopic, stateTopic := AckTopic(o.Base, id), StateTopic(o.Base)
	// Handlers must not block paho: drop when full (acks are cumulative).
	if err := mqttpub.Wait(o.Client.Subscribe(ackTopic, 1, func(_ paho.Client, m paho.Message) {
		var a Ack
		if json.Unmarshal(m.Payload(), &a) == nil {
			select {
			case acks <- a:
			default:
			}
		}
	}), brokerTimeout, "subscribe "+ackTopic); err != nil {
		return res, fmt.Errorf("push: %w", err)
	}
	defer o.Client.Unsubscribe(ackTopic)
	if err := mqttpub.Wait(o.Client.Subscribe(stateTopic, 1, func(_ paho.Client, m paho.Message) {
		var s State
		if json.Unmarshal(m.Payload(), &s) == nil {
			select {
			case states <- s:
			default:
			}
		}
	}), brokerTimeout, "subscribe "+stateTopic); err != nil {
		return res, fmt.Errorf("push: %w", err)
	}
	defer o.Client.Unsubscribe(stateTopic)

	offer, _ := json.Marshal(Offer{Version: o.Version, Transfer: id, Size: o.Size, ChunkSize: o.ChunkSize})
	phase("offer")
	if err := mqttpub.Wait(o.Client.Publish(CommandTopic(o.Base), 1, false, offer), brokerTimeout, "publish the offer"); err != nil {
		return res, fmt.Errorf("push: %w", err)
	}
	o.Logger.Debug("push: offered", "topic", CommandTopic(o.Base), "offer", string(offer))

	var (
		acked, sent int64
		window      = 0 // unknown until the first ack
		retries     = 0
		buf         = make([]byte, o.ChunkSize)
		timeout     = 3 * o.AckTimeout
		done        Ack
	)
	abort := func() { o.Client.Publish(AbortTopic(o.Base, id), 1, false, []byte{}) }
loop:
	for {
		for window > 0 && sent < o.Size && sent < acked+int64(window*o.ChunkSize) {
			n := int64(o.ChunkSize)
			if sent+n > o.Size {
				n = o.Size - sent
			}
			if _, err := o.Bundle.ReadAt(buf[:n], sent); err != nil && !(errors.Is(err, io.EOF) && n > 0) {
				abort()
				return res, fmt.Errorf("push: read bundle at %d: %w", sent, err)
			}
			if err := mqttpub.Wait(o.Client.Publish(ChunkTopic(o.Base, id, sent), 1, false, append([]byte(nil), buf[:n]...)), brokerTimeout, "publish a chunk"); err != nil {
				abort()
				return res, fmt.Errorf("push: %w", err)
			}
			sent += n
		}
		t := time.NewTimer(timeout)
		select {
		case <-ctx.Done():
			t.Stop()
			abort()
			return res, fmt.Errorf("push: %w", ctx.Err())
		case a := <-acks:
			t.Stop()
			if a.Done {
				done = a
				break loop
			}
			if window == 0 {
				phase("transfer")
			}
			window, timeout = max(1, a.Window), o.AckTimeout
			if a.Next > acked {
				acked, retries = a.Next, 0
				if o.Progress != nil {
					o.Progress(acked, o.Size)
				}
			}
			if sent < acked {
				sent = acked
			}
		case <-t.C:
			retries++
			if window == 0 {
				return res, fmt.Errorf("push: no answer to the offer on %s within %v (is the device online, with OTA enabled?): %w",
					CommandTopic(o.Base), timeout, ErrNoAnswer)
			}
			if retries > o.Retries {
				abort()
				return res, fmt.Errorf("push: no ack past byte %d of %d after %d resends: %w", acked, o.Size, o.Retries, ErrNoAnswer)
			}
			o.Logger.Warn("push: no ack; resending", "from", acked, "try", retries)
			sent = acked
		}
	}
	if done.Error != "" {
		return res, fmt.Errorf("push: %s: %w", done.Error, ErrRefused)
	}
	if o.Progress != nil {
		o.Progress(o.Size, o.Size)
	}
	res.Version = done.Version
	if o.Wait <= 0 {
		return res, nil
	}
	phase("restart")
	// What came before the done ack (the retained state, progress) is old.
	for len(states) > 0 {
		res.State = <-states
	}
	want := canonical(done.Version)
	deadline := time.NewTimer(o.Wait)
	defer deadline.Stop()
	for {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("push: %w", ctx.Err())
		case <-deadline.C:
			return res, fmt.Errorf("push: %s installed, but no health confirmation within %v (last state %q): %w",
				done.Version, o.Wait, res.State.State, ErrNotConfirmed)
		case s := <-states:
			res.State = s
			switch {
			case s.InstalledVersion == want && s.State == StateIdle:
				res.Confirmed = true
				return res, nil
			case s.State == StateRolledBack || s.State == StateRollbackFailed:
				return res, fmt.Errorf("push: %s: %s: %w", s.State, s.Error, ErrNotConfirmed)
			}
		}
	}
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
