package hass

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/doorbelld/doorbelld/firmware/command"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// Discovery modes.
const (
	// ModeDevice publishes one device discovery payload holding every
	// component (Home Assistant 2024.11 and later).
	ModeDevice = "device"
	// ModeSingle publishes one payload per component.
	ModeSingle = "single"
)

// Availability payloads on the status topic: mqttpub publishes them.
const (
	Online  = mqttpub.Online
	Offline = mqttpub.Offline
)

// Manufacturer and origin name in every discovery payload.
const Manufacturer = "doorbelld"

// EventTypes are the event types the event entity announces: those
// event.Props marks Announce, double_press only with o.DoublePress. ring is
// required for the doorbell device class (from Home Assistant 2027.4).
func EventTypes(o Options) []event.Type { return event.Announced(o.DoublePress) }

// Options say what to announce. Defaults are filled in by every function.
type Options struct {
	DeviceID        string // device.id, 1-64 of [a-z0-9_-]
	DeviceName      string // device.name; default DeviceID
	TopicPrefix     string // mqtt.topic_prefix; default "doorbell"
	DiscoveryPrefix string // mqtt.discovery_prefix; default "homeassistant"
	Version         string // doorbelld version: device and origin sw_version
	Model           string // default "doorbelld"
	// Mode is ModeDevice ("" means ModeDevice) or ModeSingle.
	Mode string
	// SupportURL is the origin's support_url; optional.
	SupportURL string
	// ConfigurationURL links the device page to the web UI; optional,
	// http:// or https://.
	ConfigurationURL string
	// BirthTopic is where Home Assistant announces itself; default
	// "homeassistant/status" (Home Assistant's own default, which does not
	// follow the discovery prefix).
	BirthTopic string
	// Missing hardware: its entities are not announced (and, in single
	// mode, removed).
	NoCamera, NoMotion, NoChime bool
	// SmallSnapshot feeds the image entity from the downscaled copy
	// (snapshot.max_width) instead of the full-size snapshot.
	SmallSnapshot bool
	// DoublePress: gpio.button.double_press is set, so the event entity
	// announces double_press too.
	DoublePress bool
}

func (o *Options) ensureDefaults() {
	if o.DeviceName == "" {
		o.DeviceName = o.DeviceID
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = "doorbell"
	}
	if o.DiscoveryPrefix == "" {
		o.DiscoveryPrefix = "homeassistant"
	}
	if o.Model == "" {
		o.Model = "doorbelld"
	}
	if o.Mode == "" {
		o.Mode = ModeDevice
	}
	if o.BirthTopic == "" {
		o.BirthTopic = "homeassistant/status"
	}
}

// idPattern is what Home Assistant accepts as a node or object id in a
// discovery topic.
var idPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Validate reports every option Home Assistant would reject. The config
// package validates the same keys; this is for callers that build Options
// by hand.
func Validate(o Options) error {
	o.ensureDefaults()
	var errs []error
	if !idPattern.MatchString(o.DeviceID) {
		errs = append(errs, fmt.Errorf("hass: device id %q: want 1 or more of a-z A-Z 0-9 _ -", o.DeviceID))
	}
	for _, p := range []struct{ name, v string }{
		{"topic prefix", o.TopicPrefix}, {"discovery prefix", o.DiscoveryPrefix}, {"birth topic", o.BirthTopic},
	} {
		if !validTopic(p.v) {
			errs = append(errs, fmt.Errorf("hass: %s %q: want UTF-8 topic levels without + # or empty levels", p.name, p.v))
		}
	}
	for _, p := range []struct{ name, v string }{
		{"device name", o.DeviceName}, {"version", o.Version}, {"model", o.Model},
	} {
		if !utf8.ValidString(p.v) {
			errs = append(errs, fmt.Errorf("hass: %s %q: not UTF-8", p.name, p.v))
		}
	}
	if o.Mode != ModeDevice && o.Mode != ModeSingle {
		errs = append(errs, fmt.Errorf("hass: mode %q: want %q or %q", o.Mode, ModeDevice, ModeSingle))
	}
	if u := o.ConfigurationURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		errs = append(errs, fmt.Errorf("hass: configuration url %q: want http:// or https://", u))
	}
	return errors.Join(errs...)
}

// validTopic reports whether s is a topic (or topic prefix) without
// wildcards or empty levels, in UTF-8 as MQTT requires.
func validTopic(s string) bool {
	if s == "" || strings.ContainsAny(s, "+#\x00") || !utf8.ValidString(s) {
		return false
	}
	for _, l := range strings.Split(s, "/") {
		if l == "" {
			return false
		}
	}
	return true
}

// TopicSet are the topics a device's entities read and write.
type TopicSet struct {
	Base         string // <topic_prefix>/<device.id>
	Event        string // event JSON, never retained (the daemon's)
	Snapshot     string // JPEG, retained (the daemon's)
	SnapshotHA   string // what the image entity shows: Snapshot, or its downscaled copy
	Status       string // online / offline, retained, Last Will (mqttpub's)
	Motion       string // ON / OFF, retained
	PrivacyState string // ON / OFF, retained
	ChimeState   string // ON / OFF, retained
	UpdateState  string // UpdateState JSON, retained
	Diagnostics  string // Diagnostics JSON, retained
	Commands     string // subscription filter for every command topic
	Birth        string // Home Assistant's birth message topic
	Discovery    string // the device discovery config topic
}

// Topics returns the topics for o.
func Topics(o Options) TopicSet {
	o.ensureDefaults()
	base := o.TopicPrefix + "/" + o.DeviceID
	return TopicSet{
		Base:         base,
		Event:        base + "/event",
		Snapshot:     base + "/snapshot",
		SnapshotHA:   snapshotHA(base, o.SmallSnapshot),
		Status:       base + "/status",
		Motion:       base + "/motion",
		PrivacyState: base + "/privacy/state",
		ChimeState:   base + "/chime/state",
		UpdateState:  base + "/update/state",
		Diagnostics:  base + "/diagnostics",
		Commands:     command.Filter(base),
		Birth:        o.BirthTopic,
		Discovery:    o.DiscoveryPrefix + "/device/" + o.DeviceID + "/config",
	}
}

func snapshotHA(base string, small bool) string {
	if small {
		return base + "/snapshot/small"
	}
	return base + "/snapshot"
}

// Command returns the command topic of k.
func (t TopicSet) Command(k command.Kind) string { return command.Topic(t.Base, k) }

// Message is one MQTT message to publish, at QoS 1.
type Message struct {
	Topic   string
	Payload []byte
	Retain  bool
}

// IsBirth reports whether a message is Home Assistant's birth message
// ("online" on the birth topic): Home Assistant has (re)started and the
// daemon should publish Messages and every state again, after a short
// random delay so a house full of devices does not answer at once.
func IsBirth(topic string, payload []byte, o Options) bool {
	o.ensureDefaults()
	return topic == o.BirthTopic && string(bytes.TrimSpace(payload)) == Online
}

// OnOff is the payload of a switch or binary_sensor state.
func OnOff(on bool) []byte {
	if on {
		return []byte(command.On)
	}
	return []byte(command.Off)
}

// Diagnostics is the JSON on TopicSet.Diagnostics. A nil field (or a zero
// LastBoot) is published as null: "unknown" in Home Assistant.
type Diagnostics struct {
	LastBoot         time.Time
	CPUTempC         *float64
	WiFiSignalDBm    *int
	FreeStorageBytes *uint64
	ClipCount        *int
	DroppedFrames    *uint64
}

// Diagnostics JSON keys, read by the sensors' value templates.
const (
	keyLastBoot      = "last_boot"
	keyCPUTemp       = "cpu_temp_c"
	keyWiFiSignal    = "wifi_signal_dbm"
	keyFreeStorage   = "free_storage_bytes"
	keyClipCount     = "clip_count"
	keyDroppedFrames = "dropped_frames"
)

// MarshalJSON writes every key, LastBoot in event.TimeLayout (UTC).
func (d Diagnostics) MarshalJSON() ([]byte, error) {
	var boot *string
	if !d.LastBoot.IsZero() {
		s := d.LastBoot.UTC().Format(event.TimeLayout)
		boot = &s
	}
	return json.Marshal(struct {
		LastBoot         *string  `json:"last_boot"`
		CPUTempC         *float64 `json:"cpu_temp_c"`
		WiFiSignalDBm    *int     `json:"wifi_signal_dbm"`
		FreeStorageBytes *uint64  `json:"free_storage_bytes"`
		ClipCount        *int     `json:"clip_count"`
		DroppedFrames    *uint64  `json:"dropped_frames"`
	}{boot, d.CPUTempC, d.WiFiSignalDBm, d.FreeStorageBytes, d.ClipCount, d.DroppedFrames})
}
