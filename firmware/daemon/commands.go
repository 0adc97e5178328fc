package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/renameio/v2"

	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/command"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/ota/install"
)

// The command path. Any client of the broker can publish on <base>/cmd/+,
// so a command is judged at the door, in paho's goroutine, at the cost of
// a parse and a token bucket: size (command.MaxPayload), retained, kind,
// payload, rate (command.Gate, per kind), and for a snapshot whether one
// is already on its way (then it folds into that one). What passes waits
// in a short queue for the "commands" part, which carries it out. Nothing
// on this path holds a lock across disk I/O, and the event path never
// waits on it: switches change in memory at once and are saved behind.

// commandStats are the command path's counters, in /api/status.
type commandStats struct {
	Accepted   uint64                  `json:"accepted"`
	Refused    map[command.Kind]uint64 `json:"rate_limited,omitempty"`
	Folded     uint64                  `json:"folded"`      // snapshot commands that joined one on its way
	QueueFull  uint64                  `json:"queue_full"`  // commands dropped: the queue was full
	Restarts   int                     `json:"restarts_1h"` // accepted restart commands in the last hour
	Rejected   uint64                  `json:"rejected"`    // malformed, retained, too large, rate-limited, refused
	MaxRestart int                     `json:"max_restarts_per_hour"`
}

// commandQueue is how many accepted commands may wait for the commands part.
const commandQueue = 16

// onCommand handles a message on <base>/cmd/+: it judges and queues it.
// Refused commands are logged (once a minute per topic and reason) and
// counted.
func (d *Daemon) onCommand(_ paho.Client, m paho.Message) {
	if d.door != nil && m.Topic() == d.topics.Command(command.Door) {
		d.onDoor(m.Payload(), m.Retained()) // judged and audited, retained or not
		return
	}
	c, err := command.Parse(m.Topic(), m.Payload(), m.Retained(), d.topics.Base)
	if err != nil {
		d.reject(m.Topic(), err)
		return
	}
	if err := d.submit(c); err != nil {
		d.reject(m.Topic(), err)
	}
}

// submit judges an accepted command against the per-kind rate limits and
// queues it for runCommands; MQTT and the web app both come through here.
// A snapshot command while one is on its way is folded into it (nil).
func (d *Daemon) submit(c command.Command) error {
	if err := d.gate.Allow(c.Kind); err != nil {
		return err
	}
	if c.Kind == command.Snapshot && !d.snapCmd.CompareAndSwap(false, true) {
		d.cmdFolded.Add(1) // one is on its way: this one gets the same picture
		return nil
	}
	select {
	case d.cmds <- c:
		d.cmdAccepted.Add(1)
		return nil
	default:
		if c.Kind == command.Snapshot {
			d.snapCmd.Store(false)
		}
		d.cmdQueueFull.Add(1)
		return fmt.Errorf("command: %s: the command queue is full (%d waiting): %w", c.Kind, commandQueue, command.ErrRateLimited)
	}
}

// runCommands carries out queued commands until ctx is done.
func (d *Daemon) runCommands(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-d.cmds:
			d.execute(c)
			d.cmdDone.Add(1)
			if c.Done != nil {
				close(c.Done)
			}
		}
	}
}

// execute carries out one accepted command. Medium- and high-risk
// commands are audited: logged when accepted.
func (d *Daemon) execute(c command.Command) {
	topic := d.topics.Command(c.Kind)
	from := c.From
	if from == "" {
		from = "mqtt"
	}
	if command.RiskOf(c.Kind) != command.Low {
		d.log.Info("mqtt: command", "kind", c.Kind, "on", c.On, "risk", command.RiskOf(c.Kind), "from", from)
	} else {
		d.log.Debug("mqtt: command", "kind", c.Kind, "from", from)
	}
	switch c.Kind {
	case command.Privacy:
		if d.live != nil {
			// At once, not when the bus gets to the live sink: a viewer
			// that asks again right after must be refused.
			d.live.SetPrivate(c.On)
		}
		if d.mic != nil {
			d.mic.SetPaused(c.On) // at once too: nothing more is heard
		}
		// Acknowledged once saved: a privacy mode the owner saw switched
		// on stays on after a power cut.
		d.sw.set(func(s *switches) { s.Privacy = c.On }, func() {
			d.mq.Publish(d.topics.PrivacyState, 1, true, mqttapi.OnOff(c.On))
		})
		d.bus.Privacy(c.On)
		d.record(audit.Entry{Action: audit.ActionPrivacy, Actor: actor(c.From), Object: strings.ToLower(string(mqttapi.OnOff(c.On)))})
	case command.Chime:
		if d.chime == nil {
			d.reject(topic, errors.New("no chime relay configured (gpio.chime.line)"))
			return
		}
		d.chime.SetEnabled(c.On)
		d.sw.set(func(s *switches) { s.Chime = c.On }, func() {
			d.mq.Publish(d.topics.ChimeState, 1, true, mqttapi.OnOff(c.On))
		})
		d.publishHealth(false)
	case command.TestChime:
		if d.chime != nil {
			d.chime.Ring()
		}
	case command.Snapshot:
		if privacy, _ := d.sw.get(); privacy || d.snaps == nil {
			d.snapCmd.Store(false)
			d.reject(topic, errors.New("no snapshot: privacy mode is on or there is no camera"))
			return
		}
		if !d.snaps.request(event.Event{Snapshot: event.NewID(), At: d.clock.Now(), Type: "snapshot"}) {
			d.snapCmd.Store(false)
		}
	case command.DeleteRecordings:
		d.deleteRecordings(c.From, "")
	case command.Reply:
		if err := d.playReply(c.Name, c.From); err != nil {
			d.reject(topic, err)
		}
	case command.ReplySelect:
		if err := d.selectReply(c.Name); err != nil {
			d.reject(topic, err)
		}
	case command.Door: // only without a door opener: onDoor takes them otherwise
		d.reject(topic, errors.New("no door opener configured (gpio.door.line)"))
	case command.Update:
		d.onUpdate(topic, c.Raw)
	case command.Restart:
		if err := d.restartAllowed(); err != nil {
			d.reject(topic, err)
			return
		}
		d.log.Warn("daemon: restart requested over MQTT")
		d.restart()
	}
}

// restartAllowed says whether a restart command may restart now: never
// while an update is on trial (each start counts towards its rollback),
// and at most maxRestarts an hour, counted across restarts in
// <storage.dir>/restarts.json, so a client that sends restart whenever the
// doorbell comes online cannot keep it restarting.
func (d *Daemon) restartAllowed() error {
	if d.inst != nil {
		if st, err := d.inst.Status(); err == nil && (st.Phase == install.PhaseTrial || st.Phase == install.PhaseRollback) {
			return fmt.Errorf("command: restart refused: version %s is on trial (start %d of %d); a restart now would count towards its rollback",
				st.TrialVersion, st.Boots, st.MaxBoots)
		}
	}
	return d.restarts.take(d.clock.Now())
}

// maxRestarts is how many restart commands are obeyed in an hour.
const maxRestarts = 3

// restartLog remembers when restart commands were obeyed.
type restartLog struct {
	path  string
	times []time.Time // within the last hour, oldest first
	n     atomic.Int64
}

func loadRestarts(dir string) (*restartLog, error) {
	r := &restartLog{path: filepath.Join(dir, "restarts.json")}
	b, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &r.times)
	}
	if err != nil {
		r.times = nil
		return r, fmt.Errorf("daemon: read %s: %w", r.path, err)
	}
	r.n.Store(int64(len(r.times)))
	return r, nil
}

// take records a restart at now, or refuses when maxRestarts were obeyed
// in the hour before now. The record is on disk before the restart.
func (r *restartLog) take(now time.Time) error {
	keep := r.times[:0]
	for _, t := range r.times {
		if now.Sub(t) < time.Hour && !t.After(now) {
			keep = append(keep, t)
		}
	}
	r.times = keep
	r.n.Store(int64(len(keep)))
	if len(keep) >= maxRestarts {
		return fmt.Errorf("command: restart refused: %d restarts in the last hour already (at most %d); the next is allowed at %s: %w",
			len(keep), maxRestarts, keep[0].Add(time.Hour).UTC().Format(time.RFC3339), command.ErrRateLimited)
	}
	r.times = append(r.times, now)
	b, _ := json.Marshal(r.times)
	if err := renameio.WriteFile(r.path, b, 0o640); err != nil {
		r.times = r.times[:len(r.times)-1]
		return fmt.Errorf("daemon: save %s: %w", r.path, err)
	}
	r.n.Store(int64(len(r.times)))
	return nil
}

func (d *Daemon) commandStats() commandStats {
	return commandStats{
		Accepted: d.cmdAccepted.Load(), Refused: d.gate.Refused(), Folded: d.cmdFolded.Load(),
		QueueFull: d.cmdQueueFull.Load(), Restarts: int(d.restarts.n.Load()), Rejected: d.rejected.Load(),
		MaxRestart: maxRestarts,
	}
}
