package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml")

// TestGolden parses each input, checks it validates, and compares the
// marshalled result with its golden file.
func TestGolden(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"full", "testdata/full.yaml"},
		{"embedded", "testdata/embedded.yaml"},
		{"example", "example.yaml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.in, Default())
			if err != nil {
				t.Fatal(err)
			}
			got, err := yaml.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("yaml.Marshal(Load(%s)) differs from %s (run go test -update after checking):\n%s", tt.in, golden, got)
			}
		})
	}
}

func TestFullFile(t *testing.T) {
	got, err := Load("testdata/full.yaml", Default())
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Device: Device{ID: "front-door_1", Name: "Front door: Haustür"},
		MQTT: MQTT{
			Broker: "mqtts://broker.example.net:8883", Listen: "[::1]:11883",
			Username: "doorbell", Password: "s3cret: with # and 'quotes'",
			CAFile: "/etc/ssl/home-ca.pem", CertFile: "/etc/doorbell/client.pem", KeyFile: "/etc/doorbell/client.key",
			TLSInsecureSkipVerify: true,
			ClientID:              "bell-front", TopicPrefix: "home/doorbells", DiscoveryPrefix: "ha", DiscoveryMode: "single",
			OwnerKeyFile: "/etc/doorbell/owner.key",
		},
		HTTP: HTTP{Listen: "0.0.0.0:8081", Hosts: []string{"doorbell.lan", "192.168.1.20", "fd00::20"},
			CertFile: "/etc/doorbell/web.pem", KeyFile: "/etc/doorbell/web.key"},
		RTSP: RTSP{Listen: "[::]:8555", UDPPort: 8000, CertFile: "/etc/doorbell/rtsp.pem", KeyFile: "/etc/doorbell/rtsp.key"},
		Users: []User{
			{Username: "alice", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE"},
			{Username: "bob", PasswordHash: "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		},
		Privacy: Privacy{Masks: []Mask{
			{Polygon: [][]float64{{0, 0}, {0.3, 0}, {0.25, 1}, {0, 1}}},
			{Rect: Rect{X: 0.7, W: 0.3, H: 0.5}},
		},
			Recipients: []string{"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
				"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN owner@laptop"},
			EncryptSnapshots: true,
		},
		Audio: Audio{Speaker: "hw:Device,0", AutoReplyAfter: Dur(45 * time.Second), Microphone: "hw:Device,0",
			MicrophoneRate: 48000, Talk: false, Echo: EchoFullDuplex},
		GPIO: GPIO{
			Button: Button{Line: "gpiochip0:17", Pull: "none", Debounce: Dur(100 * time.Millisecond),
				MinPress: Dur(20 * time.Millisecond), LongPress: Dur(45 * time.Second), DoublePress: Dur(700 * time.Millisecond)},
			PIR: PIR{Line: "GPIO27", ActiveLow: true, Pull: "up", Hold: Dur(time.Hour),
				MinActive: Dur(2 * time.Second), Cooldown: Dur(5 * time.Minute)},
			Chime: Chime{Line: "gpiochip1:2", ActiveLow: true, Pulse: Dur(10 * time.Millisecond),
				MinGap: Dur(10 * time.Second), QuietHours: "22:30-06:45,13:00-14:00"},
			LED:  LED{Line: "GPIO23", ActiveLow: true},
			Door: Door{Line: "gpiochip0:24", ActiveLow: true, Pulse: Dur(3 * time.Second), PINHash: "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		},
		Camera:   Camera{Device: "/dev/v4l/by-id/usb-cam-video-index0", Width: 1920, Height: 1080, FPS: 30, Format: "mjpeg"},
		Capture:  Capture{PostRoll: Dur(5 * time.Minute), RingBytes: Bytes(2000000)},
		Clip:     Clip{MaxLength: Dur(10 * time.Minute)},
		Snapshot: Snapshot{MaxWidth: 320},
		Storage:  Storage{Dir: "/srv/doorbell", Mode: "ram", MaxBytes: Bytes(128 << 20), MaxAge: Dur(24 * time.Hour)},
		OTA: OTA{KeysFile: "/srv/doorbell/keys.pub", ConfirmWindow: Dur(10 * time.Minute), OfferDir: "/srv/doorbell/offers",
			URLHosts: []string{"updates.lan", "192.168.1.5:8000", "[fd00::5]:8443"}},
		Log: Log{Level: "debug", Format: "json"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
	// Every key differs from its default, so the file really sets them all
	// (but mqtt.accounts, which an external broker rules out: see
	// TestEmbeddedFile; privacy.identity_file, which must be a real key
	// file: see TestIdentityFile; audio.replies, auto_reply and ring_tone,
	// which must be real WAV files: see TestAudioReplies).
	def := Default()
	for _, k := range leafKeys(reflect.TypeFor[Config](), "") {
		if reflect.DeepEqual(fieldAt(got, k), fieldAt(def, k)) && k != "mqtt.client_id" && k != "mqtt.accounts" && k != "privacy.identity_file" &&
			k != "audio.replies" && k != "audio.auto_reply" && k != "audio.ring_tone" {
			t.Errorf("testdata/full.yaml leaves %s at its default", k)
		}
	}
}

func TestEmbeddedFile(t *testing.T) {
	got, err := Load("testdata/embedded.yaml", Default())
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.GPIO.Button.Line = "GPIO17"
	want.MQTT.Listen = "0.0.0.0:1883"
	want.MQTT.Username, want.MQTT.Password = "doorbelld", "daemon: s3cret"
	want.MQTT.Accounts = []Account{
		{Username: "homeassistant", Password: "ha: s3cret", Role: RoleOwner},
		{Username: "dashboard", Password: "dash s3cret", Role: RoleReader},
	}
	want.MQTT.OwnerKeyFile = "/etc/doorbell/owner.key"
	want.Storage.Dir = "/var/lib/doorbell-ram"
	want.Storage.Mode = "ram"
	want.fillDerived()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%#v\nwant\n%#v", got, want)
	}
}

func TestExample(t *testing.T) {
	got, err := Parse(Example, Default())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(false); err != nil {
		t.Fatalf("Example does not validate: %v", err)
	}
	want := Default()
	want.GPIO.Button.Line = "GPIO17"
	want.GPIO.PIR.Line = "GPIO27"
	want.GPIO.Chime.Line = "GPIO22"
	want.fillDerived()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Example is not the defaults plus the three lines:\n%+v\nwant\n%+v", got, want)
	}
}

// TestEveryKeyDocumented checks that example.yaml sets every key and that
// README.md and the allowed table know of no other keys.
func TestEveryKeyDocumented(t *testing.T) {
	keys := leafKeys(reflect.TypeFor[Config](), "")
	_, lines, err := parse(Example, Default())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
		if lines[k] == 0 {
			t.Errorf("example.yaml does not set %s", k)
		}
		if !bytes.Contains(ref, []byte("| `"+k+"` |")) {
			t.Errorf("README.md has no row for %s", k)
		}
	}
	for k := range allowed {
		if !known[k] {
			t.Errorf("allowed has text for %s, which is not a key", k)
		}
	}
}

// leafKeys lists the dotted keys of every non-struct field of t.
func leafKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for _, f := range fieldsOf(t) {
		k := join(prefix, f.name)
		ft := t.Field(f.index).Type
		if ft.Kind() == reflect.Struct && ft != durationType && ft != sizeType {
			keys = append(keys, leafKeys(ft, k)...)
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

// fieldAt returns the value at a dotted key.
func fieldAt(c Config, key string) any {
	v := reflect.ValueOf(c)
	for _, name := range strings.Split(key, ".") {
		i, _ := fieldIndex(fieldsOf(v.Type()), name)
		v = v.Field(i)
	}
	return v.Interface()
}
