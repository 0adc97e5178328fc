package daemon

import (
	"os"
	"path/filepath"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
)

// buildXfer offers stored clips over MQTT (doorbellctl clips pull). It
// needs the MQTT client, so Run calls it.
func (d *Daemon) buildXfer() {
	if d.clips == nil {
		return
	}
	ram := d.cfg.Storage.Mode == string(storage.ModeRAM)
	if !ram {
		// Earlier versions kept a manifest cache here; the digests
		// now live in each clip's metadata.
		_ = os.RemoveAll(filepath.Join(d.cfg.Storage.Dir, "clipxfer"))
	}
	d.xfer = clipxfer.NewPublisher(clipxfer.PublisherOptions{
		Base: d.topics.Base, Client: d.mq, Store: d.clips,
		OnDelivered: func(id string) {
			d.log.Debug("clip delivered to a receiver", "id", id)
			// The receiver's confirmation is what the device learns of a
			// pull; with an owner key only a signed one gets here.
			by, how := "mqtt", "a receiver confirmed it (done)"
			if d.ownerKey != nil {
				by, how = "owner-key", "confirmed with the owner key"
			}
			d.record(audit.Entry{Action: audit.ActionClipPull, Actor: by, Object: id, Reason: how})
			if ram { // RAM clips live only until delivered
				if err := d.clips.MarkDelivered(id); err != nil {
					d.log.Warn("daemon: free delivered clip", "id", id, "err", err)
				}
			}
		},
		// Only a done signed with the owner key counts; in RAM mode
		// (which needs the key) an unsigned one frees nothing.
		OwnerKey: d.ownerKey, RequireOwnerDone: ram,
		Logger: d.log,
	})
}

// xferOnConnect subscribes to the receivers' requests and re-announces.
func (d *Daemon) xferOnConnect() {
	if d.xfer == nil {
		return
	}
	for _, f := range clipxfer.Filters(d.topics.Base) {
		d.mq.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			if err := d.xfer.HandleMessage(m.Topic(), m.Payload(), m.Retained()); err != nil {
				d.reject(m.Topic(), err)
			}
		})
	}
	d.xfer.Kick()
}
