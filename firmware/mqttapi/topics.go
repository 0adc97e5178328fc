package mqttapi

import (
	"slices"
	"strconv"
	"strings"
)

// Defaults of the topic settings (mqtt.topic_prefix, mqtt.discovery_prefix)
// and Home Assistant's own birth topic.
const (
	DefaultTopicPrefix     = "doorbell"
	DefaultDiscoveryPrefix = "homeassistant"
	// DefaultBirthTopic is where Home Assistant announces itself (Online
	// when it has started). It is Home Assistant's default and does not
	// follow the discovery prefix.
	DefaultBirthTopic = "homeassistant/status"
)

// Topics are every topic of one doorbell under its base,
// <mqtt.topic_prefix>/<device.id>. The fields are topics to publish to or
// subscribe to as they are; the ones marked filter hold + wildcards and are
// only for subscribing. Topics that carry an id (a command, a clip, an
// update transfer) come from the methods. README's topic table lists each
// one, and a test holds the two together.
type Topics struct {
	Base string // <prefix>/<id>

	Event         string // Event JSON, never retained
	Snapshot      string // JPEG, retained
	SnapshotInfo  string // SnapshotInfo JSON, retained, just before each Snapshot
	SnapshotSmall string // JPEG at most snapshot.max_width wide, retained
	// SnapshotSealed is the snapshot JPEG encrypted with age for
	// privacy.recipients (privacy.encrypt_snapshots), retained; then
	// nothing goes on Snapshot and SnapshotSmall.
	SnapshotSealed string
	Audit          string // audit.Entry JSON, one per audited access, QoS 1, never retained
	DoorState      string // DoorLocked / DoorUnlocked, retained (with gpio.door.line)
	ReplySelected  string // the quick reply Press plays (CmdReplySelect), retained (with audio.replies)
	Status         string // Online / Offline, retained; the Last Will
	Health         string // Health JSON, retained
	Motion         string // On / Off, retained
	PrivacyState   string // On / Off, retained
	ChimeState     string // On / Off, retained
	Clip           string // the newest clip's metadata JSON, retained
	Diagnostics    string // Diagnostics JSON, retained
	UpdateState    string // UpdateState JSON (Home Assistant's update entity), retained
	UpdateStatus   string // UpdateStatus JSON (the whole update status), retained

	Commands      string // filter: every command topic (Command)
	OTAChunks     string // filter: every update transfer's chunks (OTAChunkTopic)
	OTAAborts     string // filter: every update transfer's abort (OTAAbortTopic)
	ClipManifests string // filter: every clip's manifest (ClipManifestTopic)
	ClipWants     string // filter: every clip's wants (ClipWantTopic)
	ClipDones     string // filter: every clip's done (ClipDoneTopic)
}

// Levels under the base that group topics with an id.
const (
	cmdLevel   = "cmd"
	otaLevel   = "ota"
	clipsLevel = "clips"
)

// NewTopics returns the topics of device deviceID under prefix
// (mqtt.topic_prefix and device.id, both already valid).
func NewTopics(prefix, deviceID string) Topics { return TopicsUnder(prefix + "/" + deviceID) }

// TopicsUnder returns the topics under base, <prefix>/<id>.
func TopicsUnder(base string) Topics {
	return Topics{
		Base:           base,
		Event:          base + "/event",
		Snapshot:       base + "/snapshot",
		SnapshotInfo:   base + "/snapshot/info",
		SnapshotSmall:  base + "/snapshot/small",
		SnapshotSealed: base + "/snapshot/age",
		Audit:          base + "/audit",
		DoorState:      base + "/door/state",
		ReplySelected:  base + "/reply/selected",
		Status:         base + "/status",
		Health:         base + "/health",
		Motion:         base + "/motion",
		PrivacyState:   base + "/privacy/state",
		ChimeState:     base + "/chime/state",
		Clip:           base + "/clip",
		Diagnostics:    base + "/diagnostics",
		UpdateState:    base + "/update/state",
		UpdateStatus:   base + "/update/status",

		Commands:      base + "/" + cmdLevel + "/+",
		OTAChunks:     base + "/" + otaLevel + "/+/" + string(OTAKindChunk) + "/+",
		OTAAborts:     base + "/" + otaLevel + "/+/" + string(OTAKindAbort),
		ClipManifests: base + "/" + clipsLevel + "/+/" + string(ClipKindManifest),
		ClipWants:     base + "/" + clipsLevel + "/+/" + string(ClipKindWant),
		ClipDones:     base + "/" + clipsLevel + "/+/" + string(ClipKindDone),
	}
}

// Command is the topic of command c: <base>/cmd/<c>.
func (t Topics) Command(c Command) string { return t.Base + "/" + cmdLevel + "/" + string(c) }

// ParseCommand returns the command name of a topic under <base>/cmd/
// (the last level; it may be one this version does not know). ok is false
// for any other topic.
func (t Topics) ParseCommand(topic string) (c Command, ok bool) {
	name, ok := strings.CutPrefix(topic, t.Base+"/"+cmdLevel+"/")
	if !ok || t.Base == "" {
		return "", false
	}
	return Command(name), true
}

// OTAKind is what an update transfer topic carries: its last level but
// one (chunk) or its last level.
type OTAKind string

// Update transfer topic kinds.
const (
	OTAKindChunk OTAKind = "chunk" // raw bundle bytes, to the device
	OTAKindAck   OTAKind = "ack"   // UpdateAck JSON, from the device
	OTAKindAbort OTAKind = "abort" // empty, to the device: the sender gives up
)

// OTAChunkTopic is where the bundle bytes at offset of transfer id go:
// <base>/ota/<id>/chunk/<offset>.
func (t Topics) OTAChunkTopic(id string, offset int64) string {
	return t.otaTopic(id, OTAKindChunk) + "/" + strconv.FormatInt(offset, 10)
}

// OTAAckTopic is where the device acknowledges transfer id:
// <base>/ota/<id>/ack.
func (t Topics) OTAAckTopic(id string) string { return t.otaTopic(id, OTAKindAck) }

// OTAAbortTopic is where the sender cancels transfer id:
// <base>/ota/<id>/abort.
func (t Topics) OTAAbortTopic(id string) string { return t.otaTopic(id, OTAKindAbort) }

func (t Topics) otaTopic(id string, k OTAKind) string {
	return t.Base + "/" + otaLevel + "/" + id + "/" + string(k)
}

// ParseOTA splits an update transfer topic: the transfer id, the kind and,
// for a chunk, the offset as written (not checked). ok is false for a
// topic of another form.
func (t Topics) ParseOTA(topic string) (id string, k OTAKind, offset string, ok bool) {
	id, kind, offset, ok := t.parseTransfer(topic, otaLevel, string(OTAKindChunk), string(OTAKindAck), string(OTAKindAbort))
	return id, OTAKind(kind), offset, ok
}

// parseTransfer splits <base>/<level>/<id>/<kind> (kind one of single)
// and <base>/<level>/<id>/<chunk>/<n>: the id, the kind and n as written.
func (t Topics) parseTransfer(topic, level, chunk string, single ...string) (id, kind, n string, ok bool) {
	rest, found := strings.CutPrefix(topic, t.Base+"/"+level+"/")
	if !found || t.Base == "" {
		return "", "", "", false
	}
	p := strings.Split(rest, "/")
	switch {
	case len(p) == 2 && p[0] != "" && slices.Contains(single, p[1]):
		return p[0], p[1], "", true
	case len(p) == 3 && p[0] != "" && p[1] == chunk && p[2] != "":
		return p[0], chunk, p[2], true
	}
	return "", "", "", false
}

// ClipKind is what a clip transfer topic carries: its last level but one
// (chunk) or its last level.
type ClipKind string

// Clip transfer topic kinds.
const (
	ClipKindManifest ClipKind = "manifest" // ClipManifest JSON, from the device, retained
	ClipKindWant     ClipKind = "want"     // ClipWant JSON, to the device
	ClipKindChunk    ClipKind = "chunk"    // raw MP4 bytes, from the device
	ClipKindDone     ClipKind = "done"     // ClipDone JSON, to the device
)

// ClipManifestTopic carries clip id's manifest: <base>/clips/<id>/manifest.
func (t Topics) ClipManifestTopic(id string) string { return t.clipTopic(id, ClipKindManifest) }

// ClipWantTopic is where a receiver asks for chunks of clip id:
// <base>/clips/<id>/want.
func (t Topics) ClipWantTopic(id string) string { return t.clipTopic(id, ClipKindWant) }

// ClipDoneTopic is where a receiver confirms it stored clip id:
// <base>/clips/<id>/done.
func (t Topics) ClipDoneTopic(id string) string { return t.clipTopic(id, ClipKindDone) }

// ClipChunkTopic carries chunk n (0-based) of clip id:
// <base>/clips/<id>/chunk/<n>.
func (t Topics) ClipChunkTopic(id string, n int) string {
	return t.clipTopic(id, ClipKindChunk) + "/" + strconv.Itoa(n)
}

// ClipChunksFilter matches every chunk of clip id:
// <base>/clips/<id>/chunk/+.
func (t Topics) ClipChunksFilter(id string) string { return t.clipTopic(id, ClipKindChunk) + "/+" }

func (t Topics) clipTopic(id string, k ClipKind) string {
	return t.Base + "/" + clipsLevel + "/" + id + "/" + string(k)
}

// ParseClip splits a clip transfer topic: the clip id (not checked), the
// kind and, for a chunk, its number as written (not checked). ok is false
// for a topic of another form.
func (t Topics) ParseClip(topic string) (id string, k ClipKind, n string, ok bool) {
	id, kind, n, ok := t.parseTransfer(topic, clipsLevel, string(ClipKindChunk),
		string(ClipKindManifest), string(ClipKindWant), string(ClipKindDone))
	return id, ClipKind(kind), n, ok
}

// DeviceDiscoveryTopic is where Home Assistant's device discovery payload
// for deviceID goes: <discovery_prefix>/device/<id>/config.
func DeviceDiscoveryTopic(discoveryPrefix, deviceID string) string {
	return discoveryPrefix + "/device/" + deviceID + "/config"
}

// EntityDiscoveryTopic is where the single-entity discovery payload of one
// component goes: <discovery_prefix>/<platform>/<id>/<component>/config.
func EntityDiscoveryTopic(discoveryPrefix, platform, deviceID, component string) string {
	return discoveryPrefix + "/" + platform + "/" + deviceID + "/" + component + "/config"
}
