package mqttpub

import (
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestOwnStoreKeepsACopy: what paho's resume gets from the store is not
// the packet Publish queued, so resume's Dup and the writer's
// RemainingLength never touch one packet from two goroutines.
func TestOwnStoreKeepsACopy(t *testing.T) {
	s := ownStore{paho.NewOrderedMemoryStore()}
	s.Open()
	defer s.Close()
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.Qos, p.MessageID, p.TopicName, p.Payload = 1, 7, "t", []byte("x")
	s.Put("o.7", p)
	p.RemainingLength = 99 // the writer sending the queued packet
	got, ok := s.Get("o.7").(*packets.PublishPacket)
	if !ok || got == p {
		t.Fatalf("Get returned %p (%T), the queued packet is %p: want a copy", got, s.Get("o.7"), p)
	}
	got.Dup = true // paho's resume
	if p.Dup || got.RemainingLength == 99 || got.MessageID != 7 || got.TopicName != "t" || string(got.Payload) != "x" {
		t.Fatalf("copy %+v, queued %+v: want the same message, not the same packet", got, p)
	}
	// Other packets are stored as they are.
	sp := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sp.MessageID = 8
	s.Put("o.8", sp)
	if s.Get("o.8") != sp {
		t.Error("a SUBSCRIBE packet was copied")
	}
}
