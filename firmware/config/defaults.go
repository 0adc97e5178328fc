package config

import (
	"os"
	"path/filepath"
	"time"
)

// Default returns the production defaults: a real Raspberry Pi with a
// camera at /dev/video0, state in /var/lib/doorbell, the embedded MQTT
// broker on 127.0.0.1:1883 and the web API on 127.0.0.1:8080.
// gpio.button.line has no default: a real install must name it.
// mqtt.client_id is left empty; Parse and Validate derive it from device.id.
func Default() Config {
	return Config{
		Device: Device{ID: "doorbell", Name: "Doorbell"},
		MQTT: MQTT{
			Listen:          "127.0.0.1:1883",
			TopicPrefix:     "doorbell",
			DiscoveryPrefix: "homeassistant",
			DiscoveryMode:   "device",
		},
		HTTP: HTTP{Listen: "127.0.0.1:8080"},
		RTSP: RTSP{Listen: "127.0.0.1:8554"},
		GPIO: GPIO{
			Button: Button{
				ActiveLow: true,
				Pull:      "up",
				Debounce:  Dur(50 * time.Millisecond),
				MinPress:  Dur(3 * time.Millisecond),
				LongPress: Dur(2 * time.Second),
			},
			PIR:   PIR{Pull: "down", Hold: Dur(30 * time.Second)},
			Chime: Chime{Pulse: Dur(250 * time.Millisecond), Enabled: true, MinGap: Dur(3 * time.Second)},
			Door:  Door{Pulse: Dur(2 * time.Second)},
		},
		Camera: Camera{Device: "/dev/video0", Width: 640, Height: 480, FPS: 15, Format: "auto"},
		Capture: Capture{
			PreRoll:   Dur(5 * time.Second),
			PostRoll:  Dur(10 * time.Second),
			RingBytes: Bytes(64 << 20),
		},
		Clip:    Clip{Enabled: true, Merge: true, MaxLength: Dur(time.Minute)},
		Storage: Storage{Dir: "/var/lib/doorbell", Mode: "disk", MaxAge: Dur(7 * 24 * time.Hour), MinFree: Bytes(64 << 20)},
		OTA:     OTA{KeysFile: "/etc/doorbell/ota-keys.pub", ConfirmWindow: Dur(3 * time.Minute)},
		Audio:   Audio{AutoReplyAfter: Dur(20 * time.Second), MicrophoneRate: 16000, Talk: true, Echo: EchoHalfDuplex},
		Log:     Log{Level: "info", Format: "text"},
	}
}

// SimDefault returns Default adjusted for the simulator on a workstation:
// the simulated camera, and state in <user cache dir>/doorbelld-sim (or
// <temp dir>/doorbelld-sim when there is no user cache dir).
func SimDefault() Config {
	c := Default()
	c.Camera.Device = "sim"
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	c.Storage.Dir = filepath.Join(dir, "doorbelld-sim")
	return c
}

// fillDerived fills the values that default to other values: an empty
// mqtt.client_id becomes "doorbelld-<device.id>". It also cleans the
// absolute directories storage.dir and ota.offer_dir (filepath.Clean:
// "/var/lib/doorbell/../x" is "/var/lib/x"); a relative one is kept as
// written for Validate to report. Parse and Validate call it, so a Config
// that went through either has them filled and cleaned.
func (c *Config) fillDerived() {
	if c.MQTT.ClientID == "" {
		c.MQTT.ClientID = "doorbelld-" + c.Device.ID
	}
	cleanDir(&c.Storage.Dir)
	cleanDir(&c.OTA.OfferDir)
}

func cleanDir(p *string) {
	if filepath.IsAbs(*p) && printable(*p) {
		*p = filepath.Clean(*p)
	}
}
