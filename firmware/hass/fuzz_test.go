package hass

import (
	"encoding/json"
	"strings"
	"testing"
)

// Whatever options pass Validate give payloads that are JSON, topics Home
// Assistant accepts, and names carried through unchanged.
func FuzzMessages(f *testing.F) {
	f.Add("front", "Front door", "doorbell", "homeassistant", "1.4.0", false, byte(0))
	f.Add("a-b_C9", `"quoted" <b>&`, "home/bells", "ha", "", true, byte(7))
	f.Add("x", "Tür ☃", "a/b/c", "h", "v\x00", false, byte(2))
	f.Fuzz(func(t *testing.T, id, name, prefix, disc, version string, single bool, hw byte) {
		o := Options{DeviceID: id, DeviceName: name, TopicPrefix: prefix, DiscoveryPrefix: disc, Version: version,
			NoCamera: hw&1 != 0, NoMotion: hw&2 != 0, NoChime: hw&4 != 0}
		if single {
			o.Mode = ModeSingle
		}
		msgs := Messages(o)
		if Validate(o) != nil {
			return
		}
		o.ensureDefaults()
		for _, m := range append(msgs, Remove(o)...) {
			if !validTopic(m.Topic) || !strings.HasPrefix(m.Topic, o.DiscoveryPrefix+"/") || !strings.HasSuffix(m.Topic, "/config") {
				t.Fatalf("topic %q", m.Topic)
			}
			if !discoveryTopic.MatchString(strings.TrimPrefix(m.Topic, o.DiscoveryPrefix+"/")) {
				t.Fatalf("Home Assistant rejects %q", m.Topic)
			}
			if len(m.Payload) == 0 {
				continue
			}
			var p struct {
				Device struct {
					Name string `json:"name"`
				} `json:"device"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatalf("%s: %v: %s", m.Topic, err, m.Payload)
			}
			if p.Device.Name != o.DeviceName {
				t.Fatalf("device name %q became %q", o.DeviceName, p.Device.Name)
			}
		}
		ents := decodeEntities(t, o, msgs)
		checkEntities(t, o, ents)
	})
}
