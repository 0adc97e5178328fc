package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// valid returns a Config that passes Validate(false).
func valid() Config {
	c := Default()
	c.GPIO.Button.Line = "GPIO17"
	return c
}

func TestValidateRules(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		mut  func(*Config)
		sim  bool
		key  string // "" means valid
	}{
		{"defaults with button line", func(c *Config) {}, false, ""},
		{"sim defaults", func(c *Config) { *c = SimDefault() }, true, ""},
		{"production needs button line", func(c *Config) { c.GPIO.Button.Line = "" }, false, "gpio.button.line"},
		{"sim needs no button line", func(c *Config) { c.GPIO.Button.Line = "" }, true, ""},

		{"device.id ok", func(c *Config) { c.Device.ID = "front_door-2" }, false, ""},
		{"device.id 64", func(c *Config) { c.Device.ID = strings.Repeat("a", 64) }, false, ""},
		{"device.id 65", func(c *Config) { c.Device.ID = strings.Repeat("a", 65) }, false, "device.id"},
		{"device.id empty", func(c *Config) { c.Device.ID = "" }, false, "device.id"},
		{"device.id upper", func(c *Config) { c.Device.ID = "Front" }, false, "device.id"},
		{"device.id space", func(c *Config) { c.Device.ID = "front door" }, false, "device.id"},
		{"device.id slash", func(c *Config) { c.Device.ID = "a/b" }, false, "device.id"},
		{"device.name text", func(c *Config) { c.Device.Name = "Front door – Haustür" }, false, ""},
		{"device.name empty", func(c *Config) { c.Device.Name = "" }, false, "device.name"},
		{"device.name blank", func(c *Config) { c.Device.Name = "  " }, false, "device.name"},
		{"device.name newline", func(c *Config) { c.Device.Name = "a\nb" }, false, "device.name"},

		{"broker tcp", func(c *Config) { c.MQTT.Broker = "tcp://broker.lan:1883" }, false, ""},
		{"broker ssl", func(c *Config) { c.MQTT.Broker = "ssl://10.0.0.2:8883" }, false, ""},
		{"broker mqtt", func(c *Config) { c.MQTT.Broker = "mqtt://broker:1883" }, false, ""},
		{"broker mqtts ipv6", func(c *Config) { c.MQTT.Broker = "mqtts://[::1]:8883" }, false, ""},
		{"broker no port", func(c *Config) { c.MQTT.Broker = "tcp://broker" }, false, "mqtt.broker"},
		{"broker no host", func(c *Config) { c.MQTT.Broker = "tcp://:1883" }, false, "mqtt.broker"},
		{"broker http", func(c *Config) { c.MQTT.Broker = "http://broker:1883" }, false, "mqtt.broker"},
		{"broker ws", func(c *Config) { c.MQTT.Broker = "ws://broker:1883" }, false, "mqtt.broker"},
		{"broker no scheme", func(c *Config) { c.MQTT.Broker = "broker:1883" }, false, "mqtt.broker"},
		{"broker path", func(c *Config) { c.MQTT.Broker = "tcp://broker:1883/x" }, false, "mqtt.broker"},
		{"broker userinfo", func(c *Config) { c.MQTT.Broker = "tcp://u:p@broker:1883" }, false, "mqtt.broker"},
		{"broker port 0", func(c *Config) { c.MQTT.Broker = "tcp://broker:0" }, false, "mqtt.broker"},
		{"broker port 65536", func(c *Config) { c.MQTT.Broker = "tcp://broker:65536" }, false, "mqtt.broker"},
		{"listen all interfaces with login", func(c *Config) { c.MQTT.Listen = ":1883"; c.MQTT.Username, c.MQTT.Password = "u", "p" }, false, ""},
		{"listen ipv6 with login", func(c *Config) { c.MQTT.Listen = "[::]:1883"; c.MQTT.Username, c.MQTT.Password = "u", "p" }, false, ""},
		{"listen no port", func(c *Config) { c.MQTT.Listen = "127.0.0.1" }, false, "mqtt.listen"},
		{"listen named port", func(c *Config) { c.MQTT.Listen = "localhost:mqtt" }, false, "mqtt.listen"},
		{"listen empty for embedded", func(c *Config) { c.MQTT.Listen = "" }, false, "mqtt.listen"},
		{"listen empty with broker", func(c *Config) { c.MQTT.Listen = ""; c.MQTT.Broker = "tcp://b:1883" }, false, ""},
		{"listen bad with broker", func(c *Config) { c.MQTT.Listen = "x"; c.MQTT.Broker = "tcp://b:1883" }, false, "mqtt.listen"},
		{"listen bad host", func(c *Config) { c.MQTT.Listen = "a b:1883" }, false, "mqtt.listen"},
		{"username", func(c *Config) { c.MQTT.Username = "bell" }, false, ""},
		{"username control", func(c *Config) { c.MQTT.Username = "a\x00" }, false, "mqtt.username"},
		{"password anything", func(c *Config) { c.MQTT.Password = "p\x00\xff" }, false, ""},
		{"client_id", func(c *Config) { c.MQTT.ClientID = "bell-1" }, false, ""},
		{"client_id long", func(c *Config) { c.MQTT.ClientID = strings.Repeat("x", 129) }, false, "mqtt.client_id"},
		{"client_id tab", func(c *Config) { c.MQTT.ClientID = "a\tb" }, false, "mqtt.client_id"},
		{"topic_prefix levels", func(c *Config) { c.MQTT.TopicPrefix = "home/doorbell" }, false, ""},
		{"topic_prefix empty", func(c *Config) { c.MQTT.TopicPrefix = "" }, false, "mqtt.topic_prefix"},
		{"topic_prefix plus", func(c *Config) { c.MQTT.TopicPrefix = "a/+" }, false, "mqtt.topic_prefix"},
		{"topic_prefix hash", func(c *Config) { c.MQTT.TopicPrefix = "a/#" }, false, "mqtt.topic_prefix"},
		{"topic_prefix leading slash", func(c *Config) { c.MQTT.TopicPrefix = "/a" }, false, "mqtt.topic_prefix"},
		{"topic_prefix trailing slash", func(c *Config) { c.MQTT.TopicPrefix = "a/" }, false, "mqtt.topic_prefix"},
		{"topic_prefix empty level", func(c *Config) { c.MQTT.TopicPrefix = "a//b" }, false, "mqtt.topic_prefix"},
		{"topic_prefix dollar", func(c *Config) { c.MQTT.TopicPrefix = "$SYS" }, false, "mqtt.topic_prefix"},
		{"discovery_prefix empty", func(c *Config) { c.MQTT.DiscoveryPrefix = "" }, false, "mqtt.discovery_prefix"},
		{"discovery_prefix hash", func(c *Config) { c.MQTT.DiscoveryPrefix = "#" }, false, "mqtt.discovery_prefix"},
		{"discovery_prefix slash", func(c *Config) { c.MQTT.DiscoveryPrefix = "ha/" }, false, "mqtt.discovery_prefix"},

		{"http off", func(c *Config) { c.HTTP.Listen = "" }, false, ""},
		{"http localhost", func(c *Config) { c.HTTP.Listen = "localhost:80" }, false, ""},
		{"http ipv6 loopback", func(c *Config) { c.HTTP.Listen = "[::1]:8080" }, false, ""},
		{"http no port", func(c *Config) { c.HTTP.Listen = "8080" }, false, "http.listen"},
		{"http url", func(c *Config) { c.HTTP.Listen = "http://0.0.0.0:8080" }, false, "http.listen"},

		{"button gpiochip", func(c *Config) { c.GPIO.Button.Line = "gpiochip0:17" }, false, ""},
		{"button name with dot", func(c *Config) { c.GPIO.Button.Line = "PIN.11-a_b" }, false, ""},
		{"button bad chip", func(c *Config) { c.GPIO.Button.Line = "chip0:17" }, false, "gpio.button.line"},
		{"button bad offset", func(c *Config) { c.GPIO.Button.Line = "gpiochip0:-1" }, false, "gpio.button.line"},
		{"button no offset", func(c *Config) { c.GPIO.Button.Line = "gpiochip0:" }, false, "gpio.button.line"},
		{"button space", func(c *Config) { c.GPIO.Button.Line = "GPIO 17" }, false, "gpio.button.line"},
		{"button bad in sim too", func(c *Config) { c.GPIO.Button.Line = "GPIO 17" }, true, "gpio.button.line"},
		{"pir none", func(c *Config) { c.GPIO.PIR.Line = "" }, false, ""},
		{"pir line", func(c *Config) { c.GPIO.PIR.Line = "GPIO27" }, false, ""},
		{"pir bad", func(c *Config) { c.GPIO.PIR.Line = "GPIO27!" }, false, "gpio.pir.line"},
		{"chime line", func(c *Config) { c.GPIO.Chime.Line = "gpiochip1:3" }, false, ""},
		{"chime bad", func(c *Config) { c.GPIO.Chime.Line = "gpiochipX:3" }, false, "gpio.chime.line"},
		{"pir same as button", func(c *Config) { c.GPIO.PIR.Line = "GPIO17" }, false, "gpio.pir.line"},
		{"chime same as button", func(c *Config) { c.GPIO.Button.Line = "gpiochip0:4"; c.GPIO.Chime.Line = "gpiochip00:004" }, false, "gpio.chime.line"},
		{"chime same as pir", func(c *Config) { c.GPIO.PIR.Line = "GPIO27"; c.GPIO.Chime.Line = "GPIO27" }, false, "gpio.chime.line"},
		{"same offset other chip", func(c *Config) { c.GPIO.Button.Line = "gpiochip0:4"; c.GPIO.Chime.Line = "gpiochip1:4" }, false, ""},
		{"button pull down", func(c *Config) { c.GPIO.Button.Pull = "down" }, false, ""},
		{"button pull none", func(c *Config) { c.GPIO.Button.Pull = "none" }, false, ""},
		{"button pull bad", func(c *Config) { c.GPIO.Button.Pull = "Up" }, false, "gpio.button.pull"},
		{"pir pull bad", func(c *Config) { c.GPIO.PIR.Pull = "" }, false, "gpio.pir.pull"},

		{"debounce 0", func(c *Config) { c.GPIO.Button.Debounce = Dur(0) }, false, ""},
		{"debounce 5s", func(c *Config) { c.GPIO.Button.Debounce = Dur(5 * time.Second); c.GPIO.Button.LongPress = Dur(0) }, false, ""},
		{"debounce 6s", func(c *Config) { c.GPIO.Button.Debounce = Dur(6 * time.Second) }, false, "gpio.button.debounce"},
		{"debounce negative", func(c *Config) { c.GPIO.Button.Debounce = Dur(-ms) }, false, "gpio.button.debounce"},
		{"debounce bad text", func(c *Config) { c.GPIO.Button.Debounce = parseDuration("banana") }, false, "gpio.button.debounce"},
		{"min_press below debounce", func(c *Config) { c.GPIO.Button.MinPress = Dur(20 * ms) }, false, ""},
		{"min_press equal debounce", func(c *Config) { c.GPIO.Button.MinPress = Dur(50 * ms) }, false, "gpio.button.min_press"},
		{"min_press above debounce", func(c *Config) { c.GPIO.Button.MinPress = Dur(80 * ms) }, false, "gpio.button.min_press"},
		{"min_press without debounce", func(c *Config) { c.GPIO.Button.Debounce = Dur(0); c.GPIO.Button.MinPress = Dur(80 * ms) }, false, ""},
		{"min_press negative", func(c *Config) { c.GPIO.Button.MinPress = Dur(-ms) }, false, "gpio.button.min_press"},
		{"min_press too long", func(c *Config) { c.GPIO.Button.Debounce = Dur(0); c.GPIO.Button.MinPress = Dur(6 * time.Second) }, false, "gpio.button.min_press"},
		{"long_press off", func(c *Config) { c.GPIO.Button.LongPress = Dur(0) }, false, ""},
		{"long_press equal debounce", func(c *Config) { c.GPIO.Button.LongPress = Dur(50 * ms) }, false, "gpio.button.long_press"},
		{"long_press below debounce", func(c *Config) { c.GPIO.Button.LongPress = Dur(10 * ms) }, false, "gpio.button.long_press"},
		{"long_press 1m", func(c *Config) { c.GPIO.Button.LongPress = Dur(time.Minute) }, false, ""},
		{"long_press too long", func(c *Config) { c.GPIO.Button.LongPress = Dur(time.Minute + 1) }, false, "gpio.button.long_press"},
		{"long_press negative", func(c *Config) { c.GPIO.Button.LongPress = Dur(-time.Second) }, false, "gpio.button.long_press"},
		{"pir hold 1s", func(c *Config) { c.GPIO.PIR.Hold = Dur(time.Second) }, false, ""},
		{"pir hold 1h", func(c *Config) { c.GPIO.PIR.Hold = Dur(time.Hour) }, false, ""},
		{"pir hold short", func(c *Config) { c.GPIO.PIR.Hold = Dur(999 * ms) }, false, "gpio.pir.hold"},
		{"pir hold long", func(c *Config) { c.GPIO.PIR.Hold = Dur(time.Hour + 1) }, false, "gpio.pir.hold"},
		{"chime pulse 10ms", func(c *Config) { c.GPIO.Chime.Pulse = Dur(10 * ms) }, false, ""},
		{"chime pulse 10s", func(c *Config) { c.GPIO.Chime.Pulse = Dur(10 * time.Second) }, false, ""},
		{"chime pulse short", func(c *Config) { c.GPIO.Chime.Pulse = Dur(9 * ms) }, false, "gpio.chime.pulse"},
		{"chime pulse long", func(c *Config) { c.GPIO.Chime.Pulse = Dur(11 * time.Second) }, false, "gpio.chime.pulse"},
		{"chime pulse zero", func(c *Config) { c.GPIO.Chime.Pulse = Dur(0) }, false, "gpio.chime.pulse"},

		{"camera none", func(c *Config) { c.Camera.Device = "" }, false, ""},
		{"camera sim", func(c *Config) { c.Camera.Device = "sim" }, false, ""},
		{"camera by-id", func(c *Config) { c.Camera.Device = "/dev/v4l/by-id/usb-cam-video-index0" }, false, ""},
		{"camera relative", func(c *Config) { c.Camera.Device = "video0" }, false, "camera.device"},
		{"camera Sim", func(c *Config) { c.Camera.Device = "Sim" }, false, "camera.device"},
		{"width 16", func(c *Config) { c.Camera.Width = 16 }, false, ""},
		{"width 4096", func(c *Config) { c.Camera.Width = 4096 }, false, ""},
		{"width 14", func(c *Config) { c.Camera.Width = 14 }, false, "camera.width"},
		{"width 4098", func(c *Config) { c.Camera.Width = 4098 }, false, "camera.width"},
		{"width odd", func(c *Config) { c.Camera.Width = 641 }, false, "camera.width"},
		{"height odd", func(c *Config) { c.Camera.Height = 479 }, false, "camera.height"},
		{"height 0", func(c *Config) { c.Camera.Height = 0 }, false, "camera.height"},
		{"fps 1", func(c *Config) { c.Camera.FPS = 1 }, false, ""},
		{"fps 120", func(c *Config) { c.Camera.FPS = 120 }, false, ""},
		{"fps 0", func(c *Config) { c.Camera.FPS = 0 }, false, "camera.fps"},
		{"fps 121", func(c *Config) { c.Camera.FPS = 121 }, false, "camera.fps"},
		{"format mjpeg", func(c *Config) { c.Camera.Format = "mjpeg" }, false, ""},
		{"format yuyv", func(c *Config) { c.Camera.Format = "yuyv" }, false, ""},
		{"format h264", func(c *Config) { c.Camera.Format = "h264" }, false, ""},
		{"format hevc", func(c *Config) { c.Camera.Format = "hevc" }, false, "camera.format"},

		{"pre_roll 0", func(c *Config) { c.Capture.PreRoll = Dur(0) }, false, ""},
		{"pre_roll 60s", func(c *Config) { c.Capture.PreRoll = Dur(time.Minute) }, false, ""},
		{"pre_roll 61s", func(c *Config) { c.Capture.PreRoll = Dur(61 * time.Second) }, false, "capture.pre_roll"},
		{"pre_roll negative", func(c *Config) { c.Capture.PreRoll = Dur(-1) }, false, "capture.pre_roll"},
		{"post_roll 300s", func(c *Config) { c.Capture.PostRoll = Dur(5 * time.Minute) }, false, ""},
		{"post_roll 301s", func(c *Config) { c.Capture.PostRoll = Dur(301 * time.Second) }, false, "capture.post_roll"},
		{"post_roll bad", func(c *Config) { c.Capture.PostRoll = parseDuration("10") }, false, "capture.post_roll"},
		{"ring 1MiB", func(c *Config) { c.Capture.RingBytes = Bytes(1 << 20) }, false, ""},
		{"ring 1GiB", func(c *Config) { c.Capture.RingBytes = Bytes(1 << 30) }, false, ""},
		{"ring small", func(c *Config) { c.Capture.RingBytes = Bytes(1<<20 - 1) }, false, "capture.ring_bytes"},
		{"ring big", func(c *Config) { c.Capture.RingBytes = Bytes(1<<30 + 1) }, false, "capture.ring_bytes"},
		{"ring bad text", func(c *Config) { c.Capture.RingBytes = parseSize("lots") }, false, "capture.ring_bytes"},

		{"storage other", func(c *Config) { c.Storage.Dir = "/srv/doorbell" }, false, ""},
		{"storage empty", func(c *Config) { c.Storage.Dir = "" }, false, "storage.dir"},
		{"storage relative", func(c *Config) { c.Storage.Dir = "var/lib/doorbell" }, false, "storage.dir"},

		{"log debug", func(c *Config) { c.Log.Level = "debug" }, false, ""},
		{"log warn", func(c *Config) { c.Log.Level = "warn" }, false, ""},
		{"log error", func(c *Config) { c.Log.Level = "error" }, false, ""},
		{"log warning", func(c *Config) { c.Log.Level = "warning" }, false, "log.level"},
		{"log json", func(c *Config) { c.Log.Format = "json" }, false, ""},
		{"log logfmt", func(c *Config) { c.Log.Format = "logfmt" }, false, "log.format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mut(&c)
			err := c.Validate(tt.sim)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Validate(%v) = %v, want nil", tt.sim, err)
				}
				return
			}
			var probs Errors
			if !errors.As(err, &probs) {
				t.Fatalf("Validate(%v) = %v, want Errors", tt.sim, err)
			}
			if len(probs) != 1 || probs[0].Key != tt.key {
				t.Fatalf("Validate(%v) = %v, want one problem at %s", tt.sim, err, tt.key)
			}
			p := probs[0]
			if p.Allowed == "" || !strings.Contains(err.Error(), tt.key+": ") || !strings.Contains(err.Error(), "want ") {
				t.Errorf("problem %q lacks key or allowed text", err)
			}
			if tt.key != "mqtt.password" && !strings.Contains(err.Error(), `"`) {
				t.Errorf("problem %q does not quote the value", err)
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := Default()
	c.Device.ID = "Front Door"
	c.MQTT.Broker = "http://x"
	c.GPIO.Button.Debounce = parseDuration("banana")
	c.Camera.Width = 641
	c.Capture.RingBytes = Bytes(1)
	c.Log.Format = "xml"
	err := c.Validate(false)
	var probs Errors
	if !errors.As(err, &probs) {
		t.Fatalf("Validate = %v, want Errors", err)
	}
	want := []string{"device.id", "mqtt.broker", "gpio.button.line", "gpio.button.debounce", "camera.width", "capture.ring_bytes", "log.format"}
	var got []string
	for _, p := range probs {
		got = append(got, p.Key)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("problem keys = %v, want %v", got, want)
	}
	if n := strings.Count(err.Error(), "\n"); n != len(want)-1 {
		t.Errorf("Error() has %d lines, want %d:\n%s", n+1, len(want), err)
	}
	for _, s := range []string{`gpio.button.debounce: "banana" is not allowed: want a Go duration`, `device.id: "Front Door"`, `camera.width: "641"`, `capture.ring_bytes: "1"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Error() lacks %q:\n%s", s, err)
		}
	}
}

func TestClientIDDerived(t *testing.T) {
	c := valid()
	c.Device.ID = "front"
	if err := c.Validate(false); err != nil {
		t.Fatal(err)
	}
	if c.MQTT.ClientID != "doorbelld-front" {
		t.Errorf("client_id = %q, want doorbelld-front", c.MQTT.ClientID)
	}
	c.MQTT.ClientID = "mine"
	if err := c.Validate(false); err != nil || c.MQTT.ClientID != "mine" {
		t.Errorf("explicit client_id = %q, %v", c.MQTT.ClientID, err)
	}
	p, err := Parse([]byte("device: {id: back}\n"), Default())
	if err != nil || p.MQTT.ClientID != "doorbelld-back" {
		t.Errorf("Parse client_id = %q, %v; want doorbelld-back", p.MQTT.ClientID, err)
	}
	if Default().MQTT.ClientID != "" {
		t.Error("Default fills client_id; Parse would then miss a new device.id")
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in     string
		chip   string
		offset int
		name   string
		ok     bool
	}{
		{"GPIO17", "", -1, "GPIO17", true},
		{"gpiochip0:17", "gpiochip0", 17, "", true},
		{"gpiochip10:0", "gpiochip10", 0, "", true},
		{"gpiochip02:017", "gpiochip2", 17, "", true},
		{"PIN_11.a-b", "", -1, "PIN_11.a-b", true},
		{"", "", -1, "", false},
		{"GPIO 17", "", -1, "", false},
		{"gpiochip:1", "", -1, "", false},
		{"gpiochip0:", "", -1, "", false},
		{"gpiochip0:+1", "", -1, "", false},
		{"gpiochip0:1:2", "", -1, "", false},
		{"chip0:1", "", -1, "", false},
		{"gpiochip0:1234567890", "", -1, "", false},
		{"/dev/gpiochip0:1", "", -1, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			chip, offset, name, err := ParseLine(tt.in)
			if (err == nil) != tt.ok || chip != tt.chip || offset != tt.offset || name != tt.name {
				t.Errorf("ParseLine(%q) = %q, %d, %q, %v; want %q, %d, %q, ok=%v", tt.in, chip, offset, name, err, tt.chip, tt.offset, tt.name, tt.ok)
			}
		})
	}
}

func TestBrokerURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"tcp://broker:1883", "tcp://broker:1883"},
		{"mqtt://broker:1883", "tcp://broker:1883"},
		{"MQTT://broker:1883", "tcp://broker:1883"},
		{"ssl://broker:8883", "ssl://broker:8883"},
		{"mqtts://[fd00::1]:8883", "ssl://[fd00::1]:8883"},
		{"mqtts://broker", ""},
		{"ws://broker:80", ""},
		{"tcp://broker:1883?x=1", ""},
		{"tcp://broker:1883#x", ""},
	}
	for _, tt := range tests {
		if got := (MQTT{Broker: tt.in}).BrokerURL(); got != tt.want {
			t.Errorf("BrokerURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSimDefault(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	c := SimDefault()
	if c.Camera.Device != "sim" {
		t.Errorf("camera.device = %q, want sim", c.Camera.Device)
	}
	if want, err := os.UserCacheDir(); err == nil && c.Storage.Dir != filepath.Join(want, "doorbelld-sim") {
		t.Errorf("storage.dir = %q, want under %q", c.Storage.Dir, want)
	}
	if err := c.Validate(true); err != nil {
		t.Errorf("SimDefault().Validate(true) = %v", err)
	}
	// No user cache dir: fall back to the temp dir.
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	t.Setenv("LocalAppData", "")
	if _, err := os.UserCacheDir(); err == nil {
		t.Skip("user cache dir still known on this OS")
	}
	if got, want := SimDefault().Storage.Dir, filepath.Join(os.TempDir(), "doorbelld-sim"); got != want {
		t.Errorf("fallback storage.dir = %q, want %q", got, want)
	}
}
