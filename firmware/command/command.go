package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind names a command; it is the last level of the command topic.
type Kind string

// The commands a doorbell accepts.
const (
	Privacy   Kind = "privacy"    // ON | OFF: privacy mode (no snapshots)
	Chime     Kind = "chime"      // ON | OFF: ring the mechanical chime or not
	Snapshot  Kind = "snapshot"   // PRESS: publish a snapshot now
	TestChime Kind = "test_chime" // PRESS: pulse the chime relay once
	Restart   Kind = "restart"    // PRESS: restart the daemon
	Update    Kind = "update"     // "install", or a JSON offer {"url": ..., "version": ...}
)

// Payloads, as Home Assistant sends them. Parse compares them without
// regard to case and ignores surrounding white space.
const (
	On      = "ON"
	Off     = "OFF"
	Press   = "PRESS"
	Install = "install"
)

// Sentinel errors; Parse wraps them with the details.
var (
	// ErrRetained: the message was retained. A retained command would fire
	// again on every reconnect, so it is never acted on.
	ErrRetained = errors.New("retained command ignored")
	// ErrUnknown: the topic is not a command this doorbell knows.
	ErrUnknown = errors.New("unknown command")
	// ErrMalformed: the payload is not one the command allows.
	ErrMalformed = errors.New("malformed command")
)

// Command is one parsed command.
type Command struct {
	Kind Kind
	// On is the switch state for Privacy and Chime.
	On bool
	// Offer is the update offer for an Update with a JSON payload; nil for
	// "install" and every other kind.
	Offer *UpdateOffer
	// Raw is a copy of the payload as received.
	Raw []byte
}

// UpdateOffer is an update command's JSON payload. Only url and version are
// checked; other fields are kept in Command.Raw for the OTA code to read.
type UpdateOffer struct {
	URL     string `json:"url"`
	Version string `json:"version"`
}

// Limits on what Parse accepts.
const (
	maxSimplePayload = 32   // ON, OFF, PRESS, install with some white space
	maxUpdatePayload = 4096 // a JSON update offer
	maxVersion       = 64
	maxURL           = 2048
)

// Kinds returns every command kind, in a fixed order.
func Kinds() []Kind {
	return []Kind{Privacy, Chime, Snapshot, TestChime, Restart, Update}
}

func known(k Kind) bool {
	for _, c := range Kinds() {
		if c == k {
			return true
		}
	}
	return false
}

// Topic returns the command topic of kind k under base, the device's topic
// base <topic_prefix>/<device.id>.
func Topic(base string, k Kind) string { return base + "/cmd/" + string(k) }

// Filter returns the subscription filter that matches every command topic
// under base.
func Filter(base string) string { return base + "/cmd/+" }

// Parse validates one message received on a command topic. base is the
// device's topic base <topic_prefix>/<device.id>. It returns an error
// wrapping ErrUnknown when the topic is not a known command under base,
// ErrRetained when the message was retained, and ErrMalformed when the
// payload is not allowed; the error says what was wrong and what is
// allowed, and is safe to log (the payload is quoted and truncated).
func Parse(topic string, payload []byte, retained bool, base string) (Command, error) {
	base = strings.TrimSuffix(base, "/")
	pre := base + "/cmd/"
	if base == "" || !strings.HasPrefix(topic, pre) {
		return Command{}, fmt.Errorf("command: topic %s is not under %s: %w", quote(topic), quote(pre), ErrUnknown)
	}
	k := Kind(topic[len(pre):])
	if !known(k) {
		return Command{}, fmt.Errorf("command: topic %s: %s is not a command; known: %s: %w",
			quote(topic), quote(string(k)), kindList(), ErrUnknown)
	}
	if retained {
		return Command{}, fmt.Errorf("command: %s: retained message ignored (a retained command would fire on every reconnect; clear it with an empty retained message): %w",
			topic, ErrRetained)
	}
	c := Command{Kind: k, Raw: bytes.Clone(payload)}
	if c.Raw == nil {
		c.Raw = []byte{}
	}
	switch k {
	case Privacy, Chime:
		on, err := onOff(payload)
		if err != nil {
			return Command{}, fmt.Errorf("command: %s: %w", topic, err)
		}
		c.On = on
	case Snapshot, TestChime, Restart:
		if !word(payload, Press) {
			return Command{}, fmt.Errorf("command: %s: payload %s: want %s: %w", topic, quoteBytes(payload), Press, ErrMalformed)
		}
	case Update:
		offer, err := parseUpdate(payload)
		if err != nil {
			return Command{}, fmt.Errorf("command: %s: %w", topic, err)
		}
		c.Offer = offer
	}
	return c, nil
}

func onOff(p []byte) (bool, error) {
	switch {
	case word(p, On):
		return true, nil
	case word(p, Off):
		return false, nil
	}
	return false, fmt.Errorf("payload %s: want %s or %s: %w", quoteBytes(p), On, Off, ErrMalformed)
}

// word reports whether p is w, ignoring case and surrounding white space.
func word(p []byte, w string) bool {
	if len(p) > maxSimplePayload {
		return false
	}
	return strings.EqualFold(string(bytes.TrimSpace(p)), w)
}

func parseUpdate(p []byte) (*UpdateOffer, error) {
	if word(p, Install) {
		return nil, nil
	}
	const want = `want "install" or a JSON object {"url": "https://...", "version": "..."}`
	if len(p) > maxUpdatePayload {
		return nil, fmt.Errorf("payload of %d bytes: at most %d allowed; %s: %w", len(p), maxUpdatePayload, want, ErrMalformed)
	}
	t := bytes.TrimSpace(p)
	if len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("payload %s: %s: %w", quoteBytes(p), want, ErrMalformed)
	}
	var o UpdateOffer
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("payload %s: invalid JSON (%s); %s: %w", quoteBytes(p), clip(err.Error()), want, ErrMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("payload %s: data after the JSON object; %s: %w", quoteBytes(p), want, ErrMalformed)
	}
	if err := checkURL(o.URL); err != nil {
		return nil, fmt.Errorf("update offer: url %s: %v: %w", quote(o.URL), err, ErrMalformed)
	}
	if err := checkVersion(o.Version); err != nil {
		return nil, fmt.Errorf("update offer: version %s: %v: %w", quote(o.Version), err, ErrMalformed)
	}
	return &o, nil
}

func checkURL(s string) error {
	const want = "want an absolute http:// or https:// URL"
	if s == "" {
		return errors.New("missing; " + want)
	}
	if len(s) > maxURL {
		return fmt.Errorf("longer than %d bytes", maxURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL; " + want)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("scheme is not http or https; " + want)
	}
	if u.Host == "" {
		return errors.New("no host; " + want)
	}
	if u.User != nil {
		return errors.New("credentials in URLs are not allowed")
	}
	return nil
}

func checkVersion(s string) error {
	const want = "want 1-64 of A-Z a-z 0-9 . + _ ~ -"
	if s == "" || len(s) > maxVersion {
		return errors.New(want)
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '+', r == '_', r == '~', r == '-':
		default:
			return errors.New(want)
		}
	}
	return nil
}

func kindList() string {
	ks := Kinds()
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// maxQuoted is how long a quoted payload or topic in an error message
// may be, escapes included.
const maxQuoted = 80

func quoteBytes(p []byte) string { return quote(string(p)) }

// quote quotes s for an error message, with control and invalid bytes
// escaped, cut on a rune boundary to at most maxQuoted bytes of output.
func quote(s string) string {
	q := strconv.Quote(s)
	if len(q) <= maxQuoted {
		return q
	}
	cut := min(len(s), maxQuoted)
	for {
		for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if q = strconv.Quote(s[:cut]); len(q) <= maxQuoted || cut == 0 {
			break
		}
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", q, len(s))
}

// clip shortens an error text from a decoder to 120 bytes.
func clip(s string) string {
	if len(s) <= 120 {
		return s
	}
	cut := 120
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
