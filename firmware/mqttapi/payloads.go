package mqttapi

import (
	"encoding/json"
	"time"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// Message is one MQTT message to publish, at QoS 1.
type Message struct {
	Topic   string
	Payload []byte
	Retain  bool
}

// Availability payloads on Topics.Status: Online after every connect,
// Offline on a clean shutdown and as the Last Will. Home Assistant's birth
// message (on DefaultBirthTopic) is Online too.
const (
	Online  = "online"
	Offline = "offline"
)

// Switch and binary sensor states (Topics.Motion, PrivacyState,
// ChimeState) and the payloads of the switch commands; Press is the
// payload of the button commands. Commands compare them without regard to
// case and ignore surrounding white space.
const (
	On    = "ON"
	Off   = "OFF"
	Press = "PRESS"
)

// OnOff is the payload of a switch or binary sensor state.
func OnOff(on bool) []byte {
	if on {
		return []byte(On)
	}
	return []byte(Off)
}

// Command names a command: the last level of its topic (Topics.Command).
type Command string

// The commands a doorbell accepts.
const (
	CmdPrivacy   Command = "privacy"    // On | Off: privacy mode (no snapshots, no clips)
	CmdChime     Command = "chime"      // On | Off: ring the mechanical chime or not
	CmdSnapshot  Command = "snapshot"   // Press: publish a snapshot now
	CmdTestChime Command = "test_chime" // Press: pulse the chime relay once
	CmdRestart   Command = "restart"    // Press: restart the daemon
	CmdUpdate    Command = "update"     // InstallPayload, or UpdateOffer JSON
	// CmdDeleteRecordings: Press: delete every stored clip and the
	// retained snapshots (privacy.go in package daemon).
	CmdDeleteRecordings Command = "delete_recordings"
	// CmdDoor: a door request JSON (firmware/doorauth): a PIN from Home
	// Assistant's lock, or a request signed with the owner key.
	CmdDoor Command = "door"
	// CmdReply: a quick reply's name (audio.replies), or Press for the
	// one selected with CmdReplySelect: played on the door's speaker.
	CmdReply Command = "reply"
	// CmdReplySelect: a quick reply's name: Home Assistant's select.
	CmdReplySelect Command = "reply_select"
)

// Door states (Topics.DoorState), as Home Assistant's MQTT lock takes
// them: Unlocked while the strike is released, Locked otherwise.
const (
	DoorLocked   = "LOCKED"
	DoorUnlocked = "UNLOCKED"
)

// AllCommands returns every command, in a fixed order.
func AllCommands() []Command {
	return []Command{CmdPrivacy, CmdChime, CmdSnapshot, CmdTestChime, CmdRestart, CmdUpdate, CmdDeleteRecordings, CmdDoor, CmdReply, CmdReplySelect}
}

// InstallPayload on the update command installs the announced offer (Home
// Assistant's update entity sends it).
const InstallPayload = "install"

// Event is the JSON on Topics.Event. Package event defines it; its field
// names are part of this contract.
type Event = event.Event

// SnapshotInfo is the JSON on Topics.SnapshotInfo, describing the JPEG
// published next on Topics.Snapshot.
type SnapshotInfo struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	At        string `json:"at"`       // the event's time, event.TimeLayout
	FrameAt   string `json:"frame_at"` // the frame's capture time, event.TimeLayout
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	Source    string `json:"source_format"` // MJPG (sent as captured) or YUYV (JPEG-encoded)
	Bytes     int    `json:"bytes"`
}

// Values of the Health fields.
const (
	HealthOK       = "ok"       // Health.Status: every configured part works
	HealthDegraded = "degraded" // Health.Status: a configured part does not

	PartOK          = "ok"          // Health.Camera, Health.PIR
	PartUnavailable = "unavailable" // Health.Camera, Health.PIR: configured, not working
	PartNone        = "none"        // Health.Camera, Health.PIR, Health.Chime: not configured
	PartOff         = "off"         // Health.Camera: closed on purpose (privacy mode)

	ChimeEnabled  = "enabled"  // Health.Chime
	ChimeDisabled = "disabled" // Health.Chime
)

// Health is the JSON on Topics.Health (and part of the web API's status).
type Health struct {
	Status          string `json:"status"` // HealthOK | HealthDegraded
	Version         string `json:"version"`
	Started         string `json:"started"` // event.TimeLayout
	Sim             bool   `json:"sim"`
	Camera          string `json:"camera"`                     // PartOK | PartUnavailable | PartNone | PartOff
	CameraFormat    string `json:"camera_format,omitempty"`    // what the driver delivers, e.g. "YUYV 640x480@25fps"
	CameraError     string `json:"camera_error,omitempty"`     // the last camera failure
	PIR             string `json:"pir"`                        // PartOK | PartUnavailable | PartNone
	Chime           string `json:"chime"`                      // ChimeEnabled | ChimeDisabled | PartNone
	Speaker         string `json:"speaker"`                    // PartOK | PartUnavailable | PartNone (audio.speaker)
	SpeakerError    string `json:"speaker_error,omitempty"`    // why the speaker is unavailable
	Microphone      string `json:"microphone"`                 // PartOK | PartUnavailable | PartOff (privacy mode) | PartNone (audio.microphone)
	MicrophoneError string `json:"microphone_error,omitempty"` // why the microphone is unavailable
	// MQTTError says why the broker connection is down (a refused login, a
	// TLS failure); shown on /api/status, since it cannot reach the broker.
	MQTTError string `json:"mqtt_error,omitempty"`
	// ConfigError says the config file is damaged on disk and doorbelld
	// runs on its last good copy (see config.LoadFallback).
	ConfigError string `json:"config_error,omitempty"`
	// Parts lists the supervised parts that are not running (restarting
	// after a failure, or stopped), with their last error.
	Parts []PartHealth `json:"parts,omitempty"`
}

// PartHealth is one part that is not running, in Health.Parts.
type PartHealth struct {
	Name      string `json:"name"`
	Status    string `json:"status"`
	LastError string `json:"last_error,omitempty"`
	Restarts  int    `json:"restarts"`
}

// Diagnostics is the JSON on Topics.Diagnostics, which Home Assistant's
// diagnostic sensors read. A nil field (or a zero LastBoot) is published
// as null: "unknown" in Home Assistant.
type Diagnostics struct {
	LastBoot         time.Time
	CPUTempC         *float64
	WiFiSignalDBm    *int
	FreeStorageBytes *uint64
	ClipCount        *int
	DroppedFrames    *uint64
	// PartsDown counts the supervised parts that are not running (a
	// failed camera, PIR, clip store, ...): health's "parts" says which.
	PartsDown *int
	// LostEdges counts the GPIO edges the kernel dropped because the
	// reader fell behind (button and PIR together, since start); the
	// debug log and /api/status say more.
	LostEdges *uint64
}

// Diagnostics JSON keys, which the sensors' value templates read.
const (
	DiagLastBoot      = "last_boot"
	DiagCPUTemp       = "cpu_temp_c"
	DiagWiFiSignal    = "wifi_signal_dbm"
	DiagFreeStorage   = "free_storage_bytes"
	DiagClipCount     = "clip_count"
	DiagDroppedFrames = "dropped_frames"
	DiagPartsDown     = "parts_down"
	DiagLostEdges     = "lost_edges"
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
		PartsDown        *int     `json:"parts_down"`
		LostEdges        *uint64  `json:"lost_edges"`
	}{boot, d.CPUTempC, d.WiFiSignalDBm, d.FreeStorageBytes, d.ClipCount, d.DroppedFrames, d.PartsDown, d.LostEdges})
}

// The values of UpdateStatus.State.
const (
	UpdateIdle           = "idle"            // up to date, nothing going on
	UpdateAvailable      = "available"       // an announced update waits for InstallPayload
	UpdateDownloading    = "downloading"     // receiving and checking a bundle
	UpdateRestarting     = "restarting"      // installed; the daemon restarts into it
	UpdateConfirming     = "confirming"      // the new version runs and must prove healthy
	UpdateRolledBack     = "rolled_back"     // it did not; the previous version runs (Error says why)
	UpdateRollbackFailed = "rollback_failed" // the previous failed too after the rollback; it stays
	UpdateFailed         = "failed"          // an offer was refused or its install failed; nothing changed
)

// UpdateState is the JSON on Topics.UpdateState, the state topic of Home
// Assistant's MQTT update entity. Since Home Assistant 2024.11 that entity
// checks the JSON against a strict schema (MQTT_JSON_UPDATE_SCHEMA in
// homeassistant/components/mqtt/update.py: installed_version,
// latest_version, title, release_summary, release_url, entity_picture,
// in_progress, update_percentage) and drops a message with any other key,
// so this type has those keys only, never null where the schema wants a
// string. Everything else about an update is in UpdateStatus.
type UpdateState struct {
	InstalledVersion string   `json:"installed_version"`
	LatestVersion    string   `json:"latest_version"`
	InProgress       bool     `json:"in_progress"`
	UpdatePercentage *float64 `json:"update_percentage"` // 0-100 while downloading, else null
}

// UpdateStatus is the JSON on Topics.UpdateStatus: the whole state of
// updates on the device, for tools (doorbellctl ota push) and as the
// update entity's attributes in Home Assistant. The keys it shares with
// UpdateState always carry the same values (UpdateState is its HA
// projection). The state is under "status", not "state": Home Assistant
// drops an attribute named state (MQTT_ATTRIBUTES_BLOCKED).
type UpdateStatus struct {
	InstalledVersion string   `json:"installed_version"`
	LatestVersion    string   `json:"latest_version"`
	InProgress       bool     `json:"in_progress"`
	UpdatePercentage *float64 `json:"update_percentage"` // 0-100 while downloading, else null
	State            string   `json:"status"`            // UpdateIdle, UpdateDownloading, ...
	Error            string   `json:"error"`             // why, for UpdateFailed, UpdateRolledBack, UpdateRollbackFailed
}

// HA returns the part of s Home Assistant's update entity reads.
func (s UpdateStatus) HA() UpdateState {
	return UpdateState{
		InstalledVersion: s.InstalledVersion, LatestVersion: s.LatestVersion,
		InProgress: s.InProgress, UpdatePercentage: s.UpdatePercentage,
	}
}

// UpdateOffer is an update offer on the update command: exactly one of
// URL, Path and Transfer.
type UpdateOffer struct {
	Version   string `json:"version"`
	URL       string `json:"url,omitempty"`
	Path      string `json:"path,omitempty"`
	Transfer  string `json:"transfer,omitempty"`   // transfer id: chunks follow on OTAChunkTopic
	Size      int64  `json:"size,omitempty"`       // bundle bytes; required with Transfer
	ChunkSize int    `json:"chunk_size,omitempty"` // required with Transfer
	// Install false only announces the offer (latest_version);
	// InstallPayload then installs it. Absent means install now.
	Install *bool `json:"install,omitempty"`
}

// Announce reports whether o only announces.
func (o UpdateOffer) Announce() bool { return o.Install != nil && !*o.Install }

// UpdateAck is the device's answer on OTAAckTopic.
type UpdateAck struct {
	// Next: every byte before it is received; send from here.
	Next int64 `json:"next"`
	// Window: chunks the sender may have in flight beyond Next.
	Window int  `json:"window,omitempty"`
	Done   bool `json:"done,omitempty"`
	// Version is the installed version, on a successful Done.
	Version string `json:"version,omitempty"`
	// Error is why the transfer or install failed, on Done.
	Error string `json:"error,omitempty"`
}

// ClipManifestFormat is the ClipManifest.Format this contract describes.
const ClipManifestFormat = 1

// ClipManifest describes one offered clip: the retained JSON on
// ClipManifestTopic. An empty retained payload there withdraws the clip.
type ClipManifest struct {
	Format     int       `json:"format"` // ClipManifestFormat
	ID         string    `json:"id"`
	EventIDs   []string  `json:"event_ids,omitempty"`
	Start      time.Time `json:"start"`
	DurationMS int64     `json:"duration_ms"`
	Codec      string    `json:"codec"`
	Width      int       `json:"width,omitempty"`
	Height     int       `json:"height,omitempty"`
	Frames     int       `json:"frames,omitempty"`
	Size       int64     `json:"size"`       // bytes of the MP4
	SHA256     string    `json:"sha256"`     // of the whole MP4, lowercase hex
	ChunkSize  int       `json:"chunk_size"` // bytes per chunk; the last one may be shorter
	Chunks     int       `json:"chunks"`     // ceil(size / chunk_size)
	// CRC32C is the Castagnoli CRC of each chunk, 4 bytes big-endian per
	// chunk, standard base64.
	CRC32C string `json:"crc32c,omitempty"`
	// Encryption is "" for a plain MP4, or "age" when the bytes are the
	// MP4 sealed for privacy.recipients (size, sha256 and chunks are of
	// the ciphertext); receivers store it as <start>_<id>.mp4.age.
	Encryption string `json:"encryption,omitempty"`
}

// ClipWant is a receiver's request for chunks, on ClipWantTopic.
type ClipWant struct {
	// Chunks are inclusive ranges [first, last] of chunk numbers.
	Chunks [][2]int `json:"chunks"`
}

// ClipDone is a receiver's confirmation, on ClipDoneTopic, that it stored
// the clip and its sha256 matched.
type ClipDone struct {
	SHA256 string `json:"sha256"` // the clip's, lowercase hex
	// MAC attributes the done to the owner: HMAC-SHA256 with the owner key,
	// lowercase hex, ClipDoneMAC's parts (package ownerkey's Sign). A
	// device with an owner key acts only on a done whose MAC verifies.
	MAC string `json:"mac,omitempty"`
}

// ClipDoneMACPurpose is the first part of a ClipDone's MAC.
const ClipDoneMACPurpose = "clipxfer-done"

// ClipDoneMAC returns the parts a ClipDone's MAC covers, for clip id with
// sha256 sum: ClipDoneMACPurpose, id, sum.
func ClipDoneMAC(id, sum string) []string { return []string{ClipDoneMACPurpose, id, sum} }
