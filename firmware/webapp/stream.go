package webapp

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// stream serves the timeline's changes as Server-Sent Events:
//
//	event: ready    data: {}                  once, first: (re)load the list now
//	event: event    data: timeline.Update     an event added, updated or removed
//	event: status   data: {"switch","on"}     a switch set through the app
//	event: resync   data: {}                  this stream fell behind: reload; it ends
//	: ping                                    every PingInterval
//
// It ends when the client goes, when it falls behind, or when a write
// stalls for StallTimeout.
func (a *app) stream(w http.ResponseWriter, r *http.Request) {
	if a.opts.Timeline == nil {
		http.Error(w, "no event timeline", http.StatusServiceUnavailable)
		return
	}
	release, ok := a.acquire(w)
	if !ok {
		return
	}
	defer release()
	updates, cancel := a.opts.Timeline.Subscribe()
	defer cancel()
	status, unsub := a.status.subscribe()
	defer unsub()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	send := func(format string, args ...any) bool {
		if err := a.extendWrite(rc); err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 3000\nevent: ready\ndata: {}\n\n") {
		return
	}
	ping := a.clk.NewTicker(a.opts.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.Chan():
			if !send(": ping\n\n") {
				return
			}
		case u, open := <-updates:
			if !open {
				send("event: resync\ndata: {}\n\n")
				return
			}
			if !send("event: event\ndata: %s\n\n", mustJSON(u)) {
				return
			}
		case s := <-status:
			if !send("event: status\ndata: %s\n\n", mustJSON(s)) {
				return
			}
		}
	}
}

// mustJSON marshals v, which is one of this package's plain types.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{}`)
	}
	return b
}
