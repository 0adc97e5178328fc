//go:build integration

package clipxfer_test

import (
	"os"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
)

// testBroker is scripts/test.sh's Mosquitto.
func testBroker(t *testing.T) string {
	url := os.Getenv("DOORBELL_TEST_BROKER")
	if url == "" {
		t.Skip("DOORBELL_TEST_BROKER is not set (scripts/test.sh sets it)")
	}
	return url
}

func TestMosquittoTransfer(t *testing.T) {
	url := testBroker(t)
	t.Run("5 MiB, default chunks", func(t *testing.T) { scenarioTransfer(t, url, 5<<20+321, 0) })
	t.Run("5 MiB, largest chunks", func(t *testing.T) { scenarioTransfer(t, url, 5<<20+321, clipxfer.MaxChunkBytes) })
}

func TestMosquittoResume(t *testing.T) { scenarioResume(t, testBroker(t)) }

func TestMosquittoEventsOvertakeChunks(t *testing.T) { scenarioEventsFirst(t, testBroker(t)) }

func TestMosquittoForgedDoneKeepsClip(t *testing.T) { scenarioOwnerDone(t, testBroker(t)) }

// A thousand whole-clip wants through Mosquitto: at most ClipBudget × the
// clip goes out.
func TestMosquittoWantFlood(t *testing.T) {
	res := scenarioWantFlood(t, testBroker(t), 1000, true, clipxfer.PublisherOptions{})
	if limit := int64(clipxfer.DefaultClipBudget * res.clip); int64(res.stats.BytesSent) > limit || res.seen != int64(res.stats.BytesSent) {
		t.Errorf("sent %d bytes (the broker delivered %d), budget %d", res.stats.BytesSent, res.seen, limit)
	}
}

// stockMosquitto runs a Mosquitto of the test's own with a stock home
// broker's limits: message_size_limit 1 MiB, 1000-message queues.
func stockMosquitto(t *testing.T) string {
	return mosquittotest.New(t, "persistence false\nmessage_size_limit 1048576\nmax_queued_messages 1000\n").URL()
}

// A broker with message_size_limit 1 MiB drops a bigger message silently
// (the publisher even gets its PUBACK), yet receives whole clips, in the
// largest chunks too.
func TestMosquittoMessageSizeLimit(t *testing.T) {
	url := stockMosquitto(t)

	// The limit is real: one byte over is dropped, a largest chunk with a
	// long topic passes.
	sub, pub := client(t, url), client(t, url)
	got := make(chan int, 4)
	sub.Subscribe("limit/#", 1, func(_ paho.Client, m paho.Message) { got <- len(m.Payload()) }).WaitTimeout(5 * time.Second)
	over := pub.Publish("limit/over", 1, false, make([]byte, 1<<20+1))
	over.WaitTimeout(5 * time.Second)
	t.Logf("publishing 1 MiB + 1 byte: token error %v (no error: dropped silently)", over.Error())
	longTopic := "limit/" + strings.Repeat("x", 200) + "/clips/" + strings.Repeat("c", 64) + "/chunk/65535"
	pub.Publish(longTopic, 1, false, make([]byte, clipxfer.MaxChunkBytes)).WaitTimeout(5 * time.Second)
	select {
	case n := <-got:
		if n != clipxfer.MaxChunkBytes {
			t.Fatalf("got a message of %d bytes: the broker did not drop the one over its limit", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the largest chunk did not pass message_size_limit")
	}

	t.Run("5 MiB, largest chunks", func(t *testing.T) { scenarioTransfer(t, url, 5<<20+77, clipxfer.MaxChunkBytes) })
	t.Run("5 MiB, default chunks", func(t *testing.T) { scenarioTransfer(t, url, 5<<20+77, 0) })
	t.Run("resume", func(t *testing.T) { scenarioResume(t, url) })
}
