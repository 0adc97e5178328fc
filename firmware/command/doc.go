// Package command parses the MQTT commands a doorbell accepts on
// <topic_prefix>/<device.id>/cmd/<name>.
//
// The daemon subscribes to Filter(base) and hands every message to Parse:
//
//	broker ──cmd/privacy "ON"──▶ Parse ──Command{Kind: Privacy, On: true}──▶ daemon
//	                              │
//	                              └─ error ──▶ Limiter.Log (once a minute per topic and kind of error)
//
// Parse is strict: a retained command is refused (ErrRetained) because the
// broker would hand it out again on every reconnect and, say, restart the
// doorbell in a loop; an unknown command name is ErrUnknown; a payload that is
// not one of the allowed ones is ErrMalformed. Every error names the topic,
// what was wrong and what is allowed, with the payload quoted and truncated,
// so it is safe to log (wire.Quote). Command names, topics and payloads
// are the MQTT contract's (package mqttapi: Command, Topics.Command, On,
// Off, Press); package hass announces exactly these, and the update
// command's offers are judged by ota/delivery.
package command
