// Package config reads, checks and documents doorbelld's one config file.
//
// Data flows one way, once, before anything starts:
//
//	Default() or SimDefault()          built-in values
//	  -> Parse(yaml, base)             the file on top: absent keys keep base
//	  -> (*Config).Validate(sim)       every rule, all problems at once
//	  -> the daemon's composition root hands each section to its package
//
// Load does the last three steps for a file on disk (LoadSim for the
// simulator). Example holds example.yaml, a fully commented config for a
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
// set.
//
// # Null values
//
// A key written with no value ("broker:" or "broker: ~") is treated as
// absent and keeps its base value, as yaml.v3 itself does; write
// broker: "" to make it empty.
package config
