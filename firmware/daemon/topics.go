package daemon

import (
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/hass"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
)

// Topics are the MQTT topics of one device: every topic under its base,
// <mqtt.topic_prefix>/<device.id> (mqttapi.Topics), and the three that
// depend on the Home Assistant options. See README's topic reference.
type Topics struct {
	mqttapi.Topics
	SnapshotHA string // what Home Assistant's image entity shows: Snapshot, or SnapshotSmall with snapshot.max_width
	Birth      string // Home Assistant's birth message topic
	Discovery  string // the device discovery config topic (mqtt.discovery_mode: device)
}

// hassOptions says what to announce to Home Assistant for a config. In
// sim mode every part exists.
func hassOptions(c config.Config, version string, sim bool) hass.Options {
	mode := c.MQTT.DiscoveryMode
	if mode == "off" {
		mode = hass.ModeDevice // for the topics; publishAll then sends hass.Remove, which clears both modes'
	}
	return hass.Options{
		DeviceID: c.Device.ID, DeviceName: c.Device.Name, Version: version,
		TopicPrefix: c.MQTT.TopicPrefix, DiscoveryPrefix: c.MQTT.DiscoveryPrefix, Mode: mode,
		ConfigurationURL: hass.ConfigurationURL(c.HTTP.Listen, c.HTTP.CertFile != "", nil),
		NoCamera:         c.Camera.Device == "", NoMotion: !sim && c.GPIO.PIR.Line == "", NoChime: !sim && c.GPIO.Chime.Line == "",
		SmallSnapshot: c.Snapshot.MaxWidth > 0, DoublePress: c.GPIO.Button.DoublePress.D() > 0,
		SealedSnapshots: c.Privacy.EncryptSnapshots,
		DoorPIN:         c.GPIO.Door.Line != "" && c.GPIO.Door.PINHash != "",
		Replies:         replyNames(c.Audio),
	}
}

// TopicsFor returns the topics for a config.
func TopicsFor(c config.Config) Topics {
	o := hassOptions(c, "", false)
	return Topics{
		Topics:     hass.Topics(o),
		SnapshotHA: hass.ImageTopic(o),
		Birth:      hass.BirthTopic(o),
		Discovery:  hass.DiscoveryTopic(o),
	}
}

// replyNames are the quick replies' names, in the config's order.
func replyNames(a config.Audio) []string {
	var n []string
	for _, r := range a.Replies {
		n = append(n, r.Name)
	}
	return n
}
