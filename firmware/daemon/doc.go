// Package daemon is doorbelld's composition root: it turns a validated
// config into parts and sinks and hands them to the supervisor. Read
// daemon.go's wire to see everything that runs and everything that reacts
// to a press.
//
//	hal.Input (button, PIR) ──hal.Event──▶ events part: handle ──bus.Event──▶ bus (package bus)
//	                                        id + seq (event.Seq)              │ one goroutine per sink
//	                                        props (event.Of)                  ├─▶ chime      relay pulse        (Props.Chime)
//	                                        privacy gate                      ├─▶ led        flash, privacy     (Props.Chime)
//	                                        snapshot id                       ├─▶ outbox     journal + MQTT event (every event, lossless)
//	                                                                          ├─▶ motion     motion ON/OFF      (Props.Motion)
//	capture.Camera ──frames──▶ capture.Ring ◀────────────────────────────────┼── recorder   clip (Props.Camera)
//	                               ▲                                          ├─▶ snapshot   JPEG on MQTT       (Snapshot id)
//	                               └───────────────────────────────────────── └─▶ last-event /api/status
//
//	supervisor (package supervise): events*, bus*, button*, web*, outbox, pir, chime, led,
//	  camera, snapshots, clips, recorder, clip-ready, clip-transfer, ota, watchdog
//	  (* critical: its failure stops the daemon; the others restart with backoff,
//	  and health lists them while they are down)
//
// The hardware comes in through Options: Pins and Camera (package
// firmware/sim in sim mode and tests), or the config's GPIO lines and
// V4L2 device. The clock is Options.Clock. A missing camera or PIR is a
// degraded mode, never a reason not to ring.
//
// Shutdown: the parts stop (the bus lets every sink finish what is
// queued), then "offline" is published and the MQTT client disconnects,
// then the embedded broker stops and the outbox closes.
package daemon
