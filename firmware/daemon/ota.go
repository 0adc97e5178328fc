package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/delivery"
	"github.com/doorbelld/doorbelld/ota/install"
)

// buildOTA sets up over-the-air updates. They stay off — every offer is
// refused, logged once — without trusted keys, and when this binary was
// not started from an OTA slot (installed without scripts/install.sh, or
// run by hand, as sim mode usually is).
func (d *Daemon) buildOTA() error {
	keysFile := d.cfg.OTA.KeysFile
	if keysFile == "" {
		d.otaOff = "ota.keys_file is empty"
		return nil
	}
	keys, err := ota.LoadKeyring(keysFile)
	if err != nil || keys.Len() == 0 {
		d.otaOff = fmt.Sprintf("no trusted keys in ota.keys_file %s (%v)", keysFile, err)
		return nil
	}
	inst, err := install.New(install.Options{
		Dir: filepath.Join(d.cfg.Storage.Dir, "ota"), Keys: keys, Version: d.opts.Version,
		ConfirmWindow: d.cfg.OTA.ConfirmWindow.D(), Logger: d.log,
	})
	if err != nil {
		return fmt.Errorf("daemon: ota: %w", err)
	}
	d.inst = inst
	return nil
}

// bootOTA counts this start of a version on trial (the launcher usually
// has already) and says whether the daemon must exit for a rollback.
func (d *Daemon) bootOTA() error {
	if d.inst == nil {
		return nil
	}
	res, err := d.inst.Boot()
	switch {
	case errors.Is(err, install.ErrLayout):
		d.otaOff = "not started from an OTA slot (install with scripts/install.sh)"
		d.inst = nil
		return nil
	case err != nil:
		d.log.Error("daemon: ota boot check", "err", err)
	}
	if res.RestartRequired {
		return ErrRestart
	}
	d.dev = delivery.NewDevice(delivery.Options{
		Base: d.topics.Base, Installer: d.inst, Version: d.opts.Version, Logger: d.log,
		OfferDir: d.cfg.OTA.OfferDir, URLHosts: d.cfg.OTA.URLHosts,
		Publish: func(topic string, retained bool, payload []byte) error {
			// Offline, waiting for an ack would only delay a restart or a
			// rollback; the state is published again on every connect.
			if !d.MQTTConnected() {
				return errors.New("ota: publish " + topic + ": not connected")
			}
			return mqttpub.Wait(d.mq.Publish(topic, 1, retained, payload), 10*time.Second, "ota: publish "+topic)
		},
	})
	return nil
}

// confirmOTA tells the installer this version is healthy: the broker is
// connected and the GPIO lines are open (the button's Input would have
// stopped the daemon otherwise).
func (d *Daemon) confirmOTA() {
	if d.dev == nil || d.otaConfirmed || !d.MQTTConnected() {
		return
	}
	if err := d.dev.Confirm(); err != nil {
		d.log.Error("daemon: ota: confirm health", "err", err)
		return
	}
	d.otaConfirmed = true
}

// runOTA is the OTA part: the device takes offers until ctx is done, or
// until an installed update needs the restart into the other slot.
func (d *Daemon) runOTA(ctx context.Context) error {
	err := d.dev.Run(ctx)
	if errors.Is(err, install.ErrRestartRequired) {
		d.log.Warn("daemon: restarting into the other OTA slot", "reason", err)
		d.record(audit.Entry{Action: audit.ActionOTAInstall, Actor: "mqtt", Reason: err.Error()})
		d.restart()
		return nil
	}
	return err
}
