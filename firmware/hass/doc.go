// Package hass builds the Home Assistant MQTT discovery messages that make a
// doorbell appear in Home Assistant (and openHAB's Home Assistant binding) as
// one device with its entities, with no YAML.
//
// It only builds messages; the daemon publishes them (QoS 1, retained as
// Message.Retain says) and publishes the states on the topics Topics returns
// (package mqttapi names every topic and payload; this package decides
// which entity reads which):
//
//	connect, or Home Assistant's birth message (IsBirth)
//	   └─▶ Messages(o): discovery config(s), retained
//	   └─▶ daemon: every state, retained: motion ON/OFF, privacy and chime
//	       ON/OFF (OnOff), update/status + update/state (ota/delivery's
//	       StateMessages or IdleMessages), diagnostics (Diagnostics);
//	       "online" on status is mqttpub's
//	Home Assistant ──<base>/cmd/...──▶ package command ──▶ daemon
//
// # Discovery modes
//
// ModeDevice (the default) publishes one payload on
// <discovery_prefix>/device/<device.id>/config holding the device, the
// origin and every component. ModeSingle publishes one payload per entity on
// <discovery_prefix>/<platform>/<device.id>/<component>/config, for
// consumers that do not read device discovery (older openHAB). Both modes
// give Home Assistant the same discovery ids, so switching is Remove(old
// mode) followed by Messages(new mode); entities keep their unique_id and
// so their entity ids and history.
//
// # Events and motion
//
// The event topic carries ring, long_press, motion_start and motion_end.
// Home Assistant's MQTT event entity rejects an event_type that is not in
// its event_types and logs a warning for every such message, so the event
// entity announces only ring and long_press and its value_template turns
// motion events into "{}", which Home Assistant drops silently. Motion is the
// binary_sensor on <base>/motion instead (retained ON/OFF), so the event
// entity's "last triggered" stays "last rang". Every other field of the
// event JSON (id, seq, at, snapshot, late) becomes an attribute of the
// event; an event delivered from the outbox after an outage has late: true
// and its original at, which automations can check. Home Assistant itself
// ignores retained messages on an event topic, and doorbelld never retains
// events.
//
// # Firmware updates
//
// The update entity reads <base>/update/state, which carries only the keys
// of Home Assistant's update schema (mqttapi.UpdateState): since Home
// Assistant 2024.11 a state message with any other key is a schema
// violation and dropped whole. The rest of the update status (status,
// error) is on <base>/update/status (mqttapi.UpdateStatus), the entity's
// json_attributes_topic, so it still shows in Home Assistant.
//
// # Diagnostics
//
// The diagnostic sensors all read one retained JSON object on
// <base>/diagnostics; publish a Diagnostics value there. Every key is always
// present, null when unknown, which Home Assistant shows as "unknown". Free
// storage is published in bytes and shown in MiB (device_class data_size).
//
// # Device page
//
// Options.ConfigurationURL links the device page to the web app;
// ConfigurationURL computes it from http.listen, and leaves it out when the
// app listens on loopback only (Home Assistant elsewhere could not open it).
package hass
