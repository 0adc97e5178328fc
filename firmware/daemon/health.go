package daemon

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/firmware/supervise"
	"github.com/doorbelld/doorbelld/firmware/web"
	"github.com/doorbelld/doorbelld/hal"
)

// Health is the retained JSON on the health topic and part of /api/status.
type Health = mqttapi.Health

// PartHealth is one part that is not running.
type PartHealth = mqttapi.PartHealth

func (d *Daemon) health() Health {
	h := Health{
		Status: mqttapi.HealthOK, Version: d.opts.Version, Started: d.started.UTC().Format(event.TimeLayout), Sim: d.opts.Sim,
		Camera: mqttapi.PartNone, PIR: mqttapi.PartNone, Chime: mqttapi.PartNone, Speaker: mqttapi.PartNone,
		Microphone: mqttapi.PartNone,
	}
	for _, st := range d.Parts() {
		if st.Status == supervise.Running || st.Status == supervise.Starting {
			if st.Name == "pir" {
				h.PIR = mqttapi.PartOK
			}
			continue
		}
		if st.Status == supervise.Stopped && st.LastError == "" {
			continue // done with nothing to do (the watchdog without systemd), or shutting down
		}
		if st.Name == "pir" {
			h.PIR = mqttapi.PartUnavailable
		}
		h.Parts = append(h.Parts, PartHealth{Name: st.Name, Status: string(st.Status), LastError: st.LastError, Restarts: st.Restarts})
		h.Status = mqttapi.HealthDegraded
	}
	if d.mq != nil && !d.mq.Connected() {
		if e := d.mq.LastError(); e != "" {
			h.MQTTError = e
			h.Status = mqttapi.HealthDegraded
		}
	}
	if err := d.opts.ConfigDamaged; err != nil {
		h.ConfigError = err.Error() + "; running on the last good copy"
		h.Status = mqttapi.HealthDegraded
	}
	if d.pir != nil && h.PIR == mqttapi.PartNone {
		h.PIR = mqttapi.PartOK // before Run
	}
	if d.camera != nil {
		st := d.camera.Status()
		h.Camera = mqttapi.PartUnavailable
		switch {
		case st.Available:
			h.Camera = mqttapi.PartOK
			h.CameraFormat = st.Format.String()
		case st.Paused:
			h.Camera = mqttapi.PartOff // privacy mode closed it: no failure
		}
		h.CameraError = st.LastError
	}
	if d.chime != nil {
		h.Chime = mqttapi.ChimeDisabled
		if d.chime.Enabled() {
			h.Chime = mqttapi.ChimeEnabled
		}
	}
	if sp := d.speaker; sp != nil {
		st := sp.player.Status()
		h.Speaker = mqttapi.PartOK
		if !st.Available && st.LastError != "" {
			h.Speaker, h.SpeakerError = mqttapi.PartUnavailable, st.LastError
		}
	}
	if m := d.mic; m != nil {
		st := m.Status()
		switch {
		case st.Paused:
			h.Microphone = mqttapi.PartOff
		case st.Open || st.LastError == "": // open, or not tried yet
			h.Microphone = mqttapi.PartOK
		default:
			h.Microphone, h.MicrophoneError = mqttapi.PartUnavailable, st.LastError
		}
	}
	if h.Camera == mqttapi.PartUnavailable || h.PIR == mqttapi.PartUnavailable || h.Speaker == mqttapi.PartUnavailable ||
		h.Microphone == mqttapi.PartUnavailable {
		h.Status = mqttapi.HealthDegraded
	}
	return h
}

// publishHealth publishes the health JSON when it changed, or always. It
// reports whether it changed.
func (d *Daemon) publishHealth(always bool) bool {
	if !d.MQTTConnected() {
		// Published on the next connect (publishAll). Not handed to paho
		// meanwhile: a publish in the instant paho resends its store
		// races inside paho (its resume() and writer share the packet).
		return false
	}
	b, _ := json.Marshal(d.health())
	d.mu.Lock()
	same := string(b) == string(d.lastHealth)
	d.lastHealth = b
	d.mu.Unlock()
	if same && !always {
		return false
	}
	if !same {
		d.log.Info("health", "json", string(b))
	}
	d.mq.Publish(d.topics.Health, 1, true, b)
	return !same
}

// updateLED shows the daemon's state on the status LED.
func (d *Daemon) updateLED() {
	if d.led == nil {
		return
	}
	p := hal.Idle
	if privacy, _ := d.sw.get(); privacy {
		p = hal.Privacy
	}
	if !d.MQTTConnected() {
		p = hal.Offline
	}
	if d.dev != nil && d.dev.State().InProgress {
		p = hal.Updating
	}
	d.led.Set(p)
}

// backend serves the web API.
type backend struct{ d *Daemon }

func (b backend) Status() any {
	d := b.d
	st := map[string]any{"device": d.cfg.Device, "health": d.health(), "mqtt_connected": d.MQTTConnected(), "parts": d.Parts()}
	if d.bus != nil {
		st["sinks"] = d.bus.Stats()
	}
	if d.last != nil {
		if e := d.last.Last(); e != nil {
			st["last_event"] = e
		}
	}
	if d.camera != nil {
		st["camera"] = d.camera.Status()
	}
	inputs := map[string]hal.InputStats{"button": d.button.Stats()}
	if d.pir != nil {
		inputs["pir"] = d.pir.Stats()
	}
	st["inputs"] = inputs // edges read, edges the kernel lost, the reader's longest stall
	st["commands"] = d.commandStats()
	privacy, chime := d.sw.get()
	st["privacy"], st["chime_on"] = privacy, chime // the switches, as the web app shows them
	if d.live != nil {
		st["live"] = d.live.Stats() // viewers per kind, frames delivered, encoded, dropped
	}
	if d.rtsp != nil {
		st["rtsp"] = d.rtsp.Stats() // connections, readers, refusals (auth, privacy), packets
	}
	if d.timeline != nil {
		st["timeline"] = d.timeline.Stats()
	}
	if d.clips != nil {
		st["storage"] = d.clips.Stats() // mode, clips and bytes held, the limit, free space
	}
	if d.masker != nil {
		st["masks"] = d.masker.Stats() // frames masked, in the DCT domain or by a full decode (and why), refused
	}
	if d.broker != nil {
		st["broker"] = d.broker.Stats() // logins refused, slow clients dropped, oversize packets, ...
	}
	if d.web != nil {
		st["http"] = d.web.Stats() // connections, and requests refused for their Host, Origin or the cap
	}
	return st
}

func (b backend) LatestJPEG(ctx context.Context) ([]byte, error) {
	if privacy, _ := b.d.sw.get(); privacy {
		return nil, web.ErrPrivate
	}
	if b.d.camera == nil {
		return nil, errors.New("no camera configured (camera.device is empty)")
	}
	s, err := b.d.camera.Snapshot(ctx, b.d.clock.Now())
	if err != nil {
		return nil, err
	}
	return s.JPEG, nil
}
