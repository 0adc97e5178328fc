package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Outcomes of an audited access.
const (
	OK      = "ok"
	Refused = "refused"
)

// Actions the daemon records. Action is a free string (a new feature may
// add its own), but these are the names the web page, the MQTT consumers
// and the metrics know.
const (
	ActionLive             = "live"              // a live-view session (web or RTSP); Duration when it ended
	ActionSnapshot         = "snapshot"          // a still picture fetched over HTTP
	ActionClipFetch        = "clip.fetch"        // a clip downloaded from the web app
	ActionClipPull         = "clip.pull"         // a clip pulled over MQTT (clipxfer)
	ActionRecordingsDelete = "recordings.delete" // all recordings deleted
	ActionPrivacy          = "privacy"           // privacy mode switched; Object is the new state
	ActionConfig           = "config"            // configuration changed
	ActionOTAInstall       = "ota.install"       // a firmware update installed
	ActionLogin            = "login"             // a login attempt on the web app
	ActionDoorOpen         = "door.open"         // a request to open the door: accepted (the relay pulsed) or refused, with the reason
	ActionTalk             = "talk"              // a two-way talk session (RTSP back-channel); Duration when it ended
)

// MaxField is the most bytes a string field of an Entry keeps; Record
// cuts longer ones on a UTF-8 boundary.
const MaxField = 256

// Entry is one audited access. The JSON names are the contract: the lines
// of the log file, the MQTT payload and the web API all use them.
//
// json.Marshal of an Entry gives exactly its line in the log file (without
// the newline), so the hex SHA-256 of a received MQTT payload is the Prev
// of the entry after it (see Hash).
type Entry struct {
	Seq      uint64    `json:"seq"`                  // 1, 2, 3... continues across restarts and rotation
	At       time.Time `json:"at"`                   // stamped by Record when zero (injected clock)
	Action   string    `json:"action"`               // one of the Action constants, e.g. "clip.fetch"
	Actor    string    `json:"actor"`                // "web:alice", "rtsp:alice", "mqtt", "device", "owner-key"
	From     string    `json:"from,omitempty"`       // remote address (ip:port) when known
	Object   string    `json:"object,omitempty"`     // clip id, event id, stream name, new state ("on")
	Outcome  string    `json:"outcome"`              // OK or Refused
	Reason   string    `json:"reason,omitempty"`     // why refused, or a short detail
	Duration float64   `json:"duration_s,omitempty"` // seconds, for sessions (live view) that ended
	Prev     string    `json:"prev"`                 // hex sha256 of the previous line in the log ("" for the very first)
}

// entryJSON is Entry without its methods, for encoding/json.
type entryJSON Entry

// MarshalJSON encodes e as encoding/json does, and also escapes the
// control characters encoding/json leaves raw (DEL and the C1 controls
// U+0080..U+009F, which some terminals obey), so that no control
// character from a field ever reaches the log file, a terminal showing
// it, or an MQTT payload.
func (e Entry) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(entryJSON(e))
	if err != nil {
		return nil, err
	}
	return escapeControls(b), nil
}

// Hash is the hex SHA-256 of e's line (its JSON), which is the Prev of
// the entry written after it.
func (e Entry) Hash() string {
	b, err := e.MarshalJSON()
	if err != nil {
		return ""
	}
	return hashLine(b)
}

func hashLine(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// escapeControls rewrites DEL (0x7f) and C1 controls (UTF-8 C2 80..C2 9F)
// in JSON text as \u00XX escapes. In valid JSON from encoding/json these
// bytes occur only inside strings, where the escape means the same.
func escapeControls(b []byte) []byte {
	need := false
	for i := 0; i < len(b); i++ {
		if b[i] == 0x7f || b[i] == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f {
			need = true
			break
		}
	}
	if !need {
		return b
	}
	const hexDigits = "0123456789abcdef"
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x7f:
			out = append(out, `\u007f`...)
		case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
			i++
			out = append(out, '\\', 'u', '0', '0', hexDigits[b[i]>>4], hexDigits[b[i]&0xf])
		default:
			out = append(out, c)
		}
	}
	return out
}

// clean makes e safe and bounded to write: string fields valid UTF-8 and
// at most MaxField bytes, Duration finite and not negative, At within
// the years JSON can carry, Outcome OK when empty.
func clean(e Entry) Entry {
	e.Action = field(e.Action)
	e.Actor = field(e.Actor)
	e.From = field(e.From)
	e.Object = field(e.Object)
	e.Outcome = field(e.Outcome)
	e.Reason = field(e.Reason)
	if e.Outcome == "" {
		e.Outcome = OK
	}
	if math.IsNaN(e.Duration) || math.IsInf(e.Duration, 0) || e.Duration < 0 {
		e.Duration = 0
	}
	return e
}

// field returns s as valid UTF-8 (bad bytes become U+FFFD), cut to at
// most MaxField bytes without splitting a character.
func field(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= MaxField {
		return s
	}
	cut := MaxField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
