// Package outbox keeps doorbell events on disk until the broker has them,
// so no ring is lost to a broker outage, a network cut, a crash or a power
// cut.
//
// Every event is added to the outbox (written and fdatasynced) before it is
// published, and removed when the broker acknowledges it (PUBACK at QoS
// 1). What is still in the outbox after a reconnect or a restart is
// published again, oldest first, with its original "at" and "late": true.
// Delivery is at least once: subscribers dedupe by id.
//
//	event loop ──Add (write + fdatasync)──▶ outbox.log ──Pending──▶ Sender ──QoS 1──▶ broker
//	     │                                      ▲                     │
//	     └──Send────────────────────────────────┼────────────────────▶│ (live, when connected)
//	                                            └──────Ack on PUBACK──┘
//
// # How the daemon uses it
//
//	ob, err := outbox.Open(filepath.Join(cfg.Storage.Dir, "outbox"), outbox.Options{Logger: log})
//	snd := outbox.NewSender(ob, outbox.SenderOptions{Topic: topics.Event, Publisher: mq, Logger: log})
//	// mqttpub.Options.OnConnect: snd.Kick
//	// parts: start("outbox", false, snd.Run); ob.Close() after the parts stop
//
//	// per event, on the event loop:
//	payload, _ := json.Marshal(e)
//	ent, err := ob.Add(e, payload)
//	if err != nil { // ErrFull, or the disk failed: never keep a ring back for that
//		log.Error("outbox", "err", err)
//		mq.Publish(topics.Event, 1, false, payload)
//	} else {
//		snd.Send(ent)
//	}
//
// Without the Sender, the contract is: on every (re)connect publish
// Pending() in order with LatePayload(), QoS 1, not retained, and Ack each
// ID when its token completes without error; never publish an ID again
// while its earlier publish still waits for its PUBACK (paho resends it by
// itself after a reconnect), or the same event arrives twice.
//
// # Storage
//
// One append-only log file, outbox.log: an add record per event (id, type,
// at, seq, payload), an ack record per PUBACK, a drop record per eviction,
// each with its length and a CRC-32C. Add costs one write and one
// fdatasync (the cost of durability, a few milliseconds on an SD card);
// Ack one write without sync, since losing an ack only means a duplicate.
// Open rebuilds the pending events by reading the log: a record torn by a
// power cut is detected by its length and CRC and dropped, damage in the
// middle is skipped up to the next intact record, and neither is an error.
// When the acked records outweigh the pending ones (and CompactMin), the
// log is compacted: truncated to its header when nothing is pending (the
// usual case), or the pending records are rewritten to a new file that
// atomically replaces the old one.
//
// # Bounds
//
// The outbox holds at most Options.MaxBytes (1 MiB) and MaxEntries. When
// full, the oldest event of the lowest priority is dropped first:
// motion_end, then motion_start, then long_press, rings last (Priority).
package outbox
