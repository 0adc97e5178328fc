package hass

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
)

// Discovery modes.
const (
	// ModeDevice publishes one device discovery payload holding every
	// component (Home Assistant 2024.11 and later).
	ModeDevice = "device"
	// ModeSingle publishes one payload per component.
	ModeSingle = "single"
)

// Availability payloads on the status topic (mqttapi's): mqttpub
// publishes them.
const (
	Online  = mqttapi.Online
	Offline = mqttapi.Offline
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
	// SealedSnapshots: privacy.encrypt_snapshots is on, so there is no
	// picture for an image entity: it is not announced (and removed).
	SealedSnapshots bool
	// DoorPIN: a door opener that takes a PIN is configured
	// (gpio.door.line and gpio.door.pin_hash): a lock entity is announced.
	DoorPIN bool
	// Replies are the quick replies' names (audio.replies): a select of
	// them and a button that plays the selected one are announced.
	Replies []string
	// DoublePress: gpio.button.double_press is set, so the event entity
	// announces double_press too.
	DoublePress bool
}

func (o *Options) ensureDefaults() {
	if o.DeviceName == "" {
		o.DeviceName = o.DeviceID
	}
	if o.TopicPrefix == "" {
		o.TopicPrefix = mqttapi.DefaultTopicPrefix
	}
	if o.DiscoveryPrefix == "" {
		o.DiscoveryPrefix = mqttapi.DefaultDiscoveryPrefix
	}
	if o.Model == "" {
		o.Model = "doorbelld"
	}
	if o.Mode == "" {
		o.Mode = ModeDevice
	}
	if o.BirthTopic == "" {
		o.BirthTopic = mqttapi.DefaultBirthTopic
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

// TopicSet is the device's topics.
//
// Deprecated: use mqttapi.Topics; this alias keeps code that embeds a
// hass.TopicSet compiling.
type TopicSet = mqttapi.Topics

// Topics returns the device's topics for o (its TopicPrefix and DeviceID,
// defaults filled in).
func Topics(o Options) mqttapi.Topics {
	o.ensureDefaults()
	return mqttapi.NewTopics(o.TopicPrefix, o.DeviceID)
}

// ImageTopic is the topic the image entity shows: the snapshot, or its
// downscaled copy with o.SmallSnapshot.
func ImageTopic(o Options) string {
	t := Topics(o)
	if o.SmallSnapshot {
		return t.SnapshotSmall
	}
	return t.Snapshot
}

// DiscoveryTopic is where the device discovery payload of o goes (in
// ModeDevice; ModeSingle uses one topic per entity).
func DiscoveryTopic(o Options) string {
	o.ensureDefaults()
	return mqttapi.DeviceDiscoveryTopic(o.DiscoveryPrefix, o.DeviceID)
}

// BirthTopic is where Home Assistant announces itself for o (IsBirth).
func BirthTopic(o Options) string {
	o.ensureDefaults()
	return o.BirthTopic
}

// Message is one MQTT message to publish, at QoS 1.
type Message = mqttapi.Message

// IsBirth reports whether a message is Home Assistant's birth message
// ("online" on the birth topic): Home Assistant has (re)started and the
// daemon should publish Messages and every state again, after a short
// random delay so a house full of devices does not answer at once.
func IsBirth(topic string, payload []byte, o Options) bool {
	o.ensureDefaults()
	return topic == o.BirthTopic && string(bytes.TrimSpace(payload)) == Online
}

// OnOff is the payload of a switch or binary_sensor state
// (mqttapi.OnOff).
func OnOff(on bool) []byte { return mqttapi.OnOff(on) }

// Diagnostics is the JSON on the diagnostics topic, which the diagnostic
// sensors read (mqttapi.Diagnostics).
type Diagnostics = mqttapi.Diagnostics

// ConfigurationURL is the device's configuration_url for Home Assistant
// (the "Visit" link on the device page): the web API on listen, the
// http.listen setting, or "" when Home Assistant on another machine
// cannot reach it there.
//
//	""  or a bad address        → ""  (no web API)
//	127.0.0.1:8080, [::1]:8080,
//	localhost:8080              → ""  (loopback only)
//	192.168.1.5:8080            → http://192.168.1.5:8080/
//	[2001:db8::5]:8080          → http://[2001:db8::5]:8080/
//	doorbell.lan:8080           → http://doorbell.lan:8080/
//	:8080, 0.0.0.0:8080, [::]:8080 → http://<hostname>.local:8080/
//
// An unspecified address listens on every interface, but which of the
// device's addresses Home Assistant can reach is not known here, and a
// DHCP lease may change it; the host name over mDNS (.local, which
// Raspberry Pi OS and Home Assistant OS resolve out of the box) stays
// right, so that is the link. A host name that already has a dot is used
// as it is; without a usable host name there is no link. Link-local
// addresses (169.254.x.x, fe80::) are no link either: a browser cannot use
// them without the interface. hostname is os.Hostname when nil; port 80 is
// left out (443 with https, which serves the app over TLS:
// http.cert_file).
func ConfigurationURL(listen string, https bool, hostname func() (string, error)) string {
	if hostname == nil {
		hostname = os.Hostname
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return ""
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "" // port 0 (a test's free port) is not one to link to
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || ip != nil && ip.IsUnspecified():
		h, err := hostname()
		if err != nil {
			return ""
		}
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !validHostname(h) || h == "localhost" {
			return ""
		}
		if !strings.Contains(h, ".") {
			h += ".local"
		}
		host = h
	case ip != nil && (ip.IsLoopback() || ip.IsLinkLocalUnicast()):
		return ""
	case ip != nil:
		host = ip.String()
	case strings.EqualFold(host, "localhost") || !validHostname(host):
		return ""
	}
	scheme, defaultPort := "http", "80"
	if https {
		scheme, defaultPort = "https", "443"
	}
	if port != defaultPort {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + "/"
}

// validHostname reports whether h is a DNS name: dot-separated labels of
// letters, digits and inner hyphens.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
