package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// The daemon's clock is a dependency: Home Assistant's birth is answered
// after a random delay of up to 2 s on the injected clock, so the test
// knows the answer cannot come before it advances the clock, and comes
// once it has.
func TestBirthAnswerOnInjectedClock(t *testing.T) {
	c := simConfig(t, testBroker())
	c.MQTT.DiscoveryPrefix = c.MQTT.TopicPrefix + "_ha"
	c.Camera.Device = "" // the camera would run on the fake clock too
	clk := clockwork.NewFakeClock()
	r := startWith(t, c, func(o *Options) { o.Clock = clk })
	tp := r.d.Topics()
	broker := r.d.brokerURL()
	disc := subscribe(t, broker, c.MQTT.DiscoveryPrefix+"/#")
	next(t, disc, tp.Discovery, 10*time.Second) // the retained one

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Waiters on the clock: the event loop's ticker. The birth adds the
	// delayed answer.
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("event loop ticker: %v", err)
	}
	publish(t, broker, tp.Birth, false, "online")
	if err := clk.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("birth answer not scheduled on the clock: %v", err)
	}
	select {
	case m := <-disc.ch:
		t.Fatalf("discovery %s before the clock moved", m.topic)
	default:
	}
	clk.Advance(2 * time.Second)
	next(t, disc, tp.Discovery, 10*time.Second)
}
