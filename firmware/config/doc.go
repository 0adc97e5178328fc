// Package config reads, checks and documents doorbelld's one config file.
//
// Data flows one way, once, before anything starts:
//
//	Default() or SimDefault()          built-in values
//	  -> Parse(yaml, base)             the file on top: absent keys keep base
//	  -> (*Config).Validate(sim)       every rule, all problems at once
//	  -> CheckHost(cfg)                the rules that need the machine: the
//	                                   storage.dir filesystem's size, the ring
//	                                   buffer against the camera's data rate
//	  -> the daemon's composition root hands each section to its package
//
// Load does the Parse and Validate steps for a file on disk (LoadSim for
// the simulator); it refuses a file over MaxFileBytes (1 MiB) unread. Example holds example.yaml, a fully commented config for a
// Raspberry Pi; README.md (Configuration reference) lists every key with its default and what it
// accepts.
//
// # Errors
//
// Every problem names the full dotted key, the value as written and what
// is allowed, and the line when it is known:
//
//	line 3: gpio.button.debounce: "banana" is not allowed: want a Go duration from 0s to 5s, such as 50ms
//	line 2: gpio.buton: unknown key (known keys under gpio: button, pir, chime)
//
// Parse reports unknown and duplicate keys and values of the wrong type;
// Validate reports values of the right type that break a rule. Both return
// Errors, a list of Problem, so that a user fixes the whole file in one go.
// To make that possible Duration and Size never fail to decode: text that
// does not parse is kept as written and Validate reports it.
//
// # Derived values
//
// An empty mqtt.client_id means "doorbelld-<device.id>". Parse and
// Validate both fill it in, after the file has had its say about device.id,
// so Default leaves it empty and a parsed or validated Config always has it
// set. They also clean storage.dir and ota.offer_dir (filepath.Clean).
//
// # Lists
//
// mqtt.accounts, http.hosts and ota.url_hosts are YAML lists. A list in the
// file replaces the base list; an empty one ([]) is nil, the default. An
// item's problems name it by index: mqtt.accounts[1].role.
//
// # Who may connect
//
// The HTTP API has no authentication yet, so http.listen must be loopback
// (see Loopback). The embedded broker may listen beyond loopback only with
// a login: mqtt.username and mqtt.password, or mqtt.accounts. Passwords
// (mqtt.password, an account's password) never appear in an error, and an
// Account never shows its password when printed or logged.
//
// # Null values
//
// A key written with no value ("broker:" or "broker: ~") is treated as
// absent and keeps its base value, as yaml.v3 itself does; write
// broker: "" to make it empty.
package config
