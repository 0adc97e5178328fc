// Package delivery brings OTA bundles to the installer: it defines the
// MQTT protocol (offer command, chunk transfer, update state), runs it on
// the device (Device) and on the admin's machine (Push, used by doorbellctl
// ota push).
//
// Topics, under base = <mqtt.topic_prefix>/<device.id> (their names and
// payload types are package mqttapi's):
//
//	base/cmd/update              → device   offer JSON or "install"; QoS 1, never retained
//	base/ota/<id>/chunk/<offset> → device   raw bundle bytes; QoS 1, not retained
//	base/ota/<id>/abort          → device   empty: the pusher gives up
//	base/ota/<id>/ack            ← device   Ack JSON; QoS 1, not retained
//	base/update/status           ← device   State JSON; QoS 1, retained (the whole state: Push waits on it)
//	base/update/state            ← device   State.HA() JSON; QoS 1, retained (Home Assistant's update entity)
//
// Every State goes out as both (StateMessages): Home Assistant's update
// entity refuses a state message with a key outside its schema, so it gets
// its keys only and reads the rest (status, error) as attributes from
// update/status. A daemon without over-the-air updates publishes
// IdleMessages instead.
//
// An offer names where the bundle is:
//
//	{"version":"1.3.0","url":"http://nas.lan/doorbelld-1.3.0.ota"}          download it (http or https)
//	{"version":"1.3.0","path":"/var/lib/doorbell/incoming/1.3.0.ota"}     a file on the device
//	{"version":"1.3.0","transfer":"k3j9x0","size":10234567,"chunk_size":65536}   chunks follow over MQTT
//	{"version":"1.3.0","url":"...","install":false}   announce only: state shows it as latest_version;
//	"install"                                        (Home Assistant's Install button) installs it
//
// An offer is only an offer: the signature, the version floor, the
// architecture and the expiry decide (package install), and an offer's
// version is a label for the state topic, not trusted.
//
// Any client of the broker may publish an offer, so where an offer may
// point is the device's configuration's to say, and checked on the offer
// alone before any work (a refusal wraps ErrNotAllowed):
//
//   - path: only a regular file inside Options.OfferDir (ota.offer_dir),
//     also once every symbolic link is resolved; it is opened through an
//     os.Root of that directory. No OfferDir: path offers are refused.
//   - url: only hosts of Options.URLHosts (ota.url_hosts): "host" allows
//     the scheme's default port, "host:port" that port; case does not
//     matter. Every redirect is checked the same way before it is
//     followed. No URLHosts: url offers are refused. A refused URL is
//     never requested, so the answer says nothing about the network; the
//     outcome of an allowed fetch is reported.
//
// Nothing a bundle holds before its signature has verified is published:
// the device checks the bundle's prefix itself ("not an OTA bundle: bad
// magic") and reports an untrusted key or a bad signature without the key
// id, so an offer cannot make the retained state quote a file.
//
// One job at a time holds the update, from the accepted offer until the
// install ends. Progress is each 16 KiB its source (download, file,
// transfer) delivers, and its end:
//
//   - A job without progress for Options.StallTimeout (30s) is stopped
//     (ErrStalled), also before its first byte, so a source that trickles
//     a byte now and then ends too. A transfer also ends after
//     Options.IdleTimeout without its next chunk; repeated or later
//     chunks do not count. Options.JobTimeout (30m) bounds a whole job.
//   - A new offer while a job runs preempts it (ErrPreempted; a transfer
//     gets its "done" ack with that error) if the job has made no
//     progress for Options.PreemptAfter (5s); otherwise the new offer is
//     refused as busy (install.ErrBusy). Once a job's source is at its end
//     the install is finishing (hash, write, slot switch): it is never
//     stopped for a stall nor preempted. Announcements ("install": false)
//     and refused offers never touch a running job.
//
// A chunked transfer is paced by the device: it acks {"next": N, "window":
// W} when it starts and after each chunk it has handed to the installer;
// the pusher keeps chunks [N, N+W×chunk_size) in flight, and resends from N
// when no ack comes for a while. Chunks may arrive out of order or twice;
// the device keeps at most W of them. The last ack has "done": true, with
// "version" or "error". A bundle that fails its signature or policy check
// is refused after its first chunk.
package delivery
