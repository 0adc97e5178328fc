//go:build integration

package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// latencySamples is how many presses each way is measured per b.N.
const latencySamples = 200

// arrived is a message as the subscriber got it, and when.
type arrived struct {
	topic string
	at    time.Time
}

// BenchmarkPostToSubscriber measures press → subscriber latency on one
// broker, in one run, four ways, sample by sample in turn so that load on
// the machine weighs on each alike:
//
//	raw     paho QoS 1 publish of a payload of the same size (the floor)
//	post    Sender.Post through mqttpub.Client, journal on the disk
//	slow    the same, every journal sync 50ms slower (an SD card)
//	addsend Outbox.Add then Sender.Send, the path before Post (fdatasync first)
//
// and reports p50, p99 and max of each, and the p99 of post and slow over
// raw. Presses are a few milliseconds apart. The broker is
// DOORBELL_TEST_BROKER, else a Mosquitto of its own; DOORBELL_BENCH_DIR
// puts the journals on the storage to measure (the SD card of a Pi).
func BenchmarkPostToSubscriber(b *testing.B) {
	broker := os.Getenv("DOORBELL_TEST_BROKER")
	if broker == "" {
		broker = mosquittotest.New(b, "").URL()
	}
	prefix := fmt.Sprintf("outbox-bench-%d", os.Getpid())
	got := make(chan arrived, 64)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(prefix + "-sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		b.Fatalf("subscriber: %v", tok.Error())
	}
	defer sub.Disconnect(50)
	if tok := sub.Subscribe(prefix+"/#", 1, func(_ paho.Client, m paho.Message) {
		got <- arrived{m.Topic(), time.Now()}
	}); !tok.WaitTimeout(patience) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}

	raw := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(prefix + "-raw"))
	if tok := raw.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		b.Fatalf("raw publisher: %v", tok.Error())
	}
	defer raw.Disconnect(50)

	ctx, cancel := context.WithCancel(context.Background())
	var (
		parts sync.WaitGroup
		obs   []*Outbox
	)
	defer func() {
		cancel()
		parts.Wait()
		for _, ob := range obs {
			ob.Close()
		}
	}()
	newSender := func(name string, opts Options) (*Outbox, *Sender) {
		opts.Logger = quiet()
		ob, err := Open(benchDir(b), opts)
		if err != nil {
			b.Fatal(err)
		}
		obs = append(obs, ob)
		var s *Sender
		mq := mqttpub.New(mqttpub.Options{Broker: broker, ClientID: prefix + "-" + name, StatusTopic: prefix + "/status/" + name,
			OnConnect: func() { s.Kick() }, Logger: quiet()})
		s = NewSender(ob, SenderOptions{Topic: prefix + "/" + name, Publisher: mq, Logger: quiet()})
		parts.Add(2)
		go func() { defer parts.Done(); s.Run(ctx) }()
		go func() { defer parts.Done(); mq.Run(ctx) }()
		mq.Connect()
		waitFor(b, name+" connected", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return mq.Connected() && s.kicks > 0 && !s.needReplay
		})
		return ob, s
	}
	_, post := newSender("post", Options{})
	slowOb, slow := newSender("slow", Options{Sync: slowSync})
	oldOb, old := newSender("addsend", Options{})

	n := 0
	press := func() (event.Event, []byte) {
		n++
		e := event.Event{ID: event.NewID(), Seq: uint64(n), Device: "front", Type: event.Ring, At: time.Now(), Snapshot: event.NewID()}
		p, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		return e, p
	}
	_, sample := press()
	payload := make([]byte, len(sample))
	ways := []struct {
		name string
		send func()
		lat  []time.Duration
	}{
		{name: "raw", send: func() { raw.Publish(prefix+"/raw", 1, false, payload) }},
		{name: "post", send: func() {
			if err := post.Post(press()); err != nil {
				b.Fatal(err)
			}
		}},
		{name: "slow", send: func() {
			if err := slow.Post(press()); err != nil {
				b.Fatal(err)
			}
		}},
		{name: "addsend", send: func() {
			ent, err := oldOb.Add(press())
			if err != nil {
				b.Fatal(err)
			}
			old.Send(ent)
		}},
	}
	measure := func(i int) time.Duration {
		w := &ways[i]
		start := time.Now()
		w.send()
		for {
			select {
			case m := <-got:
				if m.topic == prefix+"/"+w.name {
					return m.at.Sub(start)
				}
			case <-deadline(b):
				b.Fatalf("%s: nothing arrived", w.name)
			}
		}
	}
	for i := range ways { // warm up, not counted
		measure(i)
	}
	b.ResetTimer()
	for b.Loop() {
		for j := range latencySamples {
			for k := range ways {
				i := (j + k) % len(ways) // each way goes first in turn
				ways[i].lat = append(ways[i].lat, measure(i))
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	b.StopTimer()

	stat := map[string][3]time.Duration{}
	for _, w := range ways {
		s := slices.Clone(w.lat)
		slices.Sort(s)
		st := [3]time.Duration{s[len(s)/2], s[min(len(s)-1, len(s)*99/100)], s[len(s)-1]}
		stat[w.name] = st
		b.ReportMetric(float64(st[0].Microseconds()), w.name+"-p50-µs")
		b.ReportMetric(float64(st[1].Microseconds()), w.name+"-p99-µs")
		b.ReportMetric(float64(st[2].Microseconds()), w.name+"-max-µs")
	}
	rp99 := stat["raw"][1]
	b.ReportMetric(float64((stat["post"][1] - rp99).Microseconds()), "post-p99-over-raw-µs")
	b.ReportMetric(float64((stat["slow"][1] - rp99).Microseconds()), "slow-p99-over-raw-µs")
	sst := slowOb.Stats()
	b.Logf("%d samples each, %d-byte events, broker %s: p50/p99/max raw %v, post %v, slow journal %v, add+send %v; slow journal: %d syncs, %d events acked before their write",
		len(ways[0].lat), len(sample), broker, stat["raw"], stat["post"], stat["slow"], stat["addsend"], sst.Syncs, sst.Skipped)
}
