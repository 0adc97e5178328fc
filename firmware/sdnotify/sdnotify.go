// Package sdnotify tells systemd how doorbelld is doing: READY=1 once every
// part is up (Type=notify), STOPPING=1 on shutdown, and WATCHDOG=1 pings
// while the daemon's event loop is alive. Without NOTIFY_SOCKET (a laptop,
// a test) every call is a no-op.
package sdnotify

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd that startup has finished.
func Ready(log *slog.Logger) { notify(log, daemon.SdNotifyReady) }

// Stopping tells systemd that shutdown has begun.
func Stopping(log *slog.Logger) { notify(log, daemon.SdNotifyStopping) }

func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sdnotify: notify systemd", "state", state, "err", err)
	}
}

// Watchdog pings systemd's watchdog at half of WatchdogSec for as long as
// healthy says so, until ctx is done. When healthy returns false the pings
// stop and systemd restarts the service. Without a watchdog it returns
// at once.
func Watchdog(ctx context.Context, log *slog.Logger, healthy func() bool) error {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("sdnotify: watchdog settings", "err", err)
		return nil
	}
	if interval == 0 {
		return nil
	}
	log.Info("sdnotify: watchdog enabled", "interval", interval)
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if healthy() {
				notify(log, daemon.SdNotifyWatchdog)
			} else {
				log.Error("sdnotify: unhealthy, withholding watchdog ping")
			}
		}
	}
}
