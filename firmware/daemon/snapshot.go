package daemon

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/firmware/bus"
	"github.com/doorbelld/doorbelld/firmware/event"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
)

// SnapshotInfo describes the JPEG on the snapshot topic.
type SnapshotInfo = mqttapi.SnapshotInfo

// snapshots publishes the frame of an event's instant (the sink) and the
// newest frame on the snapshot command, one at a time on its own part, so
// a burst of commands costs one queue's worth of JPEGs at most.
type snapshots struct {
	bus.Base
	d    *Daemon
	reqs chan event.Event // a snapshot to take: Snapshot is its id, At its instant
	// failed counts snapshots the camera could not give (each logged):
	// requested, never published.
	failed atomic.Uint64
}

// maxSnapshotBytes bounds a snapshot message: 1 MiB, what brokers take
// (the embedded broker's packet limit, README's Mosquitto settings).
const maxSnapshotBytes = 1 << 20

func newSnapshots(d *Daemon) *snapshots {
	return &snapshots{d: d, reqs: make(chan event.Event, 8)}
}

func (*snapshots) Name() string { return "snapshot" }

// OnEvent queues the snapshot an event was given an id for.
func (s *snapshots) OnEvent(_ context.Context, e bus.Event) {
	if e.Snapshot != "" {
		s.request(e.Event)
	}
}

// request queues a snapshot; it reports false when too many wait.
func (s *snapshots) request(e event.Event) bool {
	select {
	case s.reqs <- e:
		return true
	default:
		s.d.log.Warn("daemon: snapshots are behind, skipping one", "event", e.ID, "snapshot", e.Snapshot)
		return false
	}
}

// Run publishes queued snapshots until ctx is done.
func (s *snapshots) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-s.reqs:
			s.publish(ctx, e)
			if e.Type == "snapshot" {
				s.d.snapCmd.Store(false) // the next snapshot command takes a new picture
			}
		}
	}
}

func (s *snapshots) publish(ctx context.Context, e event.Event) {
	d := s.d
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	snap, err := d.camera.Snapshot(sctx, e.At)
	if err != nil {
		s.failed.Add(1)
		d.log.Warn("daemon: snapshot for event", "event", e.ID, "err", err)
		return
	}
	if len(snap.JPEG) > maxSnapshotBytes {
		// Brokers refuse bigger messages (the embedded one, and Mosquitto
		// with README's max_packet_size): a smaller copy instead.
		w := snap.Format.Width
		for len(snap.JPEG) > maxSnapshotBytes && w > 160 {
			w /= 2
			small, err := capture.Downscale(snap.JPEG, w, 85)
			if err != nil {
				break
			}
			snap.JPEG = small
		}
		if len(snap.JPEG) > maxSnapshotBytes {
			d.log.Error("daemon: snapshot too large to publish", "event", e.ID, "bytes", len(snap.JPEG), "max", maxSnapshotBytes)
			return
		}
		snap.Format.Height = snap.Format.Height * w / snap.Format.Width
		snap.Format.Width = w
		d.log.Warn("daemon: snapshot over the MQTT message limit, published downscaled", "event", e.ID, "width", w, "bytes", len(snap.JPEG))
	}
	d.timelineSnapshot(e.ID, snap.JPEG, snap.At)
	info, _ := json.Marshal(SnapshotInfo{
		ID: e.Snapshot, EventID: e.ID, EventType: string(e.Type),
		At: e.At.UTC().Format(event.TimeLayout), FrameAt: snap.At.UTC().Format(event.TimeLayout),
		Width: snap.Format.Width, Height: snap.Format.Height, Source: snap.Format.PixelFormat, Bytes: len(snap.JPEG),
	})
	if d.cfg.Privacy.EncryptSnapshots && d.sealer != nil {
		// Only the owner's key opens it: no plaintext copy, no small one.
		sealed, err := d.sealer.Seal(snap.JPEG)
		if err != nil {
			d.log.Error("daemon: seal snapshot; not published", "event", e.ID, "err", err)
			return
		}
		d.mq.Publish(d.topics.SnapshotInfo, 1, true, info)
		s.wait(ctx, e, d.mq.Publish(d.topics.SnapshotSealed, 1, true, sealed), len(sealed))
		return
	}
	d.mq.Publish(d.topics.SnapshotInfo, 1, true, info)
	tok := d.mq.Publish(d.topics.Snapshot, 1, true, snap.JPEG)
	if w := d.cfg.Snapshot.MaxWidth; w > 0 {
		if small, err := capture.Downscale(snap.JPEG, w, 80); err != nil {
			d.log.Warn("daemon: snapshot copy for dashboards", "err", err)
		} else {
			d.mq.Publish(d.topics.SnapshotSmall, 1, true, small) // the downscaled copy, when max_width is set
		}
	}
	s.wait(ctx, e, tok, len(snap.JPEG))
}

// wait waits for a snapshot's publish and logs how it went.
func (s *snapshots) wait(ctx context.Context, e event.Event, tok paho.Token, n int) {
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			s.d.log.Error("daemon: publish snapshot", "event", e.ID, "err", err)
			return
		}
		s.d.log.Debug("snapshot published", "event", e.ID, "bytes", n)
	case <-ctx.Done():
	}
}
