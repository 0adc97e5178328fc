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
// A chunked transfer is paced by the device: it acks {"next": N, "window":
// W} when it starts and after each chunk it has handed to the installer;
// the pusher keeps chunks [N, N+W×chunk_size) in flight, and resends from N
// when no ack comes for a while. Chunks may arrive out of order or twice;
// the device keeps at most W of them. The last ack has "done": true, with
// "version" or "error". A bundle that fails its signature or policy check
// is refused after its first chunk.
package delivery
