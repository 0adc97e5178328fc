package delivery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/doorbelld/doorbelld/ota"
)

// InstallPayload is the command that installs the announced offer (Home
// Assistant's update entity sends it).
const InstallPayload = "install"

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

// CommandTopic is where offers go.
func CommandTopic(base string) string { return base + "/cmd/update" }

// StateTopic is where the device publishes State, retained.
func StateTopic(base string) string { return base + "/update/state" }

// ChunkTopic is where the chunk at offset of transfer id goes.
func ChunkTopic(base, id string, offset int64) string {
	return base + "/ota/" + id + "/chunk/" + strconv.FormatInt(offset, 10)
}

// AckTopic is where the device acks transfer id.
func AckTopic(base, id string) string { return base + "/ota/" + id + "/ack" }

// AbortTopic is where a pusher cancels transfer id.
func AbortTopic(base, id string) string { return base + "/ota/" + id + "/abort" }

// Filters are the subscriptions a device needs besides its command topic.
func Filters(base string) []string {
	return []string{base + "/ota/+/chunk/+", base + "/ota/+/abort"}
}

// Offer is an update offer: exactly one of URL, Path and Transfer.
type Offer struct {
	Version   string `json:"version"`
	URL       string `json:"url,omitempty"`
	Path      string `json:"path,omitempty"`
	Transfer  string `json:"transfer,omitempty"`   // transfer id: chunks follow
	Size      int64  `json:"size,omitempty"`       // bundle bytes; required with Transfer
	ChunkSize int    `json:"chunk_size,omitempty"` // required with Transfer
	// Install false only announces the offer (latest_version); "install"
	// then installs it. Absent means install now.
	Install *bool `json:"install,omitempty"`
}

// Announce reports whether o only announces.
func (o Offer) Announce() bool { return o.Install != nil && !*o.Install }

// IsInstall reports whether payload is the "install" command.
func IsInstall(payload []byte) bool {
	return len(payload) <= 32 && strings.EqualFold(string(bytes.TrimSpace(payload)), InstallPayload)
}

// ParseOffer parses and checks an offer's JSON. Errors wrap ErrBadOffer,
// say what is allowed and quote at most 64 bytes of the payload.
func ParseOffer(payload []byte) (Offer, error) {
	bad := func(format string, a ...any) (Offer, error) {
		return Offer{}, fmt.Errorf("update offer: %s: %w", fmt.Sprintf(format, a...), ErrBadOffer)
	}
	if len(payload) > MaxOfferPayload {
		return bad("%d bytes, at most %d", len(payload), MaxOfferPayload)
	}
	t := bytes.TrimSpace(payload)
	if len(t) == 0 || t[0] != '{' {
		return bad(`payload %s: want "install" or a JSON object`, quote(string(payload)))
	}
	var o Offer
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return bad("invalid JSON (%s)", quote(err.Error()))
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("data after the JSON object")
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
			return bad("url %s: %v", quote(o.URL), err)
		}
	case o.Path != "":
		if len(o.Path) > maxPath || !filepath.IsAbs(o.Path) || filepath.Clean(o.Path) != o.Path || strings.ContainsRune(o.Path, 0) {
			return bad("path %s: want an absolute, clean path of at most %d bytes", quote(o.Path), maxPath)
		}
	default:
		if !validID(o.Transfer) {
			return bad("transfer %s: want 1-64 of A-Z a-z 0-9 _ -", quote(o.Transfer))
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

// Ack is the device's answer on AckTopic.
type Ack struct {
	// Next: every byte before it is received; send from here.
	Next int64 `json:"next"`
	// Window: chunks the pusher may have in flight beyond Next.
	Window int  `json:"window,omitempty"`
	Done   bool `json:"done,omitempty"`
	// Version is the installed version, on a successful Done.
	Version string `json:"version,omitempty"`
	// Error is why the transfer or install failed, on Done.
	Error string `json:"error,omitempty"`
}

// The values of State.State.
const (
	StateIdle           = "idle"            // up to date, nothing going on
	StateAvailable      = "available"       // an announced update waits for "install"
	StateDownloading    = "downloading"     // receiving and checking a bundle
	StateRestarting     = "restarting"      // installed; the daemon restarts into it
	StateConfirming     = "confirming"      // the new version runs and must prove healthy
	StateRolledBack     = "rolled_back"     // it did not; the previous version runs (Error says why)
	StateRollbackFailed = "rollback_failed" // the previous failed too after the rollback; it stays
	StateFailed         = "failed"          // an offer was refused or its install failed; nothing changed
)

// State is the retained JSON on StateTopic. Home Assistant's MQTT update
// entity reads installed_version, latest_version, in_progress and
// update_percentage from it (and ignores the other keys).
type State struct {
	InstalledVersion string   `json:"installed_version"`
	LatestVersion    string   `json:"latest_version"`
	InProgress       bool     `json:"in_progress"`
	UpdatePercentage *float64 `json:"update_percentage"` // 0-100 while downloading, else null
	State            string   `json:"state"`
	Error            string   `json:"error"`
}

// canonical strips a semantic version's leading "v", so Home Assistant
// compares like with like; anything else is returned as is.
func canonical(v string) string {
	if pv, err := ota.ParseVersion(v); err == nil {
		return pv.String()
	}
	return v
}

// quote quotes s for an error, at most 64 bytes of it.
func quote(s string) string {
	if len(s) <= 64 {
		return strconv.Quote(s)
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
