package audit_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/audit"
)

func Example() {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 12, 6, 19, 38, 14, 0, time.UTC))
	l, err := audit.Open("", audit.Options{Clock: clock}) // the daemon passes a path and Sync: true
	if err != nil {
		panic(err)
	}
	defer l.Close()
	mqtt, stop := l.Subscribe(16) // the MQTT publisher's feed
	defer stop()

	l.Record(audit.Entry{Action: audit.ActionSnapshot, Actor: "web:alice", From: "192.0.2.7:51234", Outcome: audit.OK})
	clock.Advance(90 * time.Second)
	l.Record(audit.Entry{Action: audit.ActionLive, Actor: "rtsp:bob\x1b[31m", Object: "main",
		Outcome: audit.Refused, Reason: "privacy mode"})

	for _, e := range l.Recent(10) {
		fmt.Println(e.Seq, e.Action, e.Outcome)
	}
	first := <-mqtt
	payload, _ := json.Marshal(first)
	fmt.Println(string(payload))
	second := <-mqtt
	fmt.Println(second.Prev == first.Hash())
	fmt.Println(l.Stats().Entries)
	// Output:
	// 2 live refused
	// 1 snapshot ok
	// {"seq":1,"at":"2026-12-06T19:38:14Z","action":"snapshot","actor":"web:alice","from":"192.0.2.7:51234","outcome":"ok","prev":""}
	// true
	// map[live/refused:1 snapshot/ok:1]
}
