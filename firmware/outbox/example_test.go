package outbox_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/outbox"
)

func Example() {
	dir, _ := os.MkdirTemp("", "outbox-example")
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	ob, _ := outbox.Open(dir, outbox.Options{Logger: log})
	e := event.Event{ID: "d4k9s3p2v5q8m1n0c7b6", Seq: 101, Device: "front", Type: event.Ring,
		At: time.Date(2026, 11, 26, 19, 38, 19, 123e6, time.UTC)}
	payload, _ := json.Marshal(e)
	if _, err := ob.Add(e, payload); err != nil { // durable from here on
		fmt.Println(err)
	}
	ob.Close() // the broker never acknowledged it: a restart...

	ob, _ = outbox.Open(dir, outbox.Options{Logger: log})
	defer ob.Close()
	for _, p := range ob.Pending() { // ...replays it, late
		late, _ := p.LatePayload()
		fmt.Println(string(late))
		ob.Ack(p.ID) // on PUBACK
	}
	fmt.Println(ob.Len())
	// Output:
	// {"id":"d4k9s3p2v5q8m1n0c7b6","seq":101,"device":"front","event_type":"ring","late":true,"at":"2026-11-26T19:38:19.123Z"}
	// 0
}

// offline is a broker connection that is down: nothing is published.
type offline struct{}

func (offline) Connected() bool                               { return false }
func (offline) Publish(string, byte, bool, []byte) paho.Token { return nil }

func ExampleSender_Post() {
	dir, _ := os.MkdirTemp("", "outbox-example")
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	ob, _ := outbox.Open(dir, outbox.Options{Logger: log, OnDurable: func(id string) { fmt.Println("durable:", id) }})
	snd := outbox.NewSender(ob, outbox.SenderOptions{Topic: "doorbell/front/event", Publisher: offline{}, Logger: log})
	e := event.Event{ID: "d4k9s3p2v5q8m1n0c7b6", Seq: 101, Device: "front", Type: event.Ring,
		At: time.Date(2026, 11, 26, 19, 38, 19, 123e6, time.UTC)}
	payload, _ := json.Marshal(e)
	if err := snd.Post(e, payload); err != nil { // returns at once; the journal writes beside
		fmt.Println(err)
	}
	ob.Close() // writes what the journal still holds

	ob, _ = outbox.Open(dir, outbox.Options{Logger: log})
	defer ob.Close()
	fmt.Println("pending after a restart:", len(ob.Pending()))
	// Output:
	// durable: d4k9s3p2v5q8m1n0c7b6
	// pending after a restart: 1
}
