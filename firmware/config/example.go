package config

import _ "embed"

// Example is example.yaml: a fully commented config for a Raspberry Pi
// with the button on GPIO17 (active low, pull-up), a PIR sensor on GPIO27
// and a chime relay on GPIO22. Every other key is at its default.
//
//go:embed example.yaml
var Example []byte
