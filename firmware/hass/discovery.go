package hass

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
)

// Component ids: stable, part of every unique_id (<device.id>_<component>)
// and of the single-mode discovery topics. Renaming one makes Home
// Assistant see a new entity.
const (
	CompDoorbell         = "doorbell"          // event: ring, long_press
	CompMotion           = "motion"            // binary_sensor
	CompSnapshot         = "snapshot"          // image
	CompPrivacy          = "privacy"           // switch
	CompChime            = "chime"             // switch
	CompSnapshotNow      = "snapshot_now"      // button
	CompTestChime        = "test_chime"        // button
	CompRestart          = "restart"           // button
	CompDeleteRecordings = "delete_recordings" // button
	CompDoor             = "door"              // lock: the door opener, with a PIN
	CompReply            = "reply"             // select: the quick reply to play
	CompPlayReply        = "play_reply"        // button: play the selected quick reply
	CompFirmware         = "firmware"          // update
	CompLastBoot         = "last_boot"         // sensor, diagnostic
	CompCPUTemp          = "cpu_temperature"   // sensor, diagnostic
	CompWiFiSignal       = "wifi_signal"       // sensor, diagnostic
	CompFreeStorage      = "free_storage"      // sensor, diagnostic
	CompClipCount        = "clip_count"        // sensor, diagnostic
	CompDroppedFrames    = "dropped_frames"    // sensor, diagnostic
	CompPartsDown        = "parts_down"        // sensor, diagnostic
	CompLostEdges        = "lost_edges"        // sensor, diagnostic
)

// need is the hardware a component depends on.
type need int

const (
	always need = iota
	camera
	plainSnapshot // a camera whose snapshots are not sealed (privacy.encrypt_snapshots)
	doorPIN       // a door opener that takes a PIN (gpio.door.line and pin_hash)
	replies       // quick replies (audio.replies)
	motion
	chime
)

// component is one entity: its id, platform and platform-specific config.
type component struct {
	id       string
	platform string
	need     need
	config   func(t mqttapi.Topics) obj
}

type obj = map[string]any

// eventTemplate passes the announced types (ring, long_press, and
// double_press when it is on) through and turns every other
// event into "{}", which Home Assistant's event entity ignores silently.
// It uses only == and or, which openHAB's template engine also knows.
func eventTemplate(types []event.Type) string {
	var conds []string
	for _, e := range types {
		conds = append(conds, "value_json.event_type == '"+string(e)+"'")
	}
	return "{% if " + strings.Join(conds, " or ") + " %}{{ value }}{% else %}{}{% endif %}"
}

// diagnostic is a sensor reading key of the diagnostics JSON. A null
// value renders as "None", which Home Assistant's MQTT sensor takes as
// unknown.
func diagnostic(id, name, key string, extra obj) component {
	return diagnosticTemplate(id, name, "{{ value_json."+key+" }}", extra)
}

// diagnosticTemplate is a diagnostic sensor with its own value template.
func diagnosticTemplate(id, name, tpl string, extra obj) component {
	return component{id: id, platform: "sensor", need: always, config: func(t mqttapi.Topics) obj {
		c := obj{
			"name":            name,
			"state_topic":     t.Diagnostics,
			"value_template":  tpl,
			"entity_category": "diagnostic",
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}}
}

// freeStorageTemplate shows free_storage_bytes in MiB (1048576 bytes),
// to a tenth, and a null as "None", which Home Assistant's MQTT sensor
// takes as unknown. It uses only if, is number, / and round, which
// openHAB's template engine also knows.
const freeStorageTemplate = "{% if value_json." + mqttapi.DiagFreeStorage + " is number %}" +
	"{{ (value_json." + mqttapi.DiagFreeStorage + " / 1048576) | round(1) }}{% else %}None{% endif %}"

// components is every entity a doorbell can have, in announcement order.
// o decides the event entity's types and the image entity's topic.
func components(o Options) []component {
	announced := EventTypes(o)
	return []component{
		{CompDoorbell, "event", always, func(t mqttapi.Topics) obj {
			types := make([]string, len(announced))
			for i, e := range announced {
				types[i] = string(e)
			}
			return obj{
				"name":           nil, // the device's name: "Front door", not "Front door Doorbell"
				"device_class":   "doorbell",
				"event_types":    types,
				"state_topic":    t.Event,
				"value_template": eventTemplate(announced),
			}
		}},
		{CompMotion, "binary_sensor", motion, func(t mqttapi.Topics) obj {
			return obj{
				"name":         "Motion",
				"device_class": "motion",
				"state_topic":  t.Motion,
				"payload_on":   mqttapi.On,
				"payload_off":  mqttapi.Off,
			}
		}},
		{CompSnapshot, "image", plainSnapshot, func(t mqttapi.Topics) obj {
			return obj{
				"name":         "Snapshot",
				"image_topic":  ImageTopic(o),
				"content_type": "image/jpeg",
			}
		}},
		{CompPrivacy, "switch", always, func(t mqttapi.Topics) obj {
			return obj{
				"name":          "Privacy mode",
				"icon":          "mdi:eye-off",
				"state_topic":   t.PrivacyState,
				"command_topic": t.Command(mqttapi.CmdPrivacy),
				"payload_on":    mqttapi.On,
				"payload_off":   mqttapi.Off,
			}
		}},
		{CompChime, "switch", chime, func(t mqttapi.Topics) obj {
			return obj{
				"name":            "Chime",
				"icon":            "mdi:bell-ring",
				"entity_category": "config",
				"state_topic":     t.ChimeState,
				"command_topic":   t.Command(mqttapi.CmdChime),
				"payload_on":      mqttapi.On,
				"payload_off":     mqttapi.Off,
			}
		}},
		{CompSnapshotNow, "button", camera, func(t mqttapi.Topics) obj {
			return obj{
				"name":          "Take snapshot",
				"icon":          "mdi:camera",
				"command_topic": t.Command(mqttapi.CmdSnapshot),
				"payload_press": mqttapi.Press,
			}
		}},
		{CompTestChime, "button", chime, func(t mqttapi.Topics) obj {
			return obj{
				"name":            "Test chime",
				"icon":            "mdi:bell-check",
				"entity_category": "config",
				"command_topic":   t.Command(mqttapi.CmdTestChime),
				"payload_press":   mqttapi.Press,
			}
		}},
		{CompDoor, "lock", doorPIN, func(t mqttapi.Topics) obj {
			return obj{
				"name":          "Door",
				"icon":          "mdi:door",
				"command_topic": t.Command(mqttapi.CmdDoor),
				"state_topic":   t.DoorState,
				// Every action sends {"action": ..., "code": ...}: the
				// doorbell opens on "open" with the right PIN and refuses
				// anything else (the door locks itself after the pulse).
				"command_template": `{"action":"{{ value }}","code":"{{ code }}"}`,
				"code_format":      `^\d{4,12}$`,
				"payload_unlock":   "open",
				"payload_open":     "open",
				"payload_lock":     "lock",
				"state_locked":     mqttapi.DoorLocked,
				"state_unlocked":   mqttapi.DoorUnlocked,
			}
		}},
		{CompReply, "select", replies, func(t mqttapi.Topics) obj {
			return obj{
				"name":          "Quick reply",
				"icon":          "mdi:account-voice",
				"command_topic": t.Command(mqttapi.CmdReplySelect),
				"state_topic":   t.ReplySelected,
				"options":       o.Replies,
			}
		}},
		{CompPlayReply, "button", replies, func(t mqttapi.Topics) obj {
			return obj{
				"name":          "Play quick reply",
				"icon":          "mdi:play-speed",
				"command_topic": t.Command(mqttapi.CmdReply),
				"payload_press": mqttapi.Press,
			}
		}},
		{CompDeleteRecordings, "button", camera, func(t mqttapi.Topics) obj {
			return obj{
				"name":            "Delete all recordings",
				"icon":            "mdi:delete-forever",
				"entity_category": "config",
				"command_topic":   t.Command(mqttapi.CmdDeleteRecordings),
				"payload_press":   mqttapi.Press,
			}
		}},
		{CompRestart, "button", always, func(t mqttapi.Topics) obj {
			return obj{
				"name":            "Restart",
				"device_class":    "restart",
				"entity_category": "config",
				"command_topic":   t.Command(mqttapi.CmdRestart),
				"payload_press":   mqttapi.Press,
			}
		}},
		{CompFirmware, "update", always, func(t mqttapi.Topics) obj {
			return obj{
				"name":                  "Firmware",
				"device_class":          "firmware",
				"entity_category":       "config",
				"title":                 "doorbelld",
				"state_topic":           t.UpdateState,  // mqttapi.UpdateState: only the keys Home Assistant accepts
				"json_attributes_topic": t.UpdateStatus, // mqttapi.UpdateStatus: status and error as attributes
				"command_topic":         t.Command(mqttapi.CmdUpdate),
				"payload_install":       mqttapi.InstallPayload,
			}
		}},
		diagnostic(CompLastBoot, "Last boot", mqttapi.DiagLastBoot, obj{"device_class": "timestamp"}),
		diagnostic(CompCPUTemp, "CPU temperature", mqttapi.DiagCPUTemp, obj{
			"device_class": "temperature", "unit_of_measurement": "°C", "state_class": "measurement",
			"suggested_display_precision": 1,
		}),
		diagnostic(CompWiFiSignal, "Wi-Fi signal", mqttapi.DiagWiFiSignal, obj{
			"device_class": "signal_strength", "unit_of_measurement": "dBm", "state_class": "measurement",
		}),
		// In MiB, whole: "11444 MiB" reads better than 12000000000 B, and
		// Home Assistant converts data_size to GiB when the user asks.
		diagnosticTemplate(CompFreeStorage, "Free storage", freeStorageTemplate, obj{
			"device_class": "data_size", "unit_of_measurement": "MiB", "state_class": "measurement",
			"suggested_display_precision": 0, "icon": "mdi:sd",
		}),
		diagnostic(CompClipCount, "Clips", mqttapi.DiagClipCount, obj{
			"state_class": "measurement", "icon": "mdi:filmstrip-box-multiple",
		}),
		diagnostic(CompDroppedFrames, "Dropped frames", mqttapi.DiagDroppedFrames, obj{
			"state_class": "total_increasing", "icon": "mdi:filmstrip-off",
		}),
		diagnostic(CompPartsDown, "Parts down", mqttapi.DiagPartsDown, obj{
			"state_class": "measurement", "icon": "mdi:heart-broken",
		}),
		diagnostic(CompLostEdges, "Lost GPIO edges", mqttapi.DiagLostEdges, obj{
			"state_class": "total_increasing", "icon": "mdi:pulse",
		}),
	}
}

func (o Options) has(n need) bool {
	switch n {
	case camera:
		return !o.NoCamera
	case plainSnapshot:
		return !o.NoCamera && !o.SealedSnapshots
	case doorPIN:
		return o.DoorPIN
	case replies:
		return len(o.Replies) > 0
	case motion:
		return !o.NoMotion
	case chime:
		return !o.NoChime
	}
	return true
}

func (o Options) device() obj {
	d := obj{
		"identifiers":  []string{Manufacturer + "_" + o.DeviceID},
		"name":         o.DeviceName,
		"manufacturer": Manufacturer,
		"model":        o.Model,
	}
	if o.Version != "" {
		d["sw_version"] = o.Version
	}
	if o.ConfigurationURL != "" {
		d["configuration_url"] = o.ConfigurationURL
	}
	return d
}

func (o Options) origin() obj {
	org := obj{"name": Manufacturer}
	if o.Version != "" {
		org["sw_version"] = o.Version
	}
	if o.SupportURL != "" {
		org["support_url"] = o.SupportURL
	}
	return org
}

// entity is c's config with what every entity shares: unique_id,
// availability and QoS.
func (o Options) entity(c component, t mqttapi.Topics) obj {
	e := c.config(t)
	e["unique_id"] = o.DeviceID + "_" + c.id
	e["availability_topic"] = t.Status
	e["payload_available"] = Online
	e["payload_not_available"] = Offline
	e["qos"] = 1
	return e
}

func singleTopic(o Options, c component) string {
	return mqttapi.EntityDiscoveryTopic(o.DiscoveryPrefix, c.platform, o.DeviceID, c.id)
}

// Messages returns the discovery messages for o, all retained. Publish
// them after every connect and whenever IsBirth says Home Assistant
// restarted. In single mode, components of missing hardware get an empty
// payload, which removes them if they were announced before.
func Messages(o Options) []Message {
	o.ensureDefaults()
	t := Topics(o)
	if o.Mode == ModeSingle {
		var msgs []Message
		for _, c := range components(o) {
			m := Message{Topic: singleTopic(o, c), Payload: []byte{}, Retain: true}
			if o.has(c.need) {
				e := o.entity(c, t)
				e["device"] = o.device()
				e["origin"] = o.origin()
				m.Payload = marshal(e)
			}
			msgs = append(msgs, m)
		}
		return msgs
	}
	comps := obj{}
	for _, c := range components(o) {
		if !o.has(c.need) {
			continue // omitted from the device payload: Home Assistant removes it
		}
		e := o.entity(c, t)
		e["platform"] = c.platform
		comps[c.id] = e
	}
	return []Message{{
		Topic:   DiscoveryTopic(o),
		Payload: marshal(obj{"device": o.device(), "origin": o.origin(), "components": comps}),
		Retain:  true,
	}}
}

// Remove returns empty retained messages for every discovery topic of
// either mode, whatever hardware o has: publishing them removes the
// doorbell from Home Assistant. The retained states stay; ClearStates
// returns the messages that remove those.
func Remove(o Options) []Message {
	o.ensureDefaults()
	msgs := []Message{{Topic: DiscoveryTopic(o), Payload: []byte{}, Retain: true}}
	for _, c := range components(o) {
		msgs = append(msgs, Message{Topic: singleTopic(o, c), Payload: []byte{}, Retain: true})
	}
	return msgs
}

// ClearStates returns empty retained messages for the state topics this
// package announces (motion, privacy, chime, update state and status,
// diagnostics). The
// daemon's own retained topics (snapshot, snapshot/info, status, health)
// are the daemon's to clear.
func ClearStates(o Options) []Message {
	t := Topics(o)
	var msgs []Message
	for _, topic := range []string{t.Motion, t.PrivacyState, t.ChimeState, t.UpdateState, t.UpdateStatus, t.Diagnostics} {
		msgs = append(msgs, Message{Topic: topic, Payload: []byte{}, Retain: true})
	}
	return msgs
}

// marshal encodes v compactly, keys sorted (so payloads are stable), with
// < > & left as they are in templates.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("hass: encode discovery payload: " + err.Error()) // only maps, strings, ints
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
