package hass

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/command"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/ota/delivery"
)

// The schema below is Home Assistant's MQTT documentation (and the
// voluptuous schemas behind it) encoded as far as a table can: the options
// every MQTT entity shares, then each platform's required and optional
// options and allowed device classes. A key not listed is a typo or an
// option Home Assistant drops.

var commonKeys = set("availability", "availability_mode", "availability_template", "availability_topic",
	"payload_available", "payload_not_available", "device", "origin", "enabled_by_default", "encoding",
	"entity_category", "entity_picture", "icon", "json_attributes_template", "json_attributes_topic", "name",
	"object_id", "default_entity_id", "qos", "unique_id")

type platformSchema struct {
	required [][]string // each inner list: at least one of these keys
	optional map[string]bool
	classes  map[string]bool // allowed device_class values; nil: none allowed
}

var schemas = map[string]platformSchema{
	"event": {
		required: [][]string{{"state_topic"}, {"event_types"}},
		optional: set("device_class", "value_template"),
		classes:  set("button", "doorbell", "motion"),
	},
	"binary_sensor": {
		required: [][]string{{"state_topic"}},
		optional: set("device_class", "expire_after", "force_update", "off_delay", "payload_on", "payload_off", "value_template"),
		classes: set("battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door",
			"gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power",
			"presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"),
	},
	"image": {
		required: [][]string{{"image_topic", "url_topic"}},
		optional: set("content_type", "image_encoding", "url_template"),
	},
	"switch": {
		required: [][]string{{"command_topic"}},
		optional: set("state_topic", "command_template", "device_class", "optimistic", "payload_on", "payload_off",
			"retain", "state_on", "state_off", "value_template"),
		classes: set("outlet", "switch"),
	},
	"lock": {
		required: [][]string{{"command_topic"}},
		optional: set("code_format", "command_template", "optimistic", "payload_lock", "payload_unlock", "payload_open",
			"payload_reset", "retain", "state_jammed", "state_locked", "state_locking", "state_open", "state_opening",
			"state_topic", "state_unlocked", "state_unlocking", "value_template"),
	},
	"select": {
		required: [][]string{{"command_topic"}, {"options"}},
		optional: set("command_template", "optimistic", "retain", "state_topic", "value_template"),
	},
	"button": {
		required: [][]string{{"command_topic"}},
		optional: set("command_template", "device_class", "payload_press", "retain"),
		classes:  set("identify", "restart", "update"),
	},
	"update": {
		optional: set("command_topic", "device_class", "display_precision", "latest_version_template",
			"latest_version_topic", "payload_install", "release_summary", "release_url", "retain", "state_topic",
			"title", "value_template"),
		classes: set("firmware"),
	},
	"sensor": {
		required: [][]string{{"state_topic"}},
		optional: set("device_class", "expire_after", "force_update", "last_reset_value_template", "options",
			"state_class", "suggested_display_precision", "unit_of_measurement", "value_template"),
		classes: set("apparent_power", "aqi", "area", "atmospheric_pressure", "battery", "carbon_dioxide",
			"carbon_monoxide", "current", "data_rate", "data_size", "date", "distance", "duration", "energy",
			"enum", "frequency", "gas", "humidity", "illuminance", "irradiance", "moisture", "monetary", "power",
			"power_factor", "pressure", "signal_strength", "sound_pressure", "speed", "temperature", "timestamp",
			"voltage", "volume", "water", "weight", "wind_speed"),
	},
}

// abbreviations Home Assistant expands; a payload must use either these or
// the full names, and doorbelld uses full names only.
var abbreviations = set("p", "cmps", "o", "dev", "avty", "avty_t", "avty_mode", "avty_tpl", "pl_avail",
	"pl_not_avail", "uniq_id", "obj_id", "def_ent_id", "stat_t", "cmd_t", "cmd_tpl", "val_tpl", "dev_cla",
	"ent_cat", "ic", "pl_on", "pl_off", "pl_prs", "pl_inst", "stat_cla", "unit_of_meas", "sug_dsp_prc",
	"en", "e", "json_attr_t", "json_attr_tpl", "ret", "opt", "stat_on", "stat_off", "exp_aft", "frc_upd",
	"off_dly", "evt_typ", "cont_type", "img_t", "url_t", "url_tpl", "l_ver_t", "l_ver_tpl", "rel_s",
	"rel_u", "tit", "ent_pic", "ids", "mf", "mdl", "sw", "hw", "sn", "cu", "sa", "cns", "url")

// dataSizeUnits are the units Home Assistant accepts for device_class
// data_size (sensor DEVICE_CLASS_UNITS: UnitOfInformation in
// homeassistant/const.py).
var dataSizeUnits = set("bit", "kbit", "Mbit", "Gbit", "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB",
	"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")

var (
	// Home Assistant's discovery topic pattern (discovery.py TOPIC_MATCHER).
	discoveryTopic = regexp.MustCompile(`^(\w+)/(?:([a-zA-Z0-9_-]+)/)?([a-zA-Z0-9_-]+)/config$`)
	entityCategory = set("config", "diagnostic")
	stateClass     = set("measurement", "total", "total_increasing")
)

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// entities returns every entity config in msgs, keyed by discovery topic
// plus component id, with its platform.
type entityConf struct {
	where    string
	platform string
	conf     map[string]any
}

func decodeEntities(t *testing.T, o Options, msgs []Message) []entityConf {
	t.Helper()
	o.ensureDefaults()
	var out []entityConf
	for _, m := range msgs {
		if !m.Retain {
			t.Errorf("%s: discovery must be retained", m.Topic)
		}
		if !strings.HasPrefix(m.Topic, o.DiscoveryPrefix+"/") {
			t.Errorf("%s: not under the discovery prefix %s", m.Topic, o.DiscoveryPrefix)
			continue
		}
		sm := discoveryTopic.FindStringSubmatch(strings.TrimPrefix(m.Topic, o.DiscoveryPrefix+"/"))
		if sm == nil {
			t.Errorf("%s: Home Assistant rejects this discovery topic", m.Topic)
			continue
		}
		if len(m.Payload) == 0 {
			continue
		}
		var p map[string]any
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatalf("%s: %v", m.Topic, err)
		}
		checkDevice(t, m.Topic, p)
		if sm[1] == "device" {
			if sm[2] != "" || sm[3] != o.DeviceID {
				t.Errorf("%s: device topic must be <prefix>/device/<device.id>/config", m.Topic)
			}
			for key := range p {
				if key != "device" && key != "origin" && key != "components" {
					t.Errorf("%s: unexpected top-level key %q", m.Topic, key)
				}
			}
			comps, _ := p["components"].(map[string]any)
			if len(comps) == 0 {
				t.Errorf("%s: no components", m.Topic)
			}
			for id, c := range comps {
				conf := c.(map[string]any)
				if !discoveryTopic.MatchString("x/" + id + "/config") {
					t.Errorf("%s: component id %q is not a valid object id", m.Topic, id)
				}
				plat, _ := conf["platform"].(string)
				if _, ok := conf["device"]; ok {
					t.Errorf("%s: component %s repeats device", m.Topic, id)
				}
				delete(conf, "platform")
				out = append(out, entityConf{m.Topic + "#" + id, plat, conf})
				if conf["unique_id"] != o.DeviceID+"_"+id {
					t.Errorf("%s: unique_id %v, want %s_%s", id, conf["unique_id"], o.DeviceID, id)
				}
			}
			continue
		}
		if sm[2] != o.DeviceID {
			t.Errorf("%s: node id %q, want the device id", m.Topic, sm[2])
		}
		if _, ok := p["platform"]; ok {
			t.Errorf("%s: single-component payload must not carry platform", m.Topic)
		}
		if p["unique_id"] != o.DeviceID+"_"+sm[3] {
			t.Errorf("%s: unique_id %v, want %s_%s", m.Topic, p["unique_id"], o.DeviceID, sm[3])
		}
		out = append(out, entityConf{m.Topic, sm[1], p})
	}
	return out
}

func checkDevice(t *testing.T, where string, p map[string]any) {
	t.Helper()
	dev, ok := p["device"].(map[string]any)
	if !ok {
		t.Errorf("%s: no device", where)
		return
	}
	if ids, _ := dev["identifiers"].([]any); len(ids) == 0 {
		t.Errorf("%s: device needs identifiers", where)
	}
	for _, k := range []string{"name", "manufacturer", "model"} {
		if s, _ := dev[k].(string); s == "" {
			t.Errorf("%s: device %s missing", where, k)
		}
	}
	for k := range dev {
		if !set("identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version",
			"hw_version", "serial_number", "suggested_area", "via_device", "configuration_url")[k] {
			t.Errorf("%s: device key %q", where, k)
		}
	}
	org, ok := p["origin"].(map[string]any)
	if !ok || org["name"] != Manufacturer {
		t.Errorf("%s: origin %v, want name %q", where, p["origin"], Manufacturer)
	}
	for k := range org {
		if !set("name", "sw_version", "support_url")[k] {
			t.Errorf("%s: origin key %q", where, k)
		}
	}
}

func checkEntities(t *testing.T, o Options, ents []entityConf) {
	t.Helper()
	top := Topics(o)
	uids := map[string]string{}
	for _, e := range ents {
		s, ok := schemas[e.platform]
		if !ok {
			t.Errorf("%s: platform %q", e.where, e.platform)
			continue
		}
		for _, alts := range s.required {
			if !slices.ContainsFunc(alts, func(k string) bool { _, ok := e.conf[k]; return ok }) {
				t.Errorf("%s: %s needs %s", e.where, e.platform, strings.Join(alts, " or "))
			}
		}
		for k, v := range e.conf {
			if abbreviations[k] {
				t.Errorf("%s: abbreviated key %q (full names only)", e.where, k)
			}
			if !commonKeys[k] && !s.optional[k] && !slices.ContainsFunc(s.required, func(a []string) bool { return slices.Contains(a, k) }) {
				t.Errorf("%s: %s has no option %q", e.where, e.platform, k)
			}
			if strings.HasSuffix(k, "_topic") {
				topic, _ := v.(string)
				want := top.Base + "/"
				if strings.HasPrefix(k, "command") {
					want = top.Base + "/cmd/"
				}
				if !strings.HasPrefix(topic, want) || !validTopic(topic) {
					t.Errorf("%s: %s %q not under %s", e.where, k, topic, want)
				}
			}
		}
		uid, _ := e.conf["unique_id"].(string)
		if uid == "" {
			t.Errorf("%s: no unique_id", e.where)
		} else if prev, dup := uids[uid]; dup {
			t.Errorf("%s: unique_id %s also in %s", e.where, uid, prev)
		}
		uids[uid] = e.where
		if dc, ok := e.conf["device_class"].(string); ok && !s.classes[dc] {
			t.Errorf("%s: %s has no device class %q", e.where, e.platform, dc)
		}
		if c, ok := e.conf["entity_category"]; ok && !entityCategory[c.(string)] {
			t.Errorf("%s: entity_category %v", e.where, c)
		}
		if c, ok := e.conf["state_class"]; ok && !stateClass[c.(string)] {
			t.Errorf("%s: state_class %v", e.where, c)
		}
		if e.conf["device_class"] == "data_size" && !dataSizeUnits[fmt.Sprint(e.conf["unit_of_measurement"])] {
			t.Errorf("%s: data_size in %v, which Home Assistant does not know", e.where, e.conf["unit_of_measurement"])
		}
		if e.conf["availability_topic"] != top.Status {
			t.Errorf("%s: availability_topic %v, want %s", e.where, e.conf["availability_topic"], top.Status)
		}
		if _, ok := e.conf["name"]; !ok {
			t.Errorf("%s: no name (use null for the device's name)", e.where)
		}
		if q, ok := e.conf["qos"].(float64); !ok || q != 1 {
			t.Errorf("%s: qos %v, want 1", e.where, e.conf["qos"])
		}
		checkCommands(t, top, e)
		if e.platform == "event" {
			checkEvent(t, top, e)
		}
	}
}

// checkCommands: every payload Home Assistant will send is one package
// command accepts on that topic.
func checkCommands(t *testing.T, top TopicSet, e entityConf) {
	t.Helper()
	ct, ok := e.conf["command_topic"].(string)
	if !ok {
		return
	}
	for _, k := range []string{"payload_on", "payload_off", "payload_press", "payload_install"} {
		p, ok := e.conf[k].(string)
		if !ok {
			continue
		}
		if _, err := command.Parse(ct, []byte(p), false, top.Base); err != nil {
			t.Errorf("%s: Home Assistant would send %s=%q on %s: %v", e.where, k, p, ct, err)
		}
	}
}

func checkEvent(t *testing.T, top TopicSet, e entityConf) {
	t.Helper()
	if e.conf["state_topic"] != top.Event {
		t.Errorf("%s: state_topic %v, want the event topic %s", e.where, e.conf["state_topic"], top.Event)
	}
	types, _ := e.conf["event_types"].([]any)
	if !slices.Contains(types, any(string(event.Ring))) {
		t.Errorf("%s: event_types %v lacks ring (required for device_class doorbell)", e.where, types)
	}
	tpl, _ := e.conf["value_template"].(string)
	for _, et := range types {
		if !strings.Contains(tpl, "'"+et.(string)+"'") {
			t.Errorf("%s: value_template does not pass %v: %s", e.where, et, tpl)
		}
	}
	for _, et := range []event.Type{event.MotionStart, event.MotionEnd} {
		if slices.Contains(types, any(string(et))) || strings.Contains(tpl, string(et)) {
			t.Errorf("%s: %s must not reach the event entity", e.where, et)
		}
	}
	if !strings.Contains(tpl, "{% else %}{}{% endif %}") {
		t.Errorf("%s: other events must render to {}: %s", e.where, tpl)
	}
}

func TestSchema(t *testing.T) {
	for _, mode := range []string{ModeDevice, ModeSingle} {
		for _, minimal := range []bool{false, true} {
			o := testOptions()
			o.Mode = mode
			o.NoCamera, o.NoMotion, o.NoChime = minimal, minimal, minimal
			t.Run(mode+map[bool]string{true: "_minimal"}[minimal], func(t *testing.T) {
				msgs := Messages(o)
				ents := decodeEntities(t, o, msgs)
				checkEntities(t, o, ents)
				want := len(components(o))
				if minimal {
					want -= 6 // image, snapshot button, delete recordings, motion, chime switch, test chime
				}
				if len(ents) != want {
					t.Errorf("%d entities, want %d", len(ents), want)
				}
			})
		}
	}
}

// Both modes announce the same entities with the same configs, so
// switching modes keeps every entity.
func TestModesAgree(t *testing.T) {
	o := testOptions()
	dev := decodeEntities(t, o, Messages(o))
	o.Mode = ModeSingle
	single := decodeEntities(t, o, Messages(o))
	byUID := map[string]entityConf{}
	for _, e := range single {
		delete(e.conf, "device")
		delete(e.conf, "origin")
		byUID[e.conf["unique_id"].(string)] = e
	}
	if len(dev) != len(single) {
		t.Fatalf("device mode %d entities, single mode %d", len(dev), len(single))
	}
	for _, d := range dev {
		s, ok := byUID[d.conf["unique_id"].(string)]
		if !ok || s.platform != d.platform {
			t.Errorf("%s missing in single mode", d.where)
			continue
		}
		a, _ := json.Marshal(d.conf)
		b, _ := json.Marshal(s.conf)
		if string(a) != string(b) {
			t.Errorf("%s differs:\ndevice %s\nsingle %s", d.where, a, b)
		}
	}
}

// The diagnostic sensors read keys Diagnostics always writes, one sensor
// per key.
func TestDiagnosticsMatchTemplates(t *testing.T) {
	temp, rssi, free, clips, dropped, down, lost := 48.3, -61, uint64(12_000_000_000), 7, uint64(3), 1, uint64(2)
	b, err := json.Marshal(Diagnostics{
		LastBoot: time.Date(2026, 11, 26, 19, 38, 19, 123e6, time.FixedZone("CET", 3600)),
		CPUTempC: &temp, WiFiSignalDBm: &rssi, FreeStorageBytes: &free, ClipCount: &clips, DroppedFrames: &dropped,
		PartsDown: &down, LostEdges: &lost,
	})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"last_boot":"2026-11-26T18:38:19.123Z","cpu_temp_c":48.3,"wifi_signal_dbm":-61,"free_storage_bytes":12000000000,"clip_count":7,"dropped_frames":3,"parts_down":1,"lost_edges":2}`
	if string(b) != want {
		t.Errorf("diagnostics = %s\nwant          %s", b, want)
	}
	empty, _ := json.Marshal(Diagnostics{})
	var keys map[string]any
	if err := json.Unmarshal(empty, &keys); err != nil {
		t.Fatal(err)
	}
	for k, v := range keys {
		if v != nil {
			t.Errorf("empty diagnostics %s = %v, want null", k, v)
		}
	}
	// A sensor shows a key as it is, or (free storage) converted with a
	// null shown as None, which Home Assistant's MQTT sensor takes as
	// unknown.
	plain := regexp.MustCompile(`^\{\{ value_json\.([a-z_]+) \}\}$`)
	converted := regexp.MustCompile(`^\{% if value_json\.([a-z_]+) is number %\}\{\{ \(value_json\.([a-z_]+) / 1048576\) \| round\(1\) \}\}\{% else %\}None\{% endif %\}$`)
	o := testOptions()
	read := map[string]string{}
	for _, e := range decodeEntities(t, o, Messages(o)) {
		if e.conf["state_topic"] != Topics(o).Diagnostics {
			continue
		}
		tpl := e.conf["value_template"].(string)
		key := ""
		if m := plain.FindStringSubmatch(tpl); m != nil {
			key = m[1]
		} else if m := converted.FindStringSubmatch(tpl); m != nil && m[1] == m[2] && e.conf["unit_of_measurement"] == "MiB" {
			key = m[1]
		} else {
			t.Errorf("%s: template %s", e.where, tpl)
			continue
		}
		if _, ok := keys[key]; !ok {
			t.Errorf("%s reads %s, which Diagnostics does not write", e.where, key)
		}
		if prev, dup := read[key]; dup {
			t.Errorf("%s and %s both read %s", prev, e.where, key)
		}
		read[key] = e.where
	}
	if len(read) != len(keys) {
		t.Errorf("%d diagnostic sensors for %d keys", len(read), len(keys))
	}
}

// updateSchema is Home Assistant's MQTT_JSON_UPDATE_SCHEMA
// (homeassistant/components/mqtt/update.py, since 2024.11, PR #129468):
//
//	MQTT_JSON_UPDATE_SCHEMA = vol.Schema({
//	    vol.Optional("installed_version"): cv.string,
//	    vol.Optional("latest_version"): cv.string,
//	    vol.Optional("title"): cv.string,
//	    vol.Optional("release_summary"): cv.string,
//	    vol.Optional("release_url"): cv.url,
//	    vol.Optional("entity_picture"): cv.url,
//	    vol.Optional("in_progress"): cv.boolean,
//	    vol.Optional("update_percentage"): vol.Any(vol.Range(min=0, max=100), None),
//	})
//
// A plain vol.Schema refuses extra keys: a state message with any other
// key is logged as "Schema violation" and dropped whole, so the entity
// keeps its old state (unknown, when every message has the key). cv.string
// refuses null; a URL must be http(s).
var updateSchema = map[string]func(v any) bool{
	"installed_version": isString,
	"latest_version":    isString,
	"title":             isString,
	"release_summary":   isString,
	"release_url":       isURL,
	"entity_picture":    isURL,
	"in_progress":       func(v any) bool { _, ok := v.(bool); return ok },
	"update_percentage": func(v any) bool { f, ok := v.(float64); return v == nil || ok && f >= 0 && f <= 100 },
}

func isString(v any) bool { _, ok := v.(string); return ok }

func isURL(v any) bool {
	s, ok := v.(string)
	return ok && (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://"))
}

// attributesBlocked are the attribute names Home Assistant drops from a
// json_attributes_topic (MQTT_ATTRIBUTES_BLOCKED in
// homeassistant/components/mqtt/entity.py).
var attributesBlocked = set("assumed_state", "available", "context_recent_time", "device_class", "device_info",
	"entity_category", "entity_picture", "entity_registry_enabled_default", "extra_state_attributes",
	"force_update", "friendly_name", "icon", "name", "should_poll", "state", "supported_features", "unique_id",
	"unit_of_measurement")

// updateViolations lists why Home Assistant would drop payload as an
// update state; none when it takes it.
func updateViolations(payload []byte) []string {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return []string{err.Error()}
	}
	var bad []string
	for k, v := range m {
		ok, known := updateSchema[k]
		switch {
		case !known:
			bad = append(bad, fmt.Sprintf("key %q", k))
		case !ok(v):
			bad = append(bad, fmt.Sprintf("%s = %v", k, v))
		}
	}
	return bad
}

// checkUpdateState fails unless payload passes updateSchema and says the
// installed version.
func checkUpdateState(t *testing.T, what string, payload []byte) {
	t.Helper()
	for _, v := range updateViolations(payload) {
		t.Errorf("%s: %s: %s: Home Assistant drops the whole message (schema violation)", what, payload, v)
	}
	if !bytes.Contains(payload, []byte(`"installed_version":"`)) {
		t.Errorf("%s: %s: no installed_version", what, payload)
	}
}

// Every update state the device can publish passes Home Assistant's
// schema, and the update entity's attributes (update/status) are not
// among the names Home Assistant drops.
func TestUpdateStateSchema(t *testing.T) {
	top := Topics(testOptions())
	var ents []entityConf
	for _, e := range decodeEntities(t, testOptions(), Messages(testOptions())) {
		if e.platform == "update" {
			ents = append(ents, e)
		}
	}
	if len(ents) != 1 || ents[0].conf["state_topic"] != top.UpdateState || ents[0].conf["json_attributes_topic"] != top.UpdateStatus {
		t.Fatalf("update entities %+v: want one reading %s, attributes from %s", ents, top.UpdateState, top.UpdateStatus)
	}

	pct := func(p float64) *float64 { return &p }
	states := map[string]delivery.State{
		"idle":        delivery.IdleState("v1.4.0"),
		"available":   {InstalledVersion: "1.4.0", LatestVersion: "1.5.0", State: delivery.StateAvailable},
		"downloading": {InstalledVersion: "1.4.0", LatestVersion: "1.5.0", InProgress: true, UpdatePercentage: pct(42.5), State: delivery.StateDownloading},
		"restarting":  {InstalledVersion: "1.4.0", LatestVersion: "1.5.0", InProgress: true, UpdatePercentage: pct(100), State: delivery.StateRestarting},
		"confirming":  {InstalledVersion: "1.5.0", LatestVersion: "1.5.0", InProgress: true, State: delivery.StateConfirming},
		"rolled back": {InstalledVersion: "1.4.0", LatestVersion: "1.4.0", State: delivery.StateRolledBack, Error: "1.5.0 did not confirm"},
		"failed":      {InstalledVersion: "1.4.0", LatestVersion: "1.4.0", State: delivery.StateFailed, Error: "bad signature"},
		"zero":        {},
	}
	for name, s := range states {
		msgs := delivery.StateMessages(top, s)
		if len(msgs) != 2 || msgs[0].Topic != top.UpdateStatus || msgs[1].Topic != top.UpdateState || !msgs[0].Retain || !msgs[1].Retain {
			t.Fatalf("%s: StateMessages = %+v: want update/status, then update/state, retained", name, msgs)
		}
		checkUpdateState(t, name, msgs[1].Payload)
		var status map[string]any
		if err := json.Unmarshal(msgs[0].Payload, &status); err != nil {
			t.Fatal(err)
		}
		for k := range status {
			if attributesBlocked[k] {
				t.Errorf("%s: update/status key %q: Home Assistant drops it from the attributes", name, k)
			}
		}
		var ha map[string]any
		json.Unmarshal(msgs[1].Payload, &ha)
		for k, v := range ha {
			if fmt.Sprint(status[k]) != fmt.Sprint(v) {
				t.Errorf("%s: %s is %v in update/state, %v in update/status", name, k, v, status[k])
			}
		}
		if status["status"] != s.State || status["error"] != s.Error {
			t.Errorf("%s: update/status %s lacks status %q and error %q", name, msgs[0].Payload, s.State, s.Error)
		}
	}
	idle := delivery.IdleMessages(top, "v1.4.0")
	if string(idle[1].Payload) != `{"installed_version":"1.4.0","latest_version":"1.4.0","in_progress":false,"update_percentage":null}` {
		t.Errorf("idle update/state = %s", idle[1].Payload)
	}
	if string(idle[0].Payload) != `{"installed_version":"1.4.0","latest_version":"1.4.0","in_progress":false,"update_percentage":null,"status":"idle","error":""}` {
		t.Errorf("idle update/status = %s", idle[0].Payload)
	}
}

// The rule itself: what it lets through and what it refuses, as Home
// Assistant does.
func TestUpdateSchemaRule(t *testing.T) {
	for _, p := range []string{
		`{"installed_version":"1.4.0"}`,
		`{"installed_version":"1.4.0","latest_version":"1.5.0","in_progress":true,"update_percentage":null}`,
		`{"installed_version":"1.4.0","title":"x","release_url":"https://h/r","update_percentage":100}`,
	} {
		checkUpdateState(t, "allowed", []byte(p))
	}
	for _, p := range []string{
		`{"installed_version":"1.4.0","state":"idle"}`,
		`{"installed_version":"1.4.0","error":""}`,
		`{"installed_version":null}`,
		`{"installed_version":"1.4.0","update_percentage":101}`,
		`{"installed_version":"1.4.0","release_url":"ftp://h"}`,
	} {
		if len(updateViolations([]byte(p))) == 0 {
			t.Errorf("%s passes the schema; Home Assistant refuses it", p)
		}
	}
}

func TestRemoveCoversEveryConfigTopic(t *testing.T) {
	o := testOptions()
	rm := map[string]bool{}
	for _, m := range Remove(o) {
		if len(m.Payload) != 0 || !m.Retain {
			t.Errorf("%s: remove must be an empty retained message", m.Topic)
		}
		rm[m.Topic] = true
	}
	for _, mode := range []string{ModeDevice, ModeSingle} {
		o.Mode = mode
		for _, m := range Messages(o) {
			if !rm[m.Topic] {
				t.Errorf("Remove misses %s", m.Topic)
			}
		}
	}
	for _, m := range ClearStates(o) {
		if len(m.Payload) != 0 || !m.Retain || !strings.HasPrefix(m.Topic, Topics(o).Base+"/") {
			t.Errorf("ClearStates: %+v", m)
		}
	}
}

func TestIsBirth(t *testing.T) {
	o := testOptions()
	tests := []struct {
		topic, payload string
		o              Options
		want           bool
	}{
		{"homeassistant/status", "online", o, true},
		{"homeassistant/status", "online\n", o, true},
		{"homeassistant/status", "offline", o, false},
		{"homeassistant/status", "", o, false},
		{"ha/status", "online", o, false},
		{"ha/status", "online", Options{DeviceID: "x", BirthTopic: "ha/status"}, true},
		{"homeassistant/status", "online", Options{DeviceID: "x", BirthTopic: "ha/status"}, false},
	}
	for _, tt := range tests {
		if got := IsBirth(tt.topic, []byte(tt.payload), tt.o); got != tt.want {
			t.Errorf("IsBirth(%q, %q, birth %q) = %v", tt.topic, tt.payload, tt.o.BirthTopic, got)
		}
	}
}

func TestTopics(t *testing.T) {
	o := Options{DeviceID: "front", TopicPrefix: "home/bells", DiscoveryPrefix: "ha"}
	got := Topics(o)
	if got != mqttapi.NewTopics("home/bells", "front") || got.Base != "home/bells/front" {
		t.Errorf("Topics = %+v", got)
	}
	if ImageTopic(o) != "home/bells/front/snapshot" || BirthTopic(o) != "homeassistant/status" || DiscoveryTopic(o) != "ha/device/front/config" {
		t.Errorf("ImageTopic %s, BirthTopic %s, DiscoveryTopic %s", ImageTopic(o), BirthTopic(o), DiscoveryTopic(o))
	}
	o.SmallSnapshot, o.BirthTopic = true, "ha/status"
	if ImageTopic(o) != "home/bells/front/snapshot/small" || BirthTopic(o) != "ha/status" {
		t.Errorf("ImageTopic %s, BirthTopic %s", ImageTopic(o), BirthTopic(o))
	}
	if c := got.Command(command.Privacy); c != "home/bells/front/cmd/privacy" {
		t.Errorf("Command(privacy) = %s", c)
	}
	if string(OnOff(true)) != "ON" || string(OnOff(false)) != "OFF" {
		t.Error("OnOff")
	}
}

func TestConfigurationURL(t *testing.T) {
	host := func(h string, err error) func() (string, error) { return func() (string, error) { return h, err } }
	tests := []struct {
		listen   string
		hostname func() (string, error)
		want     string
	}{
		{"", host("pi", nil), ""},
		{"nonsense", host("pi", nil), ""},
		{"127.0.0.1:8080", host("pi", nil), ""},
		{"127.1.2.3:8080", host("pi", nil), ""},
		{"[::1]:8080", host("pi", nil), ""},
		{"localhost:8080", host("pi", nil), ""},
		{"LOCALHOST:8080", host("pi", nil), ""},
		{"169.254.10.1:8080", host("pi", nil), ""},
		{"[fe80::1]:8080", host("pi", nil), ""},
		{"192.168.1.5:8080", host("pi", nil), "http://192.168.1.5:8080/"},
		{"192.168.1.5:80", host("pi", nil), "http://192.168.1.5/"},
		{"[2001:db8::5]:8080", host("pi", nil), "http://[2001:db8::5]:8080/"},
		{"[2001:db8::5]:80", host("pi", nil), "http://[2001:db8::5]/"},
		{"doorbell.lan:8080", host("pi", nil), "http://doorbell.lan:8080/"},
		{"bad_host:8080", host("pi", nil), ""},
		{":8080", host("frontdoor", nil), "http://frontdoor.local:8080/"},
		{"0.0.0.0:8080", host("FrontDoor", nil), "http://frontdoor.local:8080/"},
		{"[::]:80", host("frontdoor", nil), "http://frontdoor.local/"},
		{":8080", host("frontdoor.home.arpa", nil), "http://frontdoor.home.arpa:8080/"},
		{":8080", host("frontdoor.home.arpa.", nil), "http://frontdoor.home.arpa:8080/"},
		{":8080", host("localhost", nil), ""},
		{":8080", host("", nil), ""},
		{":8080", host("front door", nil), ""},
		{":8080", host("pi", errors.New("no hostname")), ""},
		{":0", host("pi", nil), ""},
		{":http", host("pi", nil), ""},
		{"192.168.1.5:99999", host("pi", nil), ""},
	}
	for _, tt := range tests {
		got := ConfigurationURL(tt.listen, false, tt.hostname)
		if got != tt.want {
			t.Errorf("ConfigurationURL(%q) = %q, want %q", tt.listen, got, tt.want)
		}
		if got != "" {
			if err := Validate(Options{DeviceID: "x", ConfigurationURL: got}); err != nil {
				t.Errorf("ConfigurationURL(%q) = %q: %v", tt.listen, got, err)
			}
		}
	}
	if got, want := ConfigurationURL("192.168.1.5:8443", true, nil), "https://192.168.1.5:8443/"; got != want {
		t.Errorf("with TLS: %q, want %q", got, want)
	}
	if got, want := ConfigurationURL("192.168.1.5:443", true, nil), "https://192.168.1.5/"; got != want {
		t.Errorf("with TLS on 443: %q, want %q", got, want)
	}
	if got := ConfigurationURL("127.0.0.1:8080", false, nil); got != "" {
		t.Errorf("ConfigurationURL with os.Hostname = %q", got)
	}
}

func TestValidate(t *testing.T) {
	if err := Validate(testOptions()); err != nil {
		t.Fatal(err)
	}
	bad := Options{DeviceID: "front door", TopicPrefix: "a/+", DiscoveryPrefix: "ha//x", Mode: "both", ConfigurationURL: "ftp://x"}
	err := Validate(bad)
	for _, s := range []string{"device id", "topic prefix", "discovery prefix", "mode", "configuration url"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("Validate does not name %s: %v", s, err)
		}
	}
}

func TestSmallSnapshotFeedsTheImageEntity(t *testing.T) {
	o := Options{DeviceID: "front", SmallSnapshot: true}
	var found bool
	for _, m := range Messages(o) {
		if bytes.Contains(m.Payload, []byte(`"image_topic":"doorbell/front/snapshot/small"`)) {
			found = true
		}
	}
	if !found {
		t.Error("with SmallSnapshot the image entity does not read snapshot/small")
	}
}

// TestSealedSnapshots: with privacy.encrypt_snapshots there is no image
// entity (its picture would be ciphertext); in single mode it is removed.
func TestSealedSnapshots(t *testing.T) {
	for _, mode := range []string{ModeDevice, ModeSingle} {
		o := testOptions()
		o.Mode = mode
		o.SealedSnapshots = true
		ents := decodeEntities(t, o, Messages(o))
		for _, e := range ents {
			if e.platform == "image" {
				t.Fatalf("%s: image entity announced with sealed snapshots", mode)
			}
		}
		if got, want := len(ents), len(components(o))-1; got != want {
			t.Errorf("%s: %d entities, want %d", mode, got, want)
		}
	}
}
