package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/hass"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/firmware/supervise"
	"github.com/doorbelld/doorbelld/ota/delivery"
)

// onConnect runs after every (re)connect: replay the outbox, subscribe to
// commands and Home Assistant's birth message, and publish every retained
// state (and the discovery payloads) again.
func (d *Daemon) onConnect() {
	d.sender.Kick()
	d.mq.Subscribe(d.topics.Commands, 1, d.onCommand)
	if d.dev != nil {
		for _, f := range delivery.Filters(d.topics.Base) {
			d.mq.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
				d.dev.HandleMessage(m.Topic(), m.Payload(), m.Retained())
			})
		}
	}
	if d.cfg.MQTT.DiscoveryMode != "off" {
		d.mq.Subscribe(d.topics.Birth, 1, d.onBirth)
	}
	d.xferOnConnect()
	d.publishAll()
	select {
	case d.auditKick <- struct{}{}:
	default:
	}
}

// publishAll publishes discovery and every retained state.
func (d *Daemon) publishAll() {
	var msgs []mqttapi.Message
	if d.cfg.MQTT.DiscoveryMode == "off" {
		msgs = hass.Remove(d.hassO) // both modes' topics, so a doorbell once announced disappears
	} else {
		msgs = hass.Messages(d.hassO)
	}
	for _, m := range msgs {
		d.mq.Publish(m.Topic, 1, m.Retain, m.Payload)
	}
	if d.cfg.Privacy.EncryptSnapshots {
		// Plaintext snapshots from before encrypt_snapshots was set must
		// not stay on the broker.
		d.mq.Publish(d.topics.Snapshot, 1, true, nil)
		d.mq.Publish(d.topics.SnapshotSmall, 1, true, nil)
	}
	if d.door != nil {
		d.mq.Publish(d.topics.DoorState, 1, true, []byte(mqttapi.DoorLocked))
	}
	d.publishSelected()
	d.publishHealth(true)
	if d.motion != nil {
		d.motion.publish()
	}
	privacy, chime := d.sw.get()
	d.mq.Publish(d.topics.PrivacyState, 1, true, mqttapi.OnOff(privacy))
	if d.chime != nil {
		d.mq.Publish(d.topics.ChimeState, 1, true, mqttapi.OnOff(chime))
	}
	if d.dev != nil {
		d.dev.PublishState()
	} else {
		// The same payload the OTA device publishes when it is idle.
		for _, m := range delivery.IdleMessages(d.topics.Topics, d.opts.Version) {
			d.mq.Publish(m.Topic, 1, m.Retain, m.Payload)
		}
	}
	d.publishDiagnostics()
}

// onBirth republishes everything when Home Assistant (re)starts, after a
// short random delay so a house full of devices does not answer at once.
func (d *Daemon) onBirth(_ paho.Client, m paho.Message) {
	if !hass.IsBirth(m.Topic(), m.Payload(), d.hassO) {
		return
	}
	d.log.Info("mqtt: Home Assistant is online, publishing discovery and states")
	d.clock.AfterFunc(time.Duration(rand.Int64N(int64(2*time.Second))), d.publishAll)
}

// onUpdate hands an update offer (URL, local path or chunked transfer) or
// "install" to the OTA device, which decides by signature, version floor
// and its own checks: an MQTT message can at most offer.
func (d *Daemon) onUpdate(topic string, payload []byte) {
	if d.dev == nil {
		d.reject(topic, errors.New("over-the-air updates are off: "+d.otaOff))
		return
	}
	if err := d.dev.HandleCommand(payload); err != nil {
		d.reject(topic, err)
	}
}

// publishDiagnostics publishes the diagnostic sensors' JSON, retained.
func (d *Daemon) publishDiagnostics() {
	if !d.MQTTConnected() {
		return // published on the next connect (publishAll), as health
	}
	diag := mqttapi.Diagnostics{LastBoot: d.started, CPUTempC: cpuTemp(), WiFiSignalDBm: wifiSignal()}
	if d.camera != nil {
		dropped := d.camera.Status().Dropped
		diag.DroppedFrames = &dropped
	}
	down := 0
	for _, st := range d.Parts() {
		if st.Status == supervise.Restarting || st.Status == supervise.Failed {
			down++
		}
	}
	diag.PartsDown = &down
	lost := d.button.Stats().LostEdges
	if d.pir != nil {
		lost += d.pir.Stats().LostEdges
	}
	diag.LostEdges = &lost
	if d.clips != nil {
		st := d.clips.Stats()
		diag.ClipCount = &st.Clips
		if st.FreeBytes >= 0 {
			free := uint64(st.FreeBytes)
			diag.FreeStorageBytes = &free
		}
	}
	b, err := json.Marshal(diag)
	if err != nil {
		d.log.Error("daemon: diagnostics", "err", err)
		return
	}
	d.mq.Publish(d.topics.Diagnostics, 1, true, b)
}

// clipReady publishes each finished clip's metadata, retained, on the
// clip topic.
func (d *Daemon) clipReady(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-d.rec.Ready():
			if !ok {
				return nil
			}
			d.publishClip(m)
		}
	}
}

func (d *Daemon) publishClip(m storage.Meta) {
	if sm, ok := d.clips.Lookup(m.ID); ok {
		m = sm // as stored: its size on the card, and whether it is sealed
		m.Digest = nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		d.log.Error("daemon: clip metadata", "err", err)
		return
	}
	d.log.Info("clip ready", "id", m.ID, "events", m.EventIDs, "frames", m.Frames, "duration", m.Duration(), "bytes", m.Size)
	d.mq.Publish(d.topics.Clip, 1, true, b)
	if d.timeline != nil {
		d.timeline.SetClip(m.EventIDs, m.ID)
	}
	if d.xfer != nil {
		d.xfer.Offer(m)
	}
}
