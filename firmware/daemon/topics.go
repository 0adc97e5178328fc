package daemon

import (
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/hass"
)

// Topics are the MQTT topics of one device. See README's topic reference.
// The ones Home Assistant's entities read come from package hass, so
// discovery and the daemon can never disagree.
type Topics struct {
	hass.TopicSet
	SnapshotInfo string // <base>/snapshot/info  JSON about the snapshot JPEG, retained
	Health       string // <base>/health         JSON, retained
	Clip         string // <base>/clip           JSON about the newest clip, retained
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
		NoCamera: c.Camera.Device == "", NoMotion: !sim && c.GPIO.PIR.Line == "", NoChime: !sim && c.GPIO.Chime.Line == "",
		SmallSnapshot: c.Snapshot.MaxWidth > 0, DoublePress: c.GPIO.Button.DoublePress.D() > 0,
	}
}

// TopicsFor returns the topics for a config.
func TopicsFor(c config.Config) Topics {
	t := hass.Topics(hassOptions(c, "", false))
	return Topics{
		TopicSet:     t,
		SnapshotInfo: t.Base + "/snapshot/info",
		Health:       t.Base + "/health",
		Clip:         t.Base + "/clip",
	}
}
