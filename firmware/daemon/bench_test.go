package daemon

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/hal"
)

const latencySamples = 200

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkPressToSubscriber measures a press through the whole daemon —
// sim pin edge → hal → event → MQTT → a subscriber on the same broker —
// beside a raw paho QoS 1 publish → receive of a message of the same size
// on the same broker, in the same run, one after the other per sample. It
// reports p50/p99 of both and the
// p99 difference. Each press waits for the previous press's snapshot to be
// published, as presses at a door are seconds apart. With
// DOORBELL_TEST_BROKER set (scripts/test.sh) the broker is Mosquitto, else
// the embedded one.
func BenchmarkPressToSubscriber(b *testing.B) { pressToSubscriber(b, nil) }

// BenchmarkPressToSubscriberSlowJournal is BenchmarkPressToSubscriber with
// every outbox fdatasync 50 ms slower, like a cheap SD card: the event is
// published beside the journal write, so its p99 must stay the same.
func BenchmarkPressToSubscriberSlowJournal(b *testing.B) {
	pressToSubscriber(b, func(f *os.File) error {
		time.Sleep(50 * time.Millisecond)
		return f.Sync()
	})
}

func pressToSubscriber(b *testing.B, sync func(*os.File) error) {
	c := simConfig(b, testBroker())
	c.GPIO.Button.Debounce = durCfg(2 * time.Millisecond)
	// The glitch filter (default 3ms) delays publishing by exactly that much
	// by design; this measures the path itself.
	c.GPIO.Button.MinPress = durCfg(0)
	c.GPIO.Button.LongPress = durCfg(0)
	r := startWith(b, c, func(o *Options) { o.OutboxSync = sync })
	tp := r.d.Topics()
	broker := r.d.brokerURL()
	ch := subscribe(b, broker, c.MQTT.TopicPrefix+"/#")
	waitCamera(b, r)
	// Steady state: Ready comes before the MQTT connection has settled
	// (mqttpub holds events for 300ms after connecting), so wait for it
	// and make one press that is not counted.
	for deadline := time.Now().Add(10 * time.Second); !r.d.MQTTConnected(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("not connected to the broker in 10s")
		}
	}
	var daemonLat, rawLat []time.Duration
	size := 0
	press := func() time.Duration {
		s := time.Now()
		r.board.Button.Set(gpio.Low) // the press edge
		m := next(b, ch, tp.Event, 5*time.Second)
		size = len(m.payload)
		r.board.Button.Set(gpio.High)
		// Let this press's snapshot go out before the next press: at a
		// door, presses are seconds apart, not milliseconds.
		next(b, ch, tp.Snapshot, 5*time.Second)
		time.Sleep(5 * time.Millisecond) // stays released > debounce
		return m.at.Sub(s)
	}
	b.Logf("first press after connecting (not counted): %v", press())

	// Baseline: raw paho, same broker, same payload size, QoS 1, one
	// sample after each press, so both see the same load on a shared
	// machine.
	raw := subscribe(b, broker, c.MQTT.TopicPrefix+"/raw")
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("rawpub-%d", os.Getpid())))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	rawOne := func() time.Duration {
		payload := make([]byte, size)
		s := time.Now()
		pub.Publish(c.MQTT.TopicPrefix+"/raw", 1, false, payload)
		m := next(b, raw, c.MQTT.TopicPrefix+"/raw", 5*time.Second)
		time.Sleep(5 * time.Millisecond)
		return m.at.Sub(s)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < latencySamples; j++ {
			daemonLat = append(daemonLat, press())
			rawLat = append(rawLat, rawOne())
		}
	}
	b.StopTimer()
	dp50, dp99 := pct(daemonLat, .5), pct(daemonLat, .99)
	rp50, rp99 := pct(rawLat, .5), pct(rawLat, .99)
	b.ReportMetric(float64(dp50.Microseconds()), "daemon-p50-µs")
	b.ReportMetric(float64(dp99.Microseconds()), "daemon-p99-µs")
	b.ReportMetric(float64(rp50.Microseconds()), "raw-p50-µs")
	b.ReportMetric(float64(rp99.Microseconds()), "raw-p99-µs")
	b.ReportMetric(float64((dp99 - rp99).Microseconds()), "p99-diff-µs")
	b.ReportMetric(float64(dp99)/float64(rp99), "p99-ratio")
	worst := slices.Index(daemonLat, slices.Max(daemonLat))
	slices.Sort(daemonLat)
	b.Logf("slowest daemon samples: %v (the slowest was press %d of %d)", daemonLat[len(daemonLat)-5:], worst+1, len(daemonLat))
	b.Logf("press→subscriber over %d samples, %d-byte events, broker %s: daemon p50 %v p99 %v; raw paho p50 %v p99 %v; p99 diff %v, ratio %.2f",
		len(daemonLat), size, broker, dp50, dp99, rp50, rp99, dp99-rp99, float64(dp99)/float64(rp99))
}

// BenchmarkEventPublish is the work per press up to the MQTT client —
// sequence number, the bus, the outbox sink's journal write and hand-off
// to the MQTT sender — measured with allocations: b.N presses, until the
// outbox sink has taken every one. It runs on the embedded broker.
func BenchmarkEventPublish(b *testing.B) {
	c := simConfig(b, "")
	c.Camera.Device = ""
	r := start(b, c)
	outboxDelivered := func() uint64 {
		for _, s := range r.d.bus.Stats() {
			if s.Name == "outbox" {
				return s.Delivered
			}
		}
		b.Fatal("no outbox sink")
		return 0
	}
	before := outboxDelivered()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.d.handle(hal.Event{Type: hal.Ring, At: time.Now(), Source: "button"})
	}
	for outboxDelivered() < before+uint64(b.N) {
		runtime.Gosched()
	}
}
