package daemon

import "github.com/doorbelld/doorbelld/firmware/config"

// Topics are the MQTT topics of one device. See README's topic reference.
type Topics struct {
	Event        string // <prefix>/<id>/event          QoS 1, never retained
	Snapshot     string // <prefix>/<id>/snapshot       raw JPEG, QoS 1, retained
	SnapshotInfo string // <prefix>/<id>/snapshot/info  JSON about that JPEG, QoS 1, retained
	Status       string // <prefix>/<id>/status         online|offline, retained, Last Will
	Health       string // <prefix>/<id>/health         JSON, retained
	Motion       string // <prefix>/<id>/motion         ON|OFF, retained
}

// TopicsFor returns the topics for a config.
func TopicsFor(c config.Config) Topics {
	base := c.MQTT.TopicPrefix + "/" + c.Device.ID + "/"
	return Topics{
		Event:        base + "event",
		Snapshot:     base + "snapshot",
		SnapshotInfo: base + "snapshot/info",
		Status:       base + "status",
		Health:       base + "health",
		Motion:       base + "motion",
	}
}
