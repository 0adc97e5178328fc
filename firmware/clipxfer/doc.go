// Package clipxfer moves the device's MP4 clips over MQTT to a receiver
// on the owner's machine, through any broker, a stock Mosquitto included:
// every message stays under its message_size_limit (1 MiB), and nothing
// is ever queued for a receiver that is not there, so its 1000-message
// queues never overflow. It runs on the device (Publisher) and on the
// receiver (Receiver, used by doorbellctl clips pull).
//
// Topics, under base = <mqtt.topic_prefix>/<device.id> (their names and
// the payload types are package mqttapi's: ClipManifest, ClipWant,
// ClipDone; this package checks what arrives, with wire.DecodeStrict):
//
//	base/clips/<id>/manifest   ← device    Manifest JSON; QoS 1, retained. Empty retained: withdrawn
//	base/clips/<id>/want       → device    Want JSON {"chunks":[[0,15],[20,20]]}; QoS 1, never retained
//	base/clips/<id>/chunk/<n>  ← device    chunk n (0-based) of the MP4, raw bytes; QoS 1, not retained
//	base/clips/<id>/done       → device    Done JSON {"sha256":"…","mac":"…"}; QoS 1, never retained
//
// The manifest:
//
//	{"format":1, "id":"d4k9…c0", "event_ids":["d4k9…b6"], "start":"2026-11-26T19:38:14.1Z",
//	 "duration_ms":15000, "codec":"mjpeg", "width":640, "height":480, "frames":225,
//	 "size":5242880, "sha256":"<hex>", "chunk_size":262144, "chunks":20, "crc32c":"<base64>"}
//
// crc32c holds the Castagnoli CRC of each chunk, 4 bytes big-endian per
// chunk, so a receiver checks every chunk as it arrives and asks again for
// a bad one; the sha256 then judges the whole file.
//
// Flow. The device announces every stored clip with a retained manifest
// (so a receiver that starts later finds it) and withdraws it when the
// clip leaves its store (retention; in storage.mode ram, delivery). The
// manifest is built from the clip's metadata: the store computed the
// sha256 and the chunk CRCs from the bytes it was given (storage.Meta's
// Digest, for storage.Options.ChunkBytes, which must be the Publisher's
// ChunkBytes), so announcing a clip reads nothing from the SD card. A clip
// stored by an older version is read once for them (Store.Digest keeps
// the result). A chunk read later that no longer matches its CRC means
// the clip is damaged on the card: it is withdrawn, not sent.
// Chunks are sent only when a receiver asks: the receiver keeps at most
// Window chunks asked for and not yet received (32 by default, 8 MiB of
// 256 KiB chunks), asking for more as soon as a quarter of them has
// arrived, and again when none comes for a while, so the broker queues at
// most a window of chunks for it, and nothing when it is gone (it uses a
// clean session). Asking early keeps the device busy: a device that runs dry
// waits for the next want, which a broker using Nagle's algorithm
// (Mosquitto's default) may hold up to a delayed ACK, 40 ms. Several
// receivers may pull the same clip; the device sends the union of their
// wants.
//
// Events first. The device's chunks share the daemon's one MQTT
// connection with its events. The Publisher keeps at most Window (4 by
// default) of its messages awaiting their PUBACK and hands the client
// nothing more until one is acknowledged, so an event published during a
// transfer waits behind at most Window×chunk_size bytes (1 MiB by
// default), not behind the clip.
//
// Resume. A receiver writes chunks into .<id>.part in its directory, with
// the manifest in .<id>.state beside it. After a restart (crash, cancel,
// power cut) it reads the part file back, keeps the chunks that match
// their CRC and asks only for the rest; it trusts no bitmap. When every
// chunk is there it checks the sha256 (computed on its own goroutine over
// the chunks as they are written, in order); on a mismatch it reads each
// chunk back, checks its CRC and asks
// for the bad ones; if every CRC matches the manifest itself is wrong
// (ErrChecksum). A complete clip is fsynced, its sidecar
// <start>_<id>.json written (renameio), and the part file renamed to
// <start>_<id>.mp4 and the directory fsynced. Then the receiver publishes
// done, and the device calls its OnDelivered (the daemon frees the clip
// in storage.mode ram). A receiver seeing a clip offered that it already
// has confirms it again, so a lost done is made good.
//
// The owner's done. A done's sha256 is in the public manifest, so on a
// shared broker (where any client may publish) anyone can make one; in
// storage.mode ram one would free a clip the owner never pulled. So a
// done carries a MAC with the owner key (package ownerkey), which the
// device and the owner's receivers both hold:
//
//	{"sha256":"<hex>", "mac":"<hex HMAC-SHA256 of ("clipxfer-done", <id>, <sha256>), each part length-prefixed>"}
//
// SignDone makes it (a Receiver with ReceiverOptions.OwnerKey: doorbellctl
// clips pull --owner-key), VerifyDone checks it. With
// PublisherOptions.OwnerKey only a done whose MAC verifies counts
// (Delivered, OnDelivered); any other is ignored, counted
// (PublisherStats.DonesRefused) and logged at most once a minute per
// clip. RequireOwnerDone (the daemon sets it in storage.mode ram) refuses
// every done without such a MAC, and every done at all when there is no
// key: the clip stays stored and offered. A MAC seen on the broker can be
// replayed, but only to say again that the owner holds that clip. Without
// a key and without RequireOwnerDone every done counts (its mac, if any,
// is not looked at), as before.
//
// Limits. MQTT 3.1.1 tells the device nothing about who published a want,
// and a want of a few bytes asks for megabytes: without bounds, 4.6 KB of
// whole-clip wants once made a device send 942 MB. So the Publisher judges
// a want by its clip and by when each chunk it names was last sent, not by
// its sender ("per receiver" is approximated per clip and per device):
//
//   - join: a chunk already queued, or handed to the client and not yet
//     acknowledged by the broker (no receiver can have missed it yet), is
//     not queued again. A chunk sent less than Resend ago (default 9s,
//     just under twice a receiver's RetryAfter of 5s) is sent again once
//     (lost or corrupted on its way: a receiver asks again at once for a
//     chunk that failed its CRC, and after RetryAfter for one that never
//     came), and then not until Resend has passed since. The ranges of
//     the wants waiting are merged first, so each chunk is looked at once.
//   - per clip: at most ClipBudget × the clip's size (default 4×) is sent
//     for one clip in an hour (counted by the minute);
//   - per device: at most MaxBytesPerHour (default 2 GiB) for all clips.
//
// A want beyond a budget is dropped, counted (PublisherStats.OverBudget)
// and logged at most once a minute per clip. So a flood of wants for one
// clip costs at most twice the clip per Resend and ClipBudget × the clip
// an hour, and for all clips at most MaxBytesPerHour; a flood of wants for
// clips that do not exist withdraws (publishes an empty retained manifest
// for) each id at most once a minute. The price: a budget spent by someone
// else holds the clip back from its owner until the hour has passed (the
// receiver reports ErrNoAnswer; a later pull resumes).
//
// An honest receiver still completes: its re-ask of a chunk it lost is
// served the first time (a chunk sent less than Resend ago is sent again
// once) or, when that copy is lost too, the next time but one, when
// Resend has passed: a chunk has to be lost three times in a row to use
// up its Retries (5) re-asks without progress. Pulling a clip costs its
// size plus what was lost, far under 4×; losing one chunk in ten costs
// about 1.2× (TestLossyReceiverCompletes). Wants and dones above
// MaxRequestPayload (4 KiB) are refused before they are decoded, and a
// receiver sends wants of at most MaxWantRanges ranges.
//
// Data flow on the device:
//
//	storage.Store ── List/Lookup (Meta.Digest); Open for chunks asked for ──▶ Publisher.Run
//	Publisher.Run ── Publish (window) ──▶ mqttpub.Publisher (the daemon's *mqttpub.Client)
//	daemon: clip stored → Offer(meta);   MQTT handler → HandleMessage;   connect → Kick
//	want ── HandleMessage (size, syntax) ── inbox ── Run: join, budgets ──▶ chunks
//	done ── HandleMessage (size, syntax) ── inbox ── Run: OwnerKey MAC, sha256 ──▶ OnDelivered
package clipxfer
