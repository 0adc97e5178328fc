package delivery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/firmware/wire"
	"github.com/doorbelld/doorbelld/ota"
)

// InstallPayload is the command that installs the announced offer (Home
// Assistant's update entity sends it).
const InstallPayload = mqttapi.InstallPayload

// Limits of the protocol.
const (
	MaxOfferPayload  = 4096
	DefaultChunkSize = 64 << 10
	MinChunkSize     = 1 << 10
	MaxChunkSize     = 1 << 20
	maxURL           = 2048
	maxPath          = 1024
)

// ErrBadOffer: an offer payload is not one this protocol allows.
var ErrBadOffer = errors.New("bad update offer")

// Topics under base = <mqtt.topic_prefix>/<device.id>: the MQTT contract's
// (mqttapi.Topics), for callers that have only the base.

// CommandTopic is where offers go.
func CommandTopic(base string) string { return mqttapi.TopicsUnder(base).Command(mqttapi.CmdUpdate) }

// StateTopic is where the device publishes State, retained: the update
// status topic, <base>/update/status. (Home Assistant's update entity reads
// <base>/update/state, which carries only State.HA().)
//
// Deprecated: use mqttapi.Topics.UpdateStatus.
func StateTopic(base string) string { return mqttapi.TopicsUnder(base).UpdateStatus }

// ChunkTopic is where the chunk at offset of transfer id goes.
func ChunkTopic(base, id string, offset int64) string {
	return mqttapi.TopicsUnder(base).OTAChunkTopic(id, offset)
}

// AckTopic is where the device acks transfer id.
func AckTopic(base, id string) string { return mqttapi.TopicsUnder(base).OTAAckTopic(id) }

// AbortTopic is where a pusher cancels transfer id.
func AbortTopic(base, id string) string { return mqttapi.TopicsUnder(base).OTAAbortTopic(id) }

// Filters are the subscriptions a device needs besides its command topic.
func Filters(base string) []string {
	t := mqttapi.TopicsUnder(base)
	return []string{t.OTAChunks, t.OTAAborts}
}

// Offer is an update offer: exactly one of URL, Path and Transfer
// (mqttapi.UpdateOffer).
type Offer = mqttapi.UpdateOffer

// IsInstall reports whether payload is the "install" command.
func IsInstall(payload []byte) bool {
	return len(payload) <= 32 && strings.EqualFold(string(bytes.TrimSpace(payload)), InstallPayload)
}

// ParseOffer parses and checks an offer's JSON. Errors wrap ErrBadOffer,
// say what is allowed and quote the payload short (wire.Quote).
func ParseOffer(payload []byte) (Offer, error) {
	bad := func(format string, a ...any) (Offer, error) {
		return Offer{}, fmt.Errorf("update offer: %s: %w", fmt.Sprintf(format, a...), ErrBadOffer)
	}
	if len(payload) > MaxOfferPayload {
		return bad("%d bytes, at most %d", len(payload), MaxOfferPayload)
	}
	var o Offer
	if err := wire.DecodeStrict(payload, &o); errors.Is(err, wire.ErrNotObject) {
		return bad(`payload %s: want %q or a JSON object`, wire.QuoteBytes(payload), InstallPayload)
	} else if err != nil {
		return bad("%v", err)
	}
	if _, err := ota.ParseVersion(o.Version); err != nil {
		return bad("%v", err)
	}
	n := 0
	for _, s := range []string{o.URL, o.Path, o.Transfer} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return bad("want exactly one of url, path and transfer")
	}
	switch {
	case o.URL != "":
		if err := checkURL(o.URL); err != nil {
			return bad("url %s: %v", wire.Quote(o.URL), err)
		}
	case o.Path != "":
		if len(o.Path) > maxPath || !filepath.IsAbs(o.Path) || filepath.Clean(o.Path) != o.Path || strings.ContainsRune(o.Path, 0) {
			return bad("path %s: want an absolute, clean path of at most %d bytes", wire.Quote(o.Path), maxPath)
		}
	default:
		if !validID(o.Transfer) {
			return bad("transfer %s: want 1-64 of A-Z a-z 0-9 _ -", wire.Quote(o.Transfer))
		}
		if o.Announce() {
			return bad("a transfer cannot be announce-only")
		}
		if o.Size <= 0 || o.Size > ota.MaxHeaderSize+ota.MaxBinarySize {
			return bad("size %d: want 1 to %d", o.Size, ota.MaxHeaderSize+ota.MaxBinarySize)
		}
		if o.ChunkSize < MinChunkSize || o.ChunkSize > MaxChunkSize {
			return bad("chunk_size %d: want %d to %d", o.ChunkSize, MinChunkSize, MaxChunkSize)
		}
	}
	if o.Transfer == "" && (o.Size != 0 || o.ChunkSize != 0) {
		return bad("size and chunk_size belong to a transfer")
	}
	return o, nil
}

func checkURL(s string) error {
	if len(s) > maxURL {
		return fmt.Errorf("longer than %d bytes", maxURL)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want http:// or https://")
	case u.Host == "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("credentials in URLs are not allowed")
	}
	return nil
}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Ack is the device's answer on AckTopic (mqttapi.UpdateAck).
type Ack = mqttapi.UpdateAck

// The values of State.State (mqttapi's).
const (
	StateIdle           = mqttapi.UpdateIdle           // up to date, nothing going on
	StateAvailable      = mqttapi.UpdateAvailable      // an announced update waits for "install"
	StateDownloading    = mqttapi.UpdateDownloading    // receiving and checking a bundle
	StateRestarting     = mqttapi.UpdateRestarting     // installed; the daemon restarts into it
	StateConfirming     = mqttapi.UpdateConfirming     // the new version runs and must prove healthy
	StateRolledBack     = mqttapi.UpdateRolledBack     // it did not; the previous version runs (Error says why)
	StateRollbackFailed = mqttapi.UpdateRollbackFailed // the previous failed too after the rollback; it stays
	StateFailed         = mqttapi.UpdateFailed         // an offer was refused or its install failed; nothing changed
)

// State is the device's whole update state (mqttapi.UpdateStatus): the
// retained JSON on the update status topic. Home Assistant's update entity
// gets State.HA() on the update state topic, because it drops a message
// with any key it does not know.
type State = mqttapi.UpdateStatus

// StateMessages returns the retained messages that publish s: the status
// first, then Home Assistant's update state, so the entity's attributes
// are current when its state changes.
func StateMessages(t mqttapi.Topics, s State) []mqttapi.Message {
	status, _ := json.Marshal(s)  // plain fields
	ha, _ := json.Marshal(s.HA()) // plain fields
	return []mqttapi.Message{
		{Topic: t.UpdateStatus, Payload: status, Retain: true},
		{Topic: t.UpdateState, Payload: ha, Retain: true},
	}
}

// IdleState is the State of a device running version with no update going
// on: what Device publishes when idle, and what a daemon with over-the-air
// updates off publishes instead.
func IdleState(version string) State {
	v := canonical(version)
	return State{InstalledVersion: v, LatestVersion: v, State: StateIdle}
}

// IdleMessages returns StateMessages(t, IdleState(version)): the update
// topics of a device with over-the-air updates off, for the daemon to
// publish after every connect.
func IdleMessages(t mqttapi.Topics, version string) []mqttapi.Message {
	return StateMessages(t, IdleState(version))
}

// canonical strips a semantic version's leading "v", so Home Assistant
// compares like with like; anything else is returned as is.
func canonical(v string) string {
	if pv, err := ota.ParseVersion(v); err == nil {
		return pv.String()
	}
	return v
}
