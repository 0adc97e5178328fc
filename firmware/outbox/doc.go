// Package outbox keeps doorbell events until the broker has them, so no
// ring is lost to a broker outage, a network cut, a crash or a power cut,
// and it does so without making a ring wait for the disk.
//
// Sender.Post does two things at once for each event. It publishes the
// event right away, and it hands the event's record to the journal, a
// goroutine of the outbox's own that appends it to the log and
// fdatasyncs it. Until the broker acknowledges the event (PUBACK at QoS 1)
// the event stays in memory, so it is never in neither place: it is in
// memory, or on disk, or at the broker. After a reconnect or a restart,
// what is still pending is published again, oldest first, with its
// original "at" and "late": true. Delivery is at least once: subscribers
// dedupe by id.
//
//	event loop ──Post──▶ memory (pending, in order) ──▶ Sender ──QoS 1, live at once──▶ broker
//	                        │           ▲                  ▲                            │
//	                        │           └──────── Ack ─────┼───────── PUBACK ───────────┘
//	                        ▼                              │
//	               journal goroutine ──write + fdatasync──▶ outbox.log ──Open──▶ replay, late
//	                (a pass per batch)      (OnDurable)
//
// # Durability against the acknowledgement
//
// The promise: once an event's add record is synced (Options.OnDurable
// reports it), a crash or a power cut cannot lose it; Open brings it back,
// in order, and the Sender replays it late. An event whose write had not
// finished at the crash is lost from the outbox, but its live publish may
// already have reached the broker. Each journal pass takes everything
// queued and writes it with one write and one sync. A slow disk only
// makes the batches bigger; the publishes never wait for it.
//
// The PUBACK often comes before the sync, because a LAN round trip is
// faster than an SD card. What is written depends on where the event is
// when its PUBACK comes:
//
//   - still queued for the journal: it leaves memory and is never written
//     (Stats.Skipped). On a slow card most events never touch the disk.
//   - being written or already in the log: an ack record is queued behind
//     it and appended with a sync (batched with whatever else the next pass
//     writes). A power cut before that sync returns means one late
//     duplicate; after it, none: the power-cut campaign of scripts/board.sh
//     counts duplicates.
//
// Evictions work the same way: an evicted event that is still queued is
// dropped from the queue, and one already in the log gets a drop record,
// written before the add record of the event that evicted it. If a write
// or sync fails, the log is cut back to its last good record. The events
// of that pass are logged and stay in memory until the broker has them,
// so they are still published and replayed, just not kept across a
// crash.
//
// # How the daemon uses it
//
//	ob, err := outbox.Open(filepath.Join(cfg.Storage.Dir, "outbox"), outbox.Options{Logger: log})
//	snd := outbox.NewSender(ob, outbox.SenderOptions{Topic: topics.Event, Publisher: mq, Logger: log})
//	// mqttpub.Options.OnConnect: snd.Kick
//	// supervised part: supervise.Part{Name: "outbox", Run: snd.Run}; ob.Close() after the parts stop
//
//	// per event, in the daemon's outbox sink; never waits for the disk or the network:
//	payload, _ := json.Marshal(e)
//	if err := snd.Post(e, payload); err != nil { // ErrClosed, or not an event
//		log.Error("outbox", "id", e.ID, "err", err)
//	}
//
// Post itself handles an event that cannot be stored (ErrFull,
// ErrTooLarge): it logs it and still publishes it, just not kept across
// an outage. Outbox.Add, followed by Sender.Send, is the older path. Add
// returns only once the event is durable, and costs a sync before the
// publish.
//
// Without the Sender, the contract is: on every (re)connect publish
// Pending() in order with LatePayload(), QoS 1, not retained, and Ack each
// ID when its token completes without error; never publish an ID again
// while its earlier publish still waits for its PUBACK (paho resends it by
// itself after a reconnect), or the same event arrives twice.
//
// # Storage
//
// One append-only log file, outbox.log. It holds an add record per
// journaled event (id, type, at, seq, payload), an ack record per PUBACK
// of a journaled event, and a drop record per eviction of one. Each record
// carries its length and a CRC-32C. The format is the one Add has always
// written; a log of either path opens in the other. Open rebuilds the
// pending events by reading the log. A record torn by a power cut is
// detected by its length and CRC and dropped, damage in the middle is
// skipped up to the next intact record, and neither is an error. Open
// also removes a temporary file that a crash in the middle of a
// compaction left behind. Between passes, once the acknowledged records
// outweigh the pending ones (and CompactMin), the journal compacts the
// log. In the usual case nothing is pending and the log is truncated to
// its header. Otherwise the pending records are rewritten to a new file
// that atomically replaces the old one.
//
// # Bounds
//
// The outbox holds at most Options.MaxBytes (1 MiB) and MaxEntries,
// counting events in memory whether they are journaled yet or not. When
// full, the oldest event of the lowest priority is dropped first:
// motion_end, then motion_start, then long_press, rings last (Priority,
// event.Of(t).Rank).
package outbox
