// Package bus fans doorbell events out to sinks, in the style of
// mochi-mqtt's hooks: a small Sink interface plus a no-op Base to embed, so
// a reaction overrides only what it needs and is registered only when its
// part exists.
//
//	daemon.handle ──Publish(Event)──▶ Bus ──queue──▶ sink goroutine ──OnEvent──▶ chime relay
//	  (id, seq,         Privacy(on)    │  ──queue──▶ sink goroutine ──OnEvent──▶ outbox/MQTT
//	   privacy gate)                   │  ──queue──▶ sink goroutine ──OnEvent──▶ snapshot publisher
//	                                   └─ ...          (one goroutine and one queue per sink)
//
// Each sink has its own goroutine and bounded queue, so a slow sink (a
// snapshot waiting for its frame, a clip being muxed) never delays another
// (the MQTT publish of the same ring). A sink whose queue is full loses
// the message, which is counted and logged, like a slow consumer of
// go4vl's frames: Publish never blocks the event loop.
//
// Run owns the goroutines: when its context is done it stops taking
// messages, lets every sink finish what is already queued, and returns
// once all of them have.
package bus
