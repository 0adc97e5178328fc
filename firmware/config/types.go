package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/doorbelld/doorbelld/capture/mask"
)

// Config is the whole doorbelld configuration, as read from one YAML file.
// Start from Default (or SimDefault) and decode the file on top of it, so a
// key that is absent keeps its default.
type Config struct {
	Device   Device   `yaml:"device"`
	MQTT     MQTT     `yaml:"mqtt"`
	HTTP     HTTP     `yaml:"http"`
	RTSP     RTSP     `yaml:"rtsp"`
	Users    []User   `yaml:"users"`
	GPIO     GPIO     `yaml:"gpio"`
	Camera   Camera   `yaml:"camera"`
	Capture  Capture  `yaml:"capture"`
	Clip     Clip     `yaml:"clip"`
	Snapshot Snapshot `yaml:"snapshot"`
	Storage  Storage  `yaml:"storage"`
	OTA      OTA      `yaml:"ota"`
	Privacy  Privacy  `yaml:"privacy"`
	Audio    Audio    `yaml:"audio"`
	Log      Log      `yaml:"log"`
}

// Audio is the door's speaker and what it says (hal/audio).
type Audio struct {
	// Speaker is the ALSA playback device: "hw:CARD,DEVICE" with a card
	// number or id ("hw:1,0", "hw:Loopback,0"), or a card id alone; ""
	// means no speaker. No ALSA plugins ("default", "pulse").
	Speaker string `yaml:"speaker"`
	// Replies are the quick replies: a name ([a-z0-9_], at most 32) per
	// WAV file (PCM, 8-48 kHz, at most 30 s), in the order given.
	Replies []Reply `yaml:"replies"`
	// AutoReply is a reply played when a ring is not answered (no reply
	// played, no door opened, nobody watching live) within
	// AutoReplyAfter; "" means never.
	AutoReply      string   `yaml:"auto_reply"`
	AutoReplyAfter Duration `yaml:"auto_reply_after"` // default 20s
	// RingTone is a WAV file (as a reply) played on the speaker when the
	// bell is pressed, so the visitor hears that it rang; "" means none.
	RingTone string `yaml:"ring_tone"`
	// Microphone is the ALSA capture device (names as Speaker); "" means
	// none. It gives clips their sound and the RTSP stream its audio
	// track; it is closed in privacy mode.
	Microphone string `yaml:"microphone"`
	// MicrophoneRate is the rate asked of the microphone (8000-48000,
	// default 16000); the card may give the nearest it has.
	MicrophoneRate int `yaml:"microphone_rate"`
	// Talk offers two-way talk (the RTSP back-channel, played on the
	// speaker) when there is a speaker and an RTSP server; default true.
	Talk bool `yaml:"talk"`
	// Echo is what is done about the owner's voice coming back through
	// the microphone while they talk: "half_duplex" (default) mutes the
	// live audio track while their voice plays; "full_duplex" does not.
	Echo string `yaml:"echo"`
}

// The values of Audio.Echo.
const (
	EchoHalfDuplex = "half_duplex"
	EchoFullDuplex = "full_duplex"
)

// Reply is one quick reply.
type Reply struct {
	Name string `yaml:"name"`
	File string `yaml:"file"`
}

// Privacy is what the camera must never show.
type Privacy struct {
	// Masks are areas blacked out (filled grey) in every frame before
	// anything keeps or sends it: snapshots, clips, live streams.
	Masks []Mask `yaml:"masks"`
	// Recipients are the owner's public keys (age1…, or ssh-ed25519
	// AAAA…): when set, every clip is sealed for them with age before it
	// touches the disk or MQTT (capture/seal).
	Recipients []string `yaml:"recipients"`
	// EncryptSnapshots seals the MQTT snapshots too (on the snapshot/age
	// topic); Home Assistant's image entity then shows none.
	EncryptSnapshots bool `yaml:"encrypt_snapshots"`
	// IdentityFile is an age identity (secret key) file on the device,
	// so that the web app can play sealed clips; "" keeps them sealed on
	// the device too.
	IdentityFile string `yaml:"identity_file"`
}

// Mask is one privacy mask: a polygon or a rectangle (exactly one), in
// coordinates normalised to the frame (0..1, x from the left, y from the
// top), so it stays in place when the resolution changes.
type Mask struct {
	Polygon [][]float64 `yaml:"polygon,omitempty"` // [[x, y], ...], at least 3 points, not self-intersecting
	Rect    Rect        `yaml:"rect,omitempty"`
}

// Rect is a mask's rectangle: top-left corner x, y, width w, height h.
type Rect struct {
	X float64 `yaml:"x"`
	Y float64 `yaml:"y"`
	W float64 `yaml:"w"`
	H float64 `yaml:"h"`
}

// IsZero reports whether no rectangle is given.
func (r Rect) IsZero() bool { return r == Rect{} }

// Device names this doorbell. ID is used in MQTT topics.
type Device struct {
	ID   string `yaml:"id"`   // [a-z0-9_-]+, default "doorbell"
	Name string `yaml:"name"` // free text, default "Doorbell"
}

// MQTT says where events go.
type MQTT struct {
	Broker   string `yaml:"broker"`    // tcp://host:port or ssl://host:port; "" = run the embedded broker
	Listen   string `yaml:"listen"`    // embedded broker address, default 127.0.0.1:1883
	Username string `yaml:"username"`  // optional
	Password string `yaml:"password"`  // optional; never logged
	CAFile   string `yaml:"ca_file"`   // ssl:// only: PEM CA certificates to trust; "" = the system's
	CertFile string `yaml:"cert_file"` // ssl:// only: PEM client certificate (with key_file)
	KeyFile  string `yaml:"key_file"`  // ssl:// only: PEM client key (with cert_file)
	// TLSInsecureSkipVerify turns off the broker certificate check (ssl://
	// only): anyone on the path can then read and fake every message.
	TLSInsecureSkipVerify bool   `yaml:"tls_insecure_skip_verify"`
	ClientID              string `yaml:"client_id"`        // default "doorbelld-<device.id>"
	TopicPrefix           string `yaml:"topic_prefix"`     // default "doorbell"
	DiscoveryPrefix       string `yaml:"discovery_prefix"` // default "homeassistant"
	// DiscoveryMode: device (one device payload, Home Assistant 2024.11+),
	// single (one payload per entity, older Home Assistant / openHAB) or off.
	DiscoveryMode string `yaml:"discovery_mode"`
	// Accounts are the logins of the embedded broker (Broker "" only),
	// besides Username/Password, which stay doorbelld's own. Default none.
	Accounts []Account `yaml:"accounts"`
	// OwnerKeyFile is the absolute path of the owner key (at least 32
	// random bytes as hex, made by doorbellctl owner-key FILE); "" = none.
	// storage.mode ram requires it.
	OwnerKeyFile string `yaml:"owner_key_file"`
}

// Account is one login of the embedded broker. Its String, GoString,
// LogValue and MarshalJSON never show the password, so neither does %v of
// a Config nor a log line. yaml.Marshal does write it.
type Account struct {
	Username string `yaml:"username"` // non-empty, unique, no control characters
	Password string `yaml:"password"` // non-empty; never logged or shown in errors
	Role     string `yaml:"role"`     // RoleOwner or RoleReader
}

// String returns "username (role)": never the password.
func (a Account) String() string { return a.Username + " (" + a.Role + ")" }

// GoString is for %#v; it hides the password too.
func (a Account) GoString() string {
	return fmt.Sprintf("config.Account{Username:%q, Password:\"(hidden)\", Role:%q}", a.Username, a.Role)
}

// LogValue makes log/slog log the username and role only, whatever the
// handler (a JSON handler would otherwise marshal the password).
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", a.Username), slog.String("role", a.Role))
}

// MarshalJSON writes the username and role only, so that encoding/json
// (and log/slog's JSON handler, for a list of accounts) never writes the
// password. A Config is read from YAML only.
func (a Account) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Username string `json:"username"`
		Role     string `json:"role"`
	}{a.Username, a.Role})
}

// The roles of an Account.
const (
	RoleOwner  = "owner"  // reads and writes every topic: Home Assistant, the owner's doorbellctl
	RoleReader = "reader" // reads only: dashboards
)

// HTTP is the web app and its API.
type HTTP struct {
	// Listen: default 127.0.0.1:8080; "" disables the HTTP server. A
	// host that is not loopback needs at least one of Users.
	Listen string `yaml:"listen"`
	// Hosts are extra host names (or IP addresses) the server accepts in
	// the Host header, against DNS rebinding; no scheme, port or path.
	Hosts []string `yaml:"hosts"`
	// CertFile and KeyFile (PEM, absolute paths, both or neither) serve
	// the app over HTTPS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// RTSP is the live stream server.
type RTSP struct {
	// Listen: default 127.0.0.1:8554; "" disables RTSP. A host that is
	// not loopback needs at least one of Users. The stream's path is
	// /<device.id>.
	Listen string `yaml:"listen"`
	// UDPPort is the even UDP port for RTP (RTCP: +1) on Listen's host;
	// 0 (default): RTP only inside the RTSP TCP connection, which every
	// client falls back to at once.
	UDPPort int `yaml:"udp_port"`
	// CertFile and KeyFile (PEM, absolute paths, both or neither) serve
	// rtsps:// instead of rtsp://.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// User is one login of the web app, the live streams (RTSP, MJPEG) and
// /metrics. The password is stored only as a hash, made by
// doorbellctl passwd. Its String, GoString, LogValue and MarshalJSON never
// show the hash.
type User struct {
	Username     string `yaml:"username"`      // 1-64 of A-Z a-z 0-9 . _ @ -, unique
	PasswordHash string `yaml:"password_hash"` // $argon2id$... or bcrypt $2b$...
}

// String returns the username: never the hash.
func (u User) String() string { return u.Username }

// GoString is for %#v; it hides the hash too.
func (u User) GoString() string {
	return fmt.Sprintf("config.User{Username:%q, PasswordHash:\"(hidden)\"}", u.Username)
}

// LogValue makes log/slog log the username only.
func (u User) LogValue() slog.Value { return slog.StringValue(u.Username) }

// MarshalJSON writes the username only.
func (u User) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Username string `json:"username"`
	}{u.Username})
}

// GPIO names the lines of the button, the PIR sensor and the chime relay.
type GPIO struct {
	Button Button `yaml:"button"`
	PIR    PIR    `yaml:"pir"`
	Chime  Chime  `yaml:"chime"`
	LED    LED    `yaml:"led"`
	Door   Door   `yaml:"door"`
}

// Door is the relay of the door strike (the door opener). Who may pulse
// it: firmware/doorauth.
type Door struct {
	Line      string   `yaml:"line"`       // "" = no door opener
	ActiveLow bool     `yaml:"active_low"` // default false
	Pulse     Duration `yaml:"pulse"`      // default 2s, at most 10s
	// PINHash is the hash of the PIN Home Assistant's lock entity sends
	// (doorbellctl door pin makes one); "" refuses PINs: then only a
	// request signed with the owner key (doorbellctl door open) or the
	// web app's button opens the door.
	PINHash string `yaml:"pin_hash"`
}

// Button is the bell push.
type Button struct {
	Line      string   `yaml:"line"`       // line name ("GPIO17") or "gpiochipN:offset"; required outside sim mode
	ActiveLow bool     `yaml:"active_low"` // default true (button pulls the line to ground)
	Pull      string   `yaml:"pull"`       // up | down | none; default up
	Debounce  Duration `yaml:"debounce"`   // default 50ms; edges ignored this long after a press
	MinPress  Duration `yaml:"min_press"`  // default 3ms: presses shorter than this are EMI, ignored; 0 turns the filter off
	LongPress Duration `yaml:"long_press"` // default 2s; 0 disables long_press
	// DoublePress: default 0 (off); a second press starting within this
	// long of the first is one double_press event instead of a second ring.
	DoublePress Duration `yaml:"double_press"`
}

// PIR is the motion sensor.
type PIR struct {
	Line      string   `yaml:"line"`       // "" = no PIR
	ActiveLow bool     `yaml:"active_low"` // default false (PIR modules drive the line high)
	Pull      string   `yaml:"pull"`       // up | down | none; default down
	Hold      Duration `yaml:"hold"`       // default 30s: motion_end after this long without re-trigger
	MinActive Duration `yaml:"min_active"` // default 0 (off): activations shorter than this are not motion
	Cooldown  Duration `yaml:"cooldown"`   // default 0 (off): sensor ignored this long after motion_end
}

// Chime is the relay that rings the existing mechanical chime.
type Chime struct {
	Line      string   `yaml:"line"`       // "" = no chime relay
	ActiveLow bool     `yaml:"active_low"` // default false
	Pulse     Duration `yaml:"pulse"`      // default 250ms
	Enabled   bool     `yaml:"enabled"`    // default true
	MinGap    Duration `yaml:"min_gap"`    // default 3s: rings closer than this to the last pulse give no new pulse
	// QuietHours: local time ranges in which the chime stays silent (events
	// are still published), "HH:MM-HH:MM[,HH:MM-HH:MM]"; default "" (none).
	QuietHours string `yaml:"quiet_hours"`
}

// LED is the status LED.
type LED struct {
	Line      string `yaml:"line"`       // "" = no LED
	ActiveLow bool   `yaml:"active_low"` // default false
}

// Camera is the V4L2 device.
type Camera struct {
	Device string `yaml:"device"` // default /dev/video0; "" = no camera
	Width  int    `yaml:"width"`  // default 640
	Height int    `yaml:"height"` // default 480
	FPS    int    `yaml:"fps"`    // default 15
	Format string `yaml:"format"` // auto | mjpeg | yuyv; default auto (MJPEG preferred)
}

// Capture sizes the RAM ring buffer.
type Capture struct {
	PreRoll   Duration `yaml:"pre_roll"`   // default 5s
	PostRoll  Duration `yaml:"post_roll"`  // default 10s
	RingBytes Size     `yaml:"ring_bytes"` // default 64MiB
}

// Snapshot tunes the press-time JPEG.
type Snapshot struct {
	// MaxWidth, when > 0, also publishes a copy at most this wide on
	// <base>/snapshot/small, and Home Assistant's image entity shows it.
	MaxWidth int `yaml:"max_width"`
}

// Clip says which events record an MP4 clip.
type Clip struct {
	Enabled   bool     `yaml:"enabled"`    // default true: rings and motion starts record clips
	Merge     bool     `yaml:"merge"`      // default true: a trigger during a clip extends it
	MaxLength Duration `yaml:"max_length"` // default 1m: a clip kept extending is cut here
}

// Storage is where state (event sequence numbers, outbox, clips) lives.
type Storage struct {
	Dir      string   `yaml:"dir"`       // absolute, cleaned; default /var/lib/doorbell (sim: <user cache dir>/doorbelld-sim)
	Mode     string   `yaml:"mode"`      // disk | ram (clips in RAM only until delivered); default disk
	MaxBytes Size     `yaml:"max_bytes"` // default 0 = 1GiB on disk, 64MiB in RAM
	MaxAge   Duration `yaml:"max_age"`   // default 168h; 0 = no age limit
	MinFree  Size     `yaml:"min_free"`  // default 64MiB kept free on the filesystem; 0 = off
}

// OTA configures signed over-the-air updates.
type OTA struct {
	// KeysFile lists the trusted ed25519 public keys, PEM or one base64
	// key per line; default /etc/doorbell/ota-keys.pub. Missing or empty:
	// updates are refused.
	KeysFile      string   `yaml:"keys_file"`
	ConfirmWindow Duration `yaml:"confirm_window"` // default 3m: a new version must be healthy within this
	// OfferDir is the directory from which {"path": ...} update offers are
	// accepted: absolute and cleaned; "" (default) refuses path offers.
	OfferDir string `yaml:"offer_dir"`
	// URLHosts lists the host or host:port (a bare host: the scheme's default port only) that
	// {"url": ...} update offers may point to; empty (default) refuses URL
	// offers.
	URLHosts []string `yaml:"url_hosts"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error; default info
	Format string `yaml:"format"` // text | json; default text
}

// Shapes are the masks as package capture/mask takes them (nil without
// masks); the error names the mask (privacy.masks[i]).
func (p Privacy) Shapes() ([]mask.Shape, error) {
	var out []mask.Shape
	for i, m := range p.Masks {
		sh, err := m.Shape()
		if err != nil {
			return nil, fmt.Errorf("privacy.masks[%d]: %w", i, err)
		}
		out = append(out, sh)
	}
	return out, nil
}

// Shape is the mask as package capture/mask takes it. It fails when the
// mask is neither or both of a polygon and a rectangle, or a point is not
// two numbers; mask.Shape.Validate checks the geometry.
func (m Mask) Shape() (mask.Shape, error) {
	switch {
	case m.Polygon != nil && !m.Rect.IsZero():
		return mask.Shape{}, errors.New("a polygon and a rect in one mask: give one")
	case !m.Rect.IsZero():
		return mask.Rect(m.Rect.X, m.Rect.Y, m.Rect.W, m.Rect.H), nil
	case m.Polygon == nil:
		return mask.Shape{}, errors.New("neither polygon nor rect")
	}
	pts := make([][2]float64, len(m.Polygon))
	for i, p := range m.Polygon {
		if len(p) != 2 {
			return mask.Shape{}, fmt.Errorf("point %d has %d numbers, want [x, y]", i, len(p))
		}
		pts[i] = [2]float64{p[0], p[1]}
	}
	return mask.Shape{Points: pts}, nil
}

// String renders the mask as written: "polygon [[0 0] [0.3 0] ...]" or
// "rect {x 0.7 y 0 w 0.3 h 0.5}".
func (m Mask) String() string {
	if !m.Rect.IsZero() {
		r := m.Rect
		return fmt.Sprintf("rect {x %g y %g w %g h %g}", r.X, r.Y, r.W, r.H)
	}
	return fmt.Sprintf("polygon %v", m.Polygon)
}
