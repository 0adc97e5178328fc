package daemon

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"periph.io/x/conn/v3/gpio"
)

// fakeMessage is a paho.Message for calling handlers directly.
type fakeMessage struct {
	topic   string
	payload []byte
}

func (m fakeMessage) Duplicate() bool   { return false }
func (m fakeMessage) Qos() byte         { return 1 }
func (m fakeMessage) Retained() bool    { return false }
func (m fakeMessage) Topic() string     { return m.topic }
func (m fakeMessage) MessageID() uint16 { return 1 }
func (m fakeMessage) Payload() []byte   { return m.payload }
func (m fakeMessage) Ack()              {}

// BenchmarkCommandRefused is the cost of one command of a flood: parsed,
// refused by its rate limit, counted, its log line suppressed.
func BenchmarkCommandRefused(b *testing.B) {
	c := simConfig(b, "")
	c.Camera.Device = ""
	r := start(b, c)
	m := fakeMessage{r.d.Topics().Command("privacy"), []byte("ON")}
	for r.d.gate.Allow("privacy") == nil { // drain the bucket
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.d.onCommand(nil, m)
	}
}

// BenchmarkPressUnderCommandFlood measures press → subscriber latency
// while another client floods cmd/privacy (ON/OFF, QoS 0, as fast as it
// can), against the same latency without the flood, sample by sample in
// the same run. It reports both p50/p99 and the p99 ratio.
func BenchmarkPressUnderCommandFlood(b *testing.B) {
	c := simConfig(b, testBroker())
	c.GPIO.Button.Debounce = durCfg(2 * time.Millisecond)
	c.GPIO.Button.MinPress = durCfg(0)
	c.GPIO.Button.LongPress = durCfg(0)
	c.Camera.Device = "" // the path of the event, not of snapshots
	r := start(b, c)
	tp := r.d.Topics()
	broker := r.d.brokerURL()
	ch := subscribe(b, broker, tp.Event)
	for deadline := time.Now().Add(10 * time.Second); !r.d.MQTTConnected(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("not connected to the broker in 10s")
		}
	}
	press := func() time.Duration {
		s := time.Now()
		r.board.Button.Set(gpio.Low)
		m := next(b, ch, tp.Event, 10*time.Second)
		r.board.Button.Set(gpio.High)
		time.Sleep(5 * time.Millisecond) // released > debounce
		return m.at.Sub(s)
	}
	press()

	fl := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("flooder-%d", os.Getpid())))
	if tok := fl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer fl.Disconnect(50)
	var flooding atomic.Bool
	var sent atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		on := []string{"ON", "OFF"}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if !flooding.Load() {
				time.Sleep(time.Millisecond)
				continue
			}
			fl.Publish(tp.Command("privacy"), 0, false, on[i%2])
			sent.Add(1)
		}
	}()
	defer func() { close(stop); <-done }()

	// drain waits until what the flood queued has reached the daemon, so
	// the next quiet sample is quiet (a benchmark may poll for calm).
	judged := func() uint64 { st := r.d.commandStats(); return st.Accepted + st.Rejected }
	drain := func() {
		last := judged()
		for {
			time.Sleep(20 * time.Millisecond)
			n := judged()
			if n == last {
				return
			}
			last = n
		}
	}
	const samples = 100
	var quiet, flood []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < samples; j++ {
			quiet = append(quiet, press())
			flooding.Store(true)
			time.Sleep(2 * time.Millisecond) // the flood is under way when the button goes down
			flood = append(flood, press())
			flooding.Store(false)
			drain()
		}
	}
	b.StopTimer()
	qp50, qp99 := pct(quiet, .5), pct(quiet, .99)
	fp50, fp99 := pct(flood, .5), pct(flood, .99)
	b.ReportMetric(float64(qp99.Microseconds()), "quiet-p99-µs")
	b.ReportMetric(float64(fp99.Microseconds()), "flood-p99-µs")
	b.ReportMetric(float64(fp99)/float64(qp99), "p99-ratio")
	st := r.d.commandStats()
	b.Logf("press→subscriber, %d samples each, broker %s: quiet p50 %v p99 %v; under a flood p50 %v p99 %v (p99 ratio %.2f); %d flood commands sent, %d reached the daemon, %d accepted",
		len(quiet), broker, qp50, qp99, fp50, fp99, float64(fp99)/float64(qp99), sent.Load(), st.Accepted+st.Rejected, st.Accepted)
}
