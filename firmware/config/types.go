package config

// Config is the whole doorbelld configuration, as read from one YAML file.
// Start from Default (or SimDefault) and decode the file on top of it, so a
// key that is absent keeps its default.
type Config struct {
	Device   Device   `yaml:"device"`
	MQTT     MQTT     `yaml:"mqtt"`
	HTTP     HTTP     `yaml:"http"`
	GPIO     GPIO     `yaml:"gpio"`
	Camera   Camera   `yaml:"camera"`
	Capture  Capture  `yaml:"capture"`
	Clip     Clip     `yaml:"clip"`
	Snapshot Snapshot `yaml:"snapshot"`
	Storage  Storage  `yaml:"storage"`
	OTA      OTA      `yaml:"ota"`
	Log      Log      `yaml:"log"`
}

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
}

// HTTP is the local web API.
type HTTP struct {
	Listen string `yaml:"listen"` // default 127.0.0.1:8080; "" disables the HTTP server
}

// GPIO names the lines of the button, the PIR sensor and the chime relay.
type GPIO struct {
	Button Button `yaml:"button"`
	PIR    PIR    `yaml:"pir"`
	Chime  Chime  `yaml:"chime"`
	LED    LED    `yaml:"led"`
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
	Dir      string   `yaml:"dir"`       // default /var/lib/doorbell (sim: <user cache dir>/doorbelld-sim)
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
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error; default info
	Format string `yaml:"format"` // text | json; default text
}
