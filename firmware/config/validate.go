package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/hal/audio"

	"github.com/doorbelld/doorbelld/hal"
)

// Problem is one thing wrong with a config: the dotted key, the value as
// written and what would be allowed instead.
type Problem struct {
	Key     string // dotted key, such as "gpio.button.debounce"; "" is the whole file
	Value   string // the offending value as written ("(hidden)" for passwords)
	Allowed string // what the key accepts, such as "want a Go duration from 0s to 5s, such as 50ms"
	Line    int    // line of the key in the file, when known; 0 if not
	Reason  string // when set, replaces the usual "VALUE is not allowed" (e.g. "unknown key")
}

// Error returns one line:
//
//	line 3: gpio.button.debounce: "banana" is not allowed: want a Go duration from 0s to 5s, such as 50ms
//	line 2: gpio.buton: unknown key (known keys under gpio: button, pir, chime)
func (p Problem) Error() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key == "" {
		b.WriteString("(top level)")
	} else {
		b.WriteString(p.Key)
	}
	b.WriteString(": ")
	if p.Reason != "" {
		b.WriteString(p.Reason)
		if p.Allowed != "" {
			fmt.Fprintf(&b, " (%s)", p.Allowed)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%q is not allowed: %s", p.Value, p.Allowed)
	return b.String()
}

// Errors is every problem found in a config, in file or field order.
// Parse and Validate return it as their error.
type Errors []Problem

// Error returns one line per problem.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// allowed says what each key accepts. Validate and Parse use the same text.
var allowed = map[string]string{
	"device.id":                     "want 1 to 64 characters from a-z, 0-9, _ and -, such as frontdoor",
	"device.name":                   "want non-blank text without control characters, such as Front door",
	"mqtt.broker":                   `want "" (run the embedded broker) or tcp://, ssl://, mqtt:// or mqtts:// with host:port, such as tcp://192.168.1.10:1883`,
	"mqtt.listen":                   "want host:port such as 127.0.0.1:1883 (required when mqtt.broker is empty); a host that is not loopback (:1883, 0.0.0.0, a LAN address or name) also needs mqtt.username or mqtt.accounts",
	"mqtt.username":                 "want text without control characters",
	"mqtt.client_id":                `want at most 128 bytes of text without control characters ("" means doorbelld-<device.id>)`,
	"mqtt.topic_prefix":             "want MQTT topic levels such as doorbell or home/doorbell: no +, #, empty levels, leading $, or leading or trailing /",
	"mqtt.discovery_prefix":         "want MQTT topic levels such as homeassistant: no +, #, empty levels, leading $, or leading or trailing /",
	"http.listen":                   `want "" (no HTTP server) or host:port such as 127.0.0.1:8080; a host that is not loopback (:8080, 0.0.0.0, a LAN address or name) also needs users (doorbellctl passwd makes one)`,
	"http.cert_file":                `want "" or an absolute path to a PEM certificate, together with http.key_file`,
	"http.key_file":                 `want "" or an absolute path to a PEM private key, together with http.cert_file`,
	"rtsp.listen":                   `want "" (no RTSP server) or host:port such as 127.0.0.1:8554; a host that is not loopback (:8554, 0.0.0.0, a LAN address or name) also needs users (doorbellctl passwd makes one)`,
	"rtsp.udp_port":                 "want 0 (RTP over the RTSP TCP connection only) or an even port from 1024 to 65534, such as 8000 (RTCP uses the next one)",
	"rtsp.cert_file":                `want "" or an absolute path to a PEM certificate, together with rtsp.key_file (serves rtsps://)`,
	"rtsp.key_file":                 `want "" or an absolute path to a PEM private key, together with rtsp.cert_file`,
	"users":                         "want a list of {username, password_hash}; doorbellctl passwd USERNAME prints one to paste",
	"http.hosts":                    "want a list of host names or IP addresses, without scheme, port or path, such as [doorbell.lan, 192.168.1.20]",
	"mqtt.accounts":                 `want a list of {username, password, role} with role owner or reader, for the embedded broker only (mqtt.broker "")`,
	"mqtt.owner_key_file":           `want "" (no owner key) or an absolute file path such as /etc/doorbell/owner.key (doorbellctl owner-key FILE makes one)`,
	"ota.offer_dir":                 `want "" (path offers refused) or an absolute directory other than /, such as /var/lib/doorbell/offers`,
	"ota.url_hosts":                 "want a list of host or host:port, without scheme or path, such as [updates.lan, 192.168.1.5:8000]",
	"gpio.button.line":              "want a line name such as GPIO17, or gpiochipN:offset",
	"gpio.button.pull":              "want up, down or none",
	"gpio.button.debounce":          "want a Go duration from 0s to 5s, such as 50ms",
	"gpio.button.min_press":         "want 0s (off) or a Go duration up to 5s and shorter than gpio.button.debounce, such as 20ms",
	"gpio.button.long_press":        "want 0s (off) or a Go duration longer than gpio.button.debounce and at most 1m, such as 2s",
	"gpio.pir.line":                 `want "" (no PIR), a line name such as GPIO27, or gpiochipN:offset`,
	"gpio.pir.pull":                 "want up, down or none",
	"gpio.pir.hold":                 "want a Go duration from 1s to 1h, such as 30s",
	"gpio.chime.line":               `want "" (no chime relay), a line name such as GPIO22, or gpiochipN:offset`,
	"gpio.chime.pulse":              "want a Go duration from 10ms to 10s, such as 250ms",
	"gpio.button.double_press":      "want 0s (off) or a Go duration longer than gpio.button.debounce and at most 5s, such as 600ms",
	"gpio.pir.min_active":           "want 0s (off) or a Go duration up to 1m, such as 500ms",
	"gpio.pir.cooldown":             "want 0s (off) or a Go duration up to 1h, such as 1m",
	"gpio.chime.min_gap":            "want 0s (off) or a Go duration up to 10m, such as 3s",
	"gpio.chime.quiet_hours":        `want "" (none) or local times HH:MM-HH:MM, comma-separated, such as 22:00-07:00`,
	"gpio.door.line":                `want "" (no door opener), a line name such as GPIO24, or gpiochipN:offset`,
	"gpio.door.pulse":               "want a Go duration from 100ms to 10s, such as 2s",
	"gpio.door.pin_hash":            `want "" (no PIN: Home Assistant's lock cannot open the door) or a hash made by doorbellctl door pin ($argon2id$… or bcrypt), with gpio.door.line`,
	"gpio.led.line":                 `want "" (no LED), a line name such as GPIO23, or gpiochipN:offset`,
	"camera.device":                 `want "" (no camera), sim, or an absolute device path such as /dev/video0`,
	"camera.width":                  "want an even whole number from 16 to 4096, such as 640",
	"camera.height":                 "want an even whole number from 16 to 4096, such as 480",
	"camera.fps":                    "want a whole number from 1 to 120, such as 15",
	"camera.format":                 "want auto (MJPEG, else H.264, else YUYV), mjpeg, h264 or yuyv",
	"capture.pre_roll":              "want a Go duration from 0s to 1m, such as 5s",
	"capture.post_roll":             "want a Go duration from 0s to 5m, such as 10s",
	"capture.ring_bytes":            "want a size from 1MiB to 1GiB, such as 64MiB (units B, KiB, MiB, GiB, KB, MB, GB; none means bytes)",
	"storage.dir":                   "want an absolute directory path such as /var/lib/doorbell",
	"snapshot.max_width":            "want 0 (off) or an even whole number from 16 to 4096, such as 640",
	"mqtt.ca_file":                  `want "" (the system's CA certificates) or an absolute path to a PEM file, with an ssl:// or mqtts:// mqtt.broker`,
	"mqtt.cert_file":                `want "" or an absolute path to a PEM client certificate, together with mqtt.key_file and an ssl:// or mqtts:// mqtt.broker`,
	"mqtt.key_file":                 `want "" or an absolute path to a PEM client key, together with mqtt.cert_file and an ssl:// or mqtts:// mqtt.broker`,
	"mqtt.tls_insecure_skip_verify": "want false, or true only with an ssl:// or mqtts:// mqtt.broker",
	"ota.keys_file":                 `want "" (no updates) or an absolute file path such as /etc/doorbell/ota-keys.pub`,
	"ota.confirm_window":            "want a Go duration from 30s to 1h, such as 3m",
	"storage.mode":                  "want disk or ram",
	"storage.max_bytes":             "want 0 (1GiB on disk, 64MiB in RAM) or a size from 1MiB to 1TiB, such as 2GiB",
	"storage.max_age":               "want 0s (no age limit) or a Go duration up to 8760h, such as 168h",
	"storage.min_free":              "want 0 (off) or a size up to 64GiB, such as 64MiB",
	"mqtt.discovery_mode":           "want device, single or off",
	"clip.max_length":               "want a Go duration from 10s to 1h, such as 1m (a clip is never cut before pre_roll + post_roll)",
	"log.level":                     "want debug, info, warn or error",
	"privacy.masks":                 "want a list of {polygon: [[x, y], ...]} (at least 3 points, edges not crossing) or {rect: {x, y, w, h}}, coordinates from 0 to 1 of the frame (x from the left, y from the top)",
	"log.format":                    "want text or json",
	"audio.speaker":                 `want "" (no speaker) or an ALSA card, such as hw:1,0, hw:Loopback,0 or Loopback (no plugins such as default or pulse: doorbelld converts itself)`,
	"audio.replies":                 "want a list of {name, file}: a name of 1-32 of a-z 0-9 _, different from the others, and an absolute path to a PCM WAV file (8-48 kHz, at most 30 s), with audio.speaker",
	"audio.auto_reply":              `want "" (never) or the name of one of audio.replies`,
	"audio.auto_reply_after":        "want a Go duration from 5s to 10m, such as 20s",
	"audio.ring_tone":               "want \"\" (none) or an absolute path to a PCM WAV file (8-48 kHz, at most 30 s), with audio.speaker",
	"audio.microphone":              `want "" (no microphone) or an ALSA card, such as hw:1,0, hw:Loopback,1 or a card id (no plugins such as default or pulse)`,
	"audio.microphone_rate":         "want a rate from 8000 to 48000 Hz, such as 16000",
	"audio.echo":                    `want "half_duplex" (mute the live audio track while the owner's voice plays) or "full_duplex"`,
	"privacy.recipients":            "want a list of the owner's public keys: age1… (age-keygen -y key.txt prints it) or ssh-ed25519 AAAA… lines",
	"privacy.encrypt_snapshots":     "want false, or true together with privacy.recipients",
	"privacy.identity_file":         `want "" (sealed clips are opened only off the device) or an absolute path to an age identity file (age-keygen) whose key is one of privacy.recipients, with privacy.recipients`,
}

// allowedItem says what an item of a list, or a key in one, accepts; the
// key has [] for the index, as listKey writes it.
var allowedItem = map[string]string{
	"mqtt.accounts[].username": "want a non-empty username without control characters, different from mqtt.username and from every other account's",
	"mqtt.accounts[].password": "want a non-empty password",
	"mqtt.accounts[].role":     "want owner (reads and writes everything: Home Assistant, doorbellctl) or reader (reads only: dashboards)",
	"users[].username":         "want 1 to 64 letters, digits, '.', '_', '@' or '-', different from every other user's",
	"users[].password_hash":    "want a hash made by doorbellctl passwd: $argon2id$v=19$m=...,t=...,p=...$salt$hash, or bcrypt $2a$/$2b$/$2y$",
}

// Validate checks every key of c and returns all problems at once as
// Errors, or nil. It first fills derived values (an empty mqtt.client_id
// becomes "doorbelld-<device.id>") and cleans storage.dir and
// ota.offer_dir, which is why it takes a pointer. The checks that need the
// machine are CheckHost's.
//
// sim selects the simulator's rules: gpio.button.line may then be empty.
// Everything else is checked the same way in both modes.
func (c *Config) Validate(sim bool) error {
	c.fillDerived()
	var v checker

	// device
	if len(c.Device.ID) > 64 || !deviceID.MatchString(c.Device.ID) {
		v.bad("device.id", c.Device.ID)
	}
	if strings.TrimSpace(c.Device.Name) == "" || !printable(c.Device.Name) {
		v.bad("device.name", c.Device.Name)
	}

	// mqtt
	m := c.MQTT
	if m.Broker != "" && m.BrokerURL() == "" {
		v.bad("mqtt.broker", m.Broker)
	}
	listenOK := (m.Listen == "" && m.Broker != "") || hostPort(m.Listen, 0)
	if !listenOK {
		v.bad("mqtt.listen", m.Listen)
	}
	if !printable(m.Username) {
		v.bad("mqtt.username", m.Username)
	}
	v.accounts(m)
	if m.Broker == "" && listenOK && !Loopback(m.Listen) {
		switch {
		case m.Username == "" && len(m.Accounts) == 0:
			v.add("mqtt.listen", m.Listen, "want a loopback address such as 127.0.0.1:1883, or set mqtt.username and mqtt.password or mqtt.accounts: "+
				"the embedded broker on "+m.Listen+" lets anyone on the network read every event and send commands")
		case m.Username != "" && m.Password == "":
			v.add("mqtt.password", "", "want a non-empty password with mqtt.username when mqtt.listen is not loopback ("+m.Listen+")")
		}
	}
	if f := m.OwnerKeyFile; f != "" && (!filepath.IsAbs(f) || !printable(f)) {
		v.bad("mqtt.owner_key_file", f)
	}
	if m.ClientID == "" || len(m.ClientID) > 128 || !printable(m.ClientID) {
		v.bad("mqtt.client_id", m.ClientID)
	}
	if !topicPrefix(m.TopicPrefix) {
		v.bad("mqtt.topic_prefix", m.TopicPrefix)
	}
	if !topicPrefix(m.DiscoveryPrefix) {
		v.bad("mqtt.discovery_prefix", m.DiscoveryPrefix)
	}
	v.oneOf("mqtt.discovery_mode", m.DiscoveryMode, "device", "single", "off")
	tlsBroker := strings.HasPrefix(m.BrokerURL(), "ssl://")
	for _, f := range []struct{ key, val string }{{"mqtt.ca_file", m.CAFile}, {"mqtt.cert_file", m.CertFile}, {"mqtt.key_file", m.KeyFile}} {
		if f.val != "" && (!tlsBroker || !filepath.IsAbs(f.val) || !printable(f.val)) {
			v.bad(f.key, f.val)
		}
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		if m.CertFile == "" {
			v.bad("mqtt.cert_file", m.CertFile)
		} else {
			v.bad("mqtt.key_file", m.KeyFile)
		}
	}
	if m.TLSInsecureSkipVerify && !tlsBroker {
		v.bad("mqtt.tls_insecure_skip_verify", "true")
	}

	// users, http, rtsp
	v.users(c.Users)
	v.server("http", c.HTTP.Listen, c.HTTP.CertFile, c.HTTP.KeyFile, len(c.Users) > 0)
	for i, h := range c.HTTP.Hosts {
		if !hostOrIP(h) {
			v.add("http.hosts["+strconv.Itoa(i)+"]", h, allowed["http.hosts"])
		}
	}
	v.server("rtsp", c.RTSP.Listen, c.RTSP.CertFile, c.RTSP.KeyFile, len(c.Users) > 0)
	if p := c.RTSP.UDPPort; p != 0 && (p < 1024 || p > 65534 || p%2 != 0) {
		v.bad("rtsp.udp_port", strconv.Itoa(p))
	}
	if h, r := c.HTTP.Listen, c.RTSP.Listen; h != "" && h == r && !strings.HasSuffix(r, ":0") { // :0: each its own free port
		v.add("rtsp.listen", r, "want an address other than http.listen's")
	}

	// gpio
	b, p, ch := c.GPIO.Button, c.GPIO.PIR, c.GPIO.Chime
	used := map[string]string{} // canonical line -> key
	v.line("gpio.button.line", b.Line, !sim, used)
	v.line("gpio.pir.line", p.Line, false, used)
	v.line("gpio.chime.line", ch.Line, false, used)
	v.line("gpio.led.line", c.GPIO.LED.Line, false, used)
	door := c.GPIO.Door
	v.line("gpio.door.line", door.Line, false, used)
	v.duration("gpio.door.pulse", door.Pulse, 100*time.Millisecond, 10*time.Second)
	if h := door.PINHash; h != "" && (door.Line == "" || account.ParseHash(h) != nil) {
		v.add("gpio.door.pin_hash", "(hidden)", allowed["gpio.door.pin_hash"])
	}
	v.oneOf("gpio.button.pull", b.Pull, "up", "down", "none")
	v.oneOf("gpio.pir.pull", p.Pull, "up", "down", "none")
	debOK := v.duration("gpio.button.debounce", b.Debounce, 0, 5*time.Second)
	deb := b.Debounce.D()
	if v.duration("gpio.button.min_press", b.MinPress, 0, 5*time.Second) &&
		debOK && deb > 0 && b.MinPress.D() > 0 && b.MinPress.D() >= deb {
		v.add("gpio.button.min_press", b.MinPress.String(),
			fmt.Sprintf("want 0s (off) or a Go duration shorter than gpio.button.debounce (%s)", deb))
	}
	if v.duration("gpio.button.long_press", b.LongPress, 0, time.Minute) &&
		debOK && b.LongPress.D() > 0 && b.LongPress.D() <= deb {
		v.add("gpio.button.long_press", b.LongPress.String(),
			fmt.Sprintf("want 0s (off) or a Go duration longer than gpio.button.debounce (%s)", deb))
	}
	if v.duration("gpio.button.double_press", b.DoublePress, 0, 5*time.Second) &&
		debOK && b.DoublePress.D() > 0 && b.DoublePress.D() <= deb {
		v.add("gpio.button.double_press", b.DoublePress.String(),
			fmt.Sprintf("want 0s (off) or a Go duration longer than gpio.button.debounce (%s)", deb))
	}
	v.duration("gpio.pir.hold", p.Hold, time.Second, time.Hour)
	v.duration("gpio.pir.min_active", p.MinActive, 0, time.Minute)
	v.duration("gpio.pir.cooldown", p.Cooldown, 0, time.Hour)
	v.duration("gpio.chime.pulse", ch.Pulse, 10*time.Millisecond, 10*time.Second)
	v.duration("gpio.chime.min_gap", ch.MinGap, 0, 10*time.Minute)
	if _, err := hal.ParseQuietHours(ch.QuietHours); err != nil || !printable(ch.QuietHours) {
		v.bad("gpio.chime.quiet_hours", ch.QuietHours)
	}

	// camera
	cam := c.Camera
	if cam.Device != "" && cam.Device != "sim" && (!path.IsAbs(cam.Device) || !printable(cam.Device)) {
		v.bad("camera.device", cam.Device)
	}
	v.intRange("camera.width", cam.Width, 16, 4096, true)
	v.intRange("camera.height", cam.Height, 16, 4096, true)
	v.intRange("camera.fps", cam.FPS, 1, 120, false)
	v.oneOf("camera.format", cam.Format, "auto", "mjpeg", "h264", "yuyv")

	// capture
	v.duration("capture.pre_roll", c.Capture.PreRoll, 0, time.Minute)
	v.duration("capture.post_roll", c.Capture.PostRoll, 0, 5*time.Minute)
	if rb := c.Capture.RingBytes; rb.bad || rb.n < 1<<20 || rb.n > 1<<30 {
		v.bad("capture.ring_bytes", rb.String())
	}

	// snapshot
	if w := c.Snapshot.MaxWidth; w != 0 {
		v.intRange("snapshot.max_width", w, 16, 4096, true)
	}

	// clip
	v.duration("clip.max_length", c.Clip.MaxLength, 10*time.Second, time.Hour)

	// storage
	st := c.Storage
	if !filepath.IsAbs(st.Dir) || !printable(st.Dir) {
		v.bad("storage.dir", st.Dir)
	}
	v.oneOf("storage.mode", st.Mode, "disk", "ram")
	if st.Mode == "ram" && m.OwnerKeyFile == "" {
		v.add("storage.mode", st.Mode, "want disk, or ram together with mqtt.owner_key_file: in RAM mode a clip is deleted "+
			"when a receiver confirms it, and only a confirmation signed with the owner key may do that")
	}
	if mb := st.MaxBytes; mb.bad || (mb.n != 0 && (mb.n < 1<<20 || mb.n > 1<<40)) {
		v.bad("storage.max_bytes", mb.String())
	}
	v.duration("storage.max_age", st.MaxAge, 0, 8760*time.Hour)
	if mf := st.MinFree; mf.bad || mf.n < 0 || mf.n > 64<<30 {
		v.bad("storage.min_free", mf.String())
	}

	// ota
	if k := c.OTA.KeysFile; k != "" && (!filepath.IsAbs(k) || !printable(k)) {
		v.bad("ota.keys_file", k)
	}
	v.duration("ota.confirm_window", c.OTA.ConfirmWindow, 30*time.Second, time.Hour)
	if d := c.OTA.OfferDir; d != "" && (!filepath.IsAbs(d) || !printable(d) || filepath.Clean(d) == filepath.Dir(filepath.Clean(d))) {
		v.bad("ota.offer_dir", d)
	}
	for i, h := range c.OTA.URLHosts {
		if !urlHost(h) {
			v.add("ota.url_hosts["+strconv.Itoa(i)+"]", h, allowed["ota.url_hosts"])
		}
	}

	// privacy
	v.masks(c.Privacy.Masks)
	if len(c.Privacy.Masks) > 0 && c.Camera.Format == "h264" {
		v.add("privacy.masks", fmt.Sprintf("%d masks", len(c.Privacy.Masks)),
			"want no masks with camera.format h264: H.264 frames cannot be masked without re-encoding; set camera.format to auto, mjpeg or yuyv")
	}

	v.sealing(c.Privacy)
	v.audio(c.Audio)

	// log
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")

	if len(v.probs) == 0 {
		return nil
	}
	return v.probs
}

var (
	deviceID = regexp.MustCompile(`^[a-z0-9_-]+$`)
	lineName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	hostName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$`)
)

// checker collects problems.
type checker struct{ probs Errors }

func (v *checker) add(key, value, allowedText string) {
	v.probs = append(v.probs, Problem{Key: key, Value: value, Allowed: allowedText})
}

func (v *checker) bad(key, value string) { v.add(key, value, allowed[key]) }

func (v *checker) oneOf(key, value string, ok ...string) {
	for _, o := range ok {
		if value == o {
			return
		}
	}
	v.bad(key, value)
}

func (v *checker) intRange(key string, n, lo, hi int, even bool) {
	if n < lo || n > hi || (even && n%2 != 0) {
		v.bad(key, strconv.Itoa(n))
	}
}

// duration reports d unless it parsed and lies in [lo, hi].
func (v *checker) duration(key string, d Duration, lo, hi time.Duration) bool {
	if d.bad || d.d < lo || d.d > hi {
		v.bad(key, d.String())
		return false
	}
	return true
}

// accounts checks mqtt.accounts: only with the embedded broker; each with
// a unique username (also unlike mqtt.username), a password and a known
// role. No problem shows a password.
func (v *checker) accounts(m MQTT) {
	if len(m.Accounts) == 0 {
		return
	}
	if m.Broker != "" {
		names := make([]string, len(m.Accounts))
		for i, a := range m.Accounts {
			names[i] = a.Username
		}
		v.add("mqtt.accounts", strings.Join(names, ", "), "want no accounts with an external broker (mqtt.broker is "+m.Broker+
			"): put them in that broker's own password and ACL files (README: threat model); mqtt.username and mqtt.password stay doorbelld's own login")
		return
	}
	seen := map[string]string{}
	if m.Username != "" {
		seen[m.Username] = "mqtt.username"
	}
	for i, a := range m.Accounts {
		key := "mqtt.accounts[" + strconv.Itoa(i) + "]"
		switch other, dup := seen[a.Username]; {
		case a.Username == "" || !printable(a.Username):
			v.add(key+".username", a.Username, allowedItem["mqtt.accounts[].username"])
		case dup:
			v.add(key+".username", a.Username, "want a username not already used by "+other)
		default:
			seen[a.Username] = key
		}
		if a.Password == "" {
			v.add(key+".password", "", allowedItem["mqtt.accounts[].password"])
		}
		if a.Role != RoleOwner && a.Role != RoleReader {
			v.add(key+".role", a.Role, allowedItem["mqtt.accounts[].role"])
		}
	}
}

// server checks the listen address and TLS files of the HTTP or RTSP
// server (key "http" or "rtsp"): a listen address that is not loopback
// needs users, since anyone on the network could otherwise watch the door.
func (v *checker) server(key, listen, cert, keyFile string, users bool) {
	switch {
	case listen == "":
	case !hostPort(listen, 0):
		v.bad(key+".listen", listen)
	case !Loopback(listen) && !users:
		v.add(key+".listen", listen, "want a loopback address such as 127.0.0.1"+listen[strings.LastIndex(listen, ":"):]+
			", or add users (doorbellctl passwd USERNAME): on "+listen+" anyone on the network would see the door")
	}
	for _, f := range []struct{ key, val string }{{key + ".cert_file", cert}, {key + ".key_file", keyFile}} {
		if f.val != "" && (!filepath.IsAbs(f.val) || !printable(f.val)) {
			v.bad(f.key, f.val)
		}
	}
	if (cert == "") != (keyFile == "") {
		if cert == "" {
			v.bad(key+".cert_file", cert)
		} else {
			v.bad(key+".key_file", keyFile)
		}
	}
}

// The shapes of the password hashes doorbellctl passwd makes (argon2id,
// PHC string format) and of bcrypt's; package firmware/account checks
// the parameters when it loads them.
var (
	// username is package account's rule: it fits an RTSP URL, a log line
	// and a YAML scalar unquoted.
	username     = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)
	argon2idHash = regexp.MustCompile(`^\$argon2id\$v=19\$m=[0-9]{1,9},t=[0-9]{1,9},p=[0-9]{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$`)
	bcryptHash   = regexp.MustCompile(`^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$`)
)

// users checks users: unique usernames of safe characters and hashes
// of a known shape. No problem shows a hash.
func (v *checker) users(us []User) {
	seen := map[string]string{}
	for i, u := range us {
		key := "users[" + strconv.Itoa(i) + "]"
		switch other, dup := seen[u.Username]; {
		case !username.MatchString(u.Username):
			v.add(key+".username", u.Username, allowedItem["users[].username"])
		case dup:
			v.add(key+".username", u.Username, "want a username not already used by "+other)
		default:
			seen[u.Username] = key
		}
		if !argon2idHash.MatchString(u.PasswordHash) && !bcryptHash.MatchString(u.PasswordHash) {
			shown := "(hidden)"
			if u.PasswordHash == "" {
				shown = ""
			}
			v.add(key+".password_hash", shown, allowedItem["users[].password_hash"])
		}
	}
}

// masks checks privacy.masks: each a polygon or a rectangle whose shape
// package capture/mask accepts.
func (v *checker) masks(ms []Mask) {
	for i, m := range ms {
		key := "privacy.masks[" + strconv.Itoa(i) + "]"
		sh, err := m.Shape()
		if err == nil {
			err = sh.Validate()
		}
		if err != nil {
			v.add(key, m.String(), err.Error()+"; "+allowed["privacy.masks"])
		}
	}
}

var (
	alsaDevice = regexp.MustCompile(`^(hw:)?[A-Za-z0-9_-]{1,32}(,[0-9]{1,2})?$`)
	replyName  = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
)

// audio checks the speaker and the quick replies: each WAV file is read
// and parsed here, so a bad one stops the start, naming it.
func (v *checker) audio(a Audio) {
	switch s := a.Speaker; {
	case s == "":
	case !alsaDevice.MatchString(s) || slices.Contains([]string{"default", "sysdefault", "pulse", "pipewire", "dmix", "dsnoop", "null"}, s):
		v.bad("audio.speaker", s)
	}
	names := map[string]bool{}
	for i, r := range a.Replies {
		key := "audio.replies[" + strconv.Itoa(i) + "]"
		switch {
		case !replyName.MatchString(r.Name) || names[r.Name]:
			v.add(key+".name", r.Name, allowed["audio.replies"])
		case a.Speaker == "":
			v.add(key, r.Name, allowed["audio.replies"])
		case !filepath.IsAbs(r.File) || !printable(r.File):
			v.add(key+".file", r.File, allowed["audio.replies"])
		default:
			if _, err := audio.LoadWAV(r.File); err != nil {
				v.add(key+".file", r.File, err.Error())
			}
		}
		names[r.Name] = true
	}
	if a.AutoReply != "" && !names[a.AutoReply] {
		v.bad("audio.auto_reply", a.AutoReply)
	}
	switch f := a.RingTone; {
	case f == "":
	case a.Speaker == "" || !filepath.IsAbs(f) || !printable(f):
		v.bad("audio.ring_tone", f)
	default:
		if _, err := audio.LoadWAV(f); err != nil {
			v.add("audio.ring_tone", f, err.Error())
		}
	}
	switch s := a.Microphone; {
	case s == "":
	case !alsaDevice.MatchString(s) || slices.Contains([]string{"default", "sysdefault", "pulse", "pipewire", "dmix", "dsnoop", "null"}, s):
		v.bad("audio.microphone", s)
	}
	if a.MicrophoneRate < audio.MinRate || a.MicrophoneRate > audio.MaxRate {
		v.bad("audio.microphone_rate", strconv.Itoa(a.MicrophoneRate))
	}
	if a.Echo != EchoHalfDuplex && a.Echo != EchoFullDuplex {
		v.bad("audio.echo", a.Echo)
	}
	v.duration("audio.auto_reply_after", a.AutoReplyAfter, 5*time.Second, 10*time.Minute)
}

// sealing checks privacy.recipients, encrypt_snapshots and identity_file.
func (v *checker) sealing(p Privacy) {
	var sealer *seal.Sealer
	bad := false
	for i, k := range p.Recipients {
		if _, err := seal.ParseRecipient(k); err != nil {
			shown := k
			if strings.HasPrefix(strings.TrimSpace(k), "AGE-SECRET-KEY-") {
				shown = "(a secret key, hidden)"
			}
			v.add("privacy.recipients["+strconv.Itoa(i)+"]", shown, err.Error()+"; "+allowed["privacy.recipients"])
			bad = true
		}
	}
	if len(p.Recipients) > 0 && !bad {
		sealer, _ = seal.NewSealer(p.Recipients)
	}
	if p.EncryptSnapshots && len(p.Recipients) == 0 {
		v.bad("privacy.encrypt_snapshots", "true")
	}
	switch f := p.IdentityFile; {
	case f == "":
	case !filepath.IsAbs(f) || !printable(f) || len(p.Recipients) == 0:
		v.bad("privacy.identity_file", f)
	default:
		o, err := seal.LoadIdentities(f)
		switch {
		case err != nil:
			v.add("privacy.identity_file", f, err.Error())
		case sealer != nil && !o.Matches(sealer):
			v.add("privacy.identity_file", f, "its key is none of privacy.recipients: it could not open the clips")
		}
	}
}

// line checks a GPIO line and that no other key uses the same line.
func (v *checker) line(key, s string, required bool, used map[string]string) {
	if s == "" {
		if required {
			v.bad(key, s)
		}
		return
	}
	chip, offset, name, err := ParseLine(s)
	if err != nil {
		v.bad(key, s)
		return
	}
	canon := name
	if name == "" {
		canon = chip + ":" + strconv.Itoa(offset)
	}
	if other, dup := used[canon]; dup {
		v.add(key, s, "want a line not already used by "+other)
		return
	}
	used[canon] = key
}

// ParseLine splits a GPIO line as written in the config. "gpiochip0:17"
// gives chip "gpiochip0" and offset 17 (chip and offset are canonical, so
// "gpiochip00:017" gives the same); a name such as "GPIO17" gives name
// "GPIO17" and offset -1, to be looked up by name. Names are made of
// A-Z, a-z, 0-9, '_', '.' and '-'.
func ParseLine(s string) (chip string, offset int, name string, err error) {
	if c, off, ok := strings.Cut(s, ":"); ok {
		n, okN := smallUint(strings.TrimPrefix(c, "gpiochip"))
		o, okO := smallUint(off)
		if !strings.HasPrefix(c, "gpiochip") || !okN || !okO {
			return "", -1, "", fmt.Errorf("config: gpio line %q: want gpiochipN:offset such as gpiochip0:17", s)
		}
		return "gpiochip" + strconv.Itoa(n), o, "", nil
	}
	if !lineName.MatchString(s) {
		return "", -1, "", fmt.Errorf("config: gpio line %q: want a line name such as GPIO17, or gpiochipN:offset", s)
	}
	return "", -1, s, nil
}

// smallUint parses 1 to 9 decimal digits.
func smallUint(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, true
}

// BrokerURL returns Broker with mqtt:// written as tcp:// and mqtts:// as
// ssl://, ready for the MQTT client. It returns "" when Broker is empty
// (the embedded broker runs) or not a valid broker URL; Validate reports
// the latter.
func (m MQTT) BrokerURL() string {
	if m.Broker == "" {
		return ""
	}
	u, err := url.Parse(m.Broker)
	if err != nil || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" ||
		u.Fragment != "" || u.ForceQuery || strings.Contains(m.Broker, "#") {
		return ""
	}
	scheme := map[string]string{"tcp": "tcp", "mqtt": "tcp", "ssl": "ssl", "mqtts": "ssl"}[u.Scheme]
	if scheme == "" || u.Hostname() == "" || !hostPort(u.Host, 1) {
		return ""
	}
	return scheme + "://" + u.Host
}

// hostPort reports whether s is host:port with a numeric port minPort..65535
// and a host that is empty (all interfaces), an IP address or a host name.
// Listen addresses allow port 0 (any free port, for tests).
func hostPort(s string, minPort int) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	if n, ok := smallUint(port); !ok || n < minPort || n > 65535 {
		return false
	}
	if host == "" {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return len(host) <= 253 && hostName.MatchString(host)
}

// Loopback reports whether the listen address addr ("host:port", or a
// bare host) only accepts connections from this machine: its host is
// localhost (any case), an address in 127.0.0.0/8 or ::1 (also written as
// ::ffff:127.x.x.x). An empty host (":1883") binds every interface, so it
// is not loopback; nor is any other host name, as it may resolve to
// anything.
func Loopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	} else if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		host = addr[1 : len(addr)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// hostOrIP reports whether s is a host name or an IP address alone: no
// scheme, port, path or brackets.
func hostOrIP(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return !strings.Contains(s, "%")
	}
	return len(s) <= 253 && hostName.MatchString(s)
}

// urlHost reports whether s is a host or host:port as in a URL: a host
// name, an IP address (IPv6 in brackets when a port follows) and an
// optional port 1-65535.
func urlHost(s string) bool {
	if hostOrIP(s) {
		return true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		ip, err := netip.ParseAddr(s[1 : len(s)-1])
		return err == nil && ip.Is6() && ip.Zone() == ""
	}
	host, _, err := net.SplitHostPort(s)
	return err == nil && host != "" && hostOrIP(host) && hostPort(s, 1)
}

// topicPrefix reports whether s is a usable MQTT topic prefix.
func topicPrefix(s string) bool {
	if s == "" || strings.ContainsAny(s, "+#") || s[0] == '$' || !printable(s) {
		return false
	}
	for _, level := range strings.Split(s, "/") {
		if level == "" {
			return false
		}
	}
	return true
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
