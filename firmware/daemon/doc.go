// Package daemon is doorbelld's composition root: it turns a validated
// config into running parts and wires the event flow between them.
//
//	hal.Input (button, PIR) ──hal.Event──▶ event loop ──event.Event──▶ sinks
//	                                          │  (id, seq,             ├─ chime relay
//	capture.Camera ──frames──▶ capture.Ring ◀─┘   snapshot)            ├─ MQTT: event, snapshot
//	                                                                   └─ status (web API)
//
// Each part is a Run(ctx) error; Daemon.Run starts them all, tells systemd
// when they are up, and returns when ctx is done and every part has stopped.
// A missing camera or PIR is a degraded mode, never a reason not to ring.
package daemon
