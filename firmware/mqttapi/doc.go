// Package mqttapi is the MQTT contract of a doorbell: every topic name and
// every payload type, in one place. The daemon, Home Assistant discovery
// (hass), the command parser (command), clip transfer (clipxfer), OTA
// delivery (ota/delivery) and doorbellctl all take their topics from here,
// and README's topic table is checked against this package by a test. It
// imports only the standard library and firmware/event.
//
// Topics, under base = <mqtt.topic_prefix>/<device.id> (Topics):
//
//	device ──▶ broker                              broker ──▶ device
//	event            Event JSON                    cmd/<name>        On/Off, Press, install, UpdateOffer
//	snapshot         JPEG (+ snapshot/info,        ota/<t>/chunk/<o> bundle bytes
//	                 snapshot/small)               ota/<t>/abort     empty
//	status           Online/Offline (Last Will)    clips/<id>/want   ClipWant JSON
//	health           Health JSON                   clips/<id>/done   ClipDone JSON
//	motion, privacy/state, chime/state   On/Off
//	clip             clip metadata JSON
//	diagnostics      Diagnostics JSON
//	update/state     UpdateState JSON  (Home Assistant's update entity: its keys only)
//	update/status    UpdateStatus JSON (the whole update status; the entity's attributes)
//	ota/<t>/ack      UpdateAck JSON
//	clips/<id>/manifest, clips/<id>/chunk/<n>   ClipManifest JSON, MP4 bytes
//
// Home Assistant's topics, outside the base:
//
//	<discovery_prefix>/device/<id>/config                   DeviceDiscoveryTopic (package hass builds the payload)
//	<discovery_prefix>/<platform>/<id>/<component>/config   EntityDiscoveryTopic (single-entity mode)
//	homeassistant/status                                    DefaultBirthTopic: Online when Home Assistant starts
//
// A payload type here is the wire form only: parsing and checking what
// comes from outside stays with the package that acts on it (command.Parse,
// clipxfer.ParseManifest, delivery.ParseOffer), strict JSON decoding with
// package wire.
package mqttapi
