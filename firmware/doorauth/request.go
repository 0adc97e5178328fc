package doorauth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/doorbelld/doorbelld/firmware/ownerkey"
	"github.com/doorbelld/doorbelld/firmware/wire"
)

// Purpose is the first part of every door MAC (ownerkey.Key.Sign), so a
// MAC made for another message (a clip transfer's done) never opens the
// door.
const Purpose = "door-open"

// MaxPayload bounds a door command; a larger payload is refused unread.
const MaxPayload = 1024

// ActionOpen is the only action: pulse the door relay once.
const ActionOpen = "open"

// Methods, as in Verdict.Method and Request.Method.
const (
	MethodPIN    = "pin"
	MethodSigned = "signed"
)

// Shapes of the fields.
const (
	MinPIN      = 4  // digits
	MaxPIN      = 12 // digits
	MinNonce    = 16 // hex digits
	MaxNonce    = 64 // hex digits
	MACLen      = 64 // lowercase hex digits (HMAC-SHA256)
	MaxDeviceID = 64 // bytes, as config's device.id: a-z 0-9 _ -
)

// Parse's errors wrap one of these.
var (
	// ErrTooLarge: the payload is larger than MaxPayload.
	ErrTooLarge = errors.New("door command too large")
	// ErrMalformed: the payload is not a door command.
	ErrMalformed = errors.New("malformed door command")
)

// Request is one parsed door command payload (MQTT <base>/cmd/door, the
// web app, doorbellctl). Its two wire forms are JSON objects of at most
// MaxPayload bytes; field names are exact (case matters), unknown and
// repeated fields are refused:
//
//	from Home Assistant's lock (a PIN):  {"action":"open","code":"1234"}
//	from doorbellctl (signed):           {"action":"open","device":"front","ts":1733456789,"nonce":"<16-64 hex>","mac":"<64 hex>"}
//
// where mac = Key.Sign(Purpose, device, action, strconv.FormatInt(ts, 10), nonce).
//
// Request's String, GoString, Format and LogValue never show Code or MAC,
// so a Request may be logged whole.
type Request struct {
	Action string `json:"action"`
	Code   string `json:"code,omitempty"`   // the PIN: 4 to 12 digits
	Device string `json:"device,omitempty"` // signed: the device.id it is meant for
	TS     int64  `json:"ts,omitempty"`     // signed: Unix time, seconds
	Nonce  string `json:"nonce,omitempty"`  // signed: 16 to 64 hex digits, never reused
	MAC    string `json:"mac,omitempty"`    // signed: 64 lowercase hex digits
}

// Method is MethodPIN for a request with a code, MethodSigned for one with
// a MAC, "" otherwise.
func (r Request) Method() string {
	switch {
	case r.Code != "":
		return MethodPIN
	case r.MAC != "":
		return MethodSigned
	}
	return ""
}

// String describes r without its code or MAC: `open (pin)`,
// `open (signed for "front", ts 1733456789, nonce "ab12…")`.
func (r Request) String() string {
	switch r.Method() {
	case MethodPIN:
		return r.Action + " (pin)"
	case MethodSigned:
		return fmt.Sprintf("%s (signed for %s, ts %d, nonce %s)", r.Action, wire.Quote(r.Device), r.TS, wire.Quote(r.Nonce))
	}
	return r.Action
}

// GoString is String, so %#v does not print the code either.
func (r Request) GoString() string { return r.String() }

// Format writes String for every verb, so fmt never prints the code.
func (r Request) Format(f fmt.State, _ rune) { io.WriteString(f, r.String()) }

// LogValue is String, so slog never logs the code.
func (r Request) LogValue() slog.Value { return slog.StringValue(r.String()) }

var (
	_ slog.LogValuer = Request{}
	_ fmt.Formatter  = Request{}
)

// parseError is a Parse error: what is wrong (never the code or the MAC)
// and the sentinel it wraps.
type parseError struct {
	detail string
	err    error
}

func (e *parseError) Error() string {
	return "doorauth: door command: " + e.detail + ": " + e.err.Error()
}
func (e *parseError) Unwrap() error { return e.err }

const example = `such as {"action":"open","code":"<pin>"} or {"action":"open","device":D,"ts":T,"nonce":N,"mac":M}`

var allowedFields = []string{"action", "code", "device", "ts", "nonce", "mac"}

// Parse checks payload, a door command, and returns it. Its error wraps
// ErrTooLarge or ErrMalformed and says what is wrong and what is allowed;
// it quotes what it shows safely (wire.Quote) and never shows the code or
// the MAC, nor any other value that contains one of them.
func Parse(payload []byte) (Request, error) {
	r, _, err := parse(payload)
	return r, err
}

// parse is Parse, also returning the method the fields tell even when
// they are malformed.
func parse(payload []byte) (Request, string, error) {
	p := parser{}
	r, err := p.parse(payload)
	if err != nil {
		return Request{}, p.method, &parseError{detail: err.Error(), err: p.sentinel}
	}
	return r, p.method, nil
}

type parser struct {
	secrets  []string // codes and MACs seen: never shown
	method   string
	sentinel error
}

type field struct {
	name string
	raw  json.RawMessage
}

func (p *parser) fail(format string, a ...any) error {
	if p.sentinel == nil {
		p.sentinel = ErrMalformed
	}
	return fmt.Errorf(format, a...)
}

// quote is wire.Quote(s), unless s (raw or quoted) contains a secret.
func (p *parser) quote(s string) string {
	q := wire.Quote(s)
	for _, sec := range p.secrets {
		if sec != "" && (strings.Contains(s, sec) || strings.Contains(q, sec)) {
			return "(a value containing the code or mac, not shown)"
		}
	}
	return q
}

func (p *parser) parse(payload []byte) (Request, error) {
	if len(payload) > MaxPayload {
		p.sentinel = ErrTooLarge
		return Request{}, fmt.Errorf("payload of %d bytes, at most %d", len(payload), MaxPayload)
	}
	fields, err := p.walk(payload)
	if err != nil {
		return Request{}, err
	}
	// Collect the secrets first, so that no later message shows them.
	has := map[string]bool{}
	for _, f := range fields {
		if f.name == "code" || f.name == "mac" {
			var s string
			if json.Unmarshal(f.raw, &s) == nil {
				p.secrets = append(p.secrets, s)
			}
		}
	}
	for _, f := range fields {
		if has[f.name] {
			if isAllowed(f.name) {
				return Request{}, p.fail("field %s given twice", p.quote(f.name))
			}
			continue
		}
		has[f.name] = true
	}
	switch {
	case has["code"] && (has["device"] || has["ts"] || has["nonce"] || has["mac"]):
		return Request{}, p.fail("both a code and signed fields (device, ts, nonce, mac): send one or the other")
	case has["code"]:
		p.method = MethodPIN
	case has["device"] || has["ts"] || has["nonce"] || has["mac"]:
		p.method = MethodSigned
	}
	for _, f := range fields {
		if !isAllowed(f.name) {
			return Request{}, p.fail("unknown field %s; allowed: %s", p.quote(f.name), strings.Join(allowedFields, ", "))
		}
	}
	var r Request
	for _, f := range fields {
		var err error
		switch f.name {
		case "action":
			err = p.action(f.raw, &r.Action)
		case "code":
			err = p.str(f, &r.Code, "a string of 4 to 12 digits, in quotes")
			if err == nil && !digits(r.Code, MinPIN, MaxPIN) {
				err = p.fail("code: want %d to %d digits (0-9)", MinPIN, MaxPIN)
			}
		case "device":
			err = p.str(f, &r.Device, "a string")
			if err == nil && !deviceID(r.Device) {
				err = p.fail("device %s: want 1 to %d characters from a-z, 0-9, _ and - (the doorbell's device.id)", p.quote(r.Device), MaxDeviceID)
			}
		case "ts":
			if json.Unmarshal(f.raw, &r.TS) != nil || r.TS <= 0 {
				err = p.fail("ts: want a Unix time in whole seconds (a positive integer, not in quotes)")
			}
		case "nonce":
			err = p.str(f, &r.Nonce, "a string of hex digits")
			if err == nil && !hexDigits(r.Nonce, MinNonce, MaxNonce, false) {
				err = p.fail("nonce: want %d to %d hex digits", MinNonce, MaxNonce)
			}
		case "mac":
			err = p.str(f, &r.MAC, "a string of hex digits")
			if err == nil && !hexDigits(r.MAC, MACLen, MACLen, true) {
				err = p.fail("mac: want %d lowercase hex digits", MACLen)
			}
		}
		if err != nil {
			return Request{}, err
		}
	}
	switch {
	case !has["action"]:
		return Request{}, p.fail("no action; want %q", ActionOpen)
	case p.method == MethodSigned:
		var missing []string
		for _, n := range []string{"device", "ts", "nonce", "mac"} {
			if !has[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return Request{}, p.fail("signed request without %s (it needs device, ts, nonce and mac)", strings.Join(missing, ", "))
		}
	case p.method == "":
		return Request{}, p.fail("neither a code nor a signature; want a JSON object %s", example)
	}
	return r, nil
}

// walk splits payload, one JSON object, into its fields in order.
func (p *parser) walk(payload []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, p.fail("empty payload; want a JSON object %s", example)
		}
		return nil, p.fail("not valid JSON; want a JSON object %s", example)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, p.fail("not a JSON object; want one %s", example)
	}
	var fields []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, p.fail("not valid JSON")
		}
		name, _ := tok.(string) // the decoder allows only strings as keys
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, p.fail("not valid JSON")
		}
		fields = append(fields, field{name, raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, p.fail("not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, p.fail("data after the JSON object")
	}
	return fields, nil
}

func (p *parser) str(f field, dst *string, want string) error {
	if len(f.raw) == 0 || f.raw[0] != '"' || json.Unmarshal(f.raw, dst) != nil {
		return p.fail("%s: want %s", f.name, want)
	}
	return nil
}

func (p *parser) action(raw json.RawMessage, dst *string) error {
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, dst) != nil {
		return p.fail("action: want the string %q", ActionOpen)
	}
	if *dst != ActionOpen {
		return p.fail("action %s: only %q is allowed", p.quote(*dst), ActionOpen)
	}
	return nil
}

func isAllowed(name string) bool {
	for _, a := range allowedFields {
		if a == name {
			return true
		}
	}
	return false
}

func digits(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func hexDigits(s string, lo, hi int, lower bool) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || !lower && 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func deviceID(s string) bool {
	if len(s) == 0 || len(s) > MaxDeviceID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NewNonce returns a fresh nonce: 16 random bytes in lowercase hex.
func NewNonce() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Sign returns the signed payload doorbellctl sends to open the door of
// device at now: action "open", ts now's Unix seconds, nonce (NewNonce's,
// or any 16 to 64 hex digits never used before) and the MAC with k. With
// no key the MAC is empty and the payload is one Parse refuses.
func Sign(k ownerkey.Key, device string, now time.Time, nonce string) []byte {
	ts := now.Unix()
	r := Request{Action: ActionOpen, Device: device, TS: ts, Nonce: nonce,
		MAC: k.Sign(Purpose, device, ActionOpen, strconv.FormatInt(ts, 10), nonce)}
	b, _ := json.Marshal(signedWire(r)) // strings and an int: never fails
	return b
}

// signedWire is the signed form, with every field present, in the
// documented order.
type signedWire struct {
	Action string `json:"action"`
	Code   string `json:"-"`
	Device string `json:"device"`
	TS     int64  `json:"ts"`
	Nonce  string `json:"nonce"`
	MAC    string `json:"mac"`
}
