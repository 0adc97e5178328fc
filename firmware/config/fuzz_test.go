package config

import (
	"os"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParse checks that Parse and Validate never panic, and that a config
// that parses and validates survives yaml.Marshal and Parse unchanged.
func FuzzParse(f *testing.F) {
	f.Add(Example)
	for _, name := range []string{"testdata/full.yaml", "testdata/embedded.yaml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"",
		"gpio:\n  button:\n    debounce: banana\n",
		"gpio:\n  button:\n    line: GPIO17\n    long_press: 0s\n",
		"device: {id: a, name: \"\\x01\"}\n",
		"mqtt: {password: !!binary aGVsbG8=}\n",
		"capture: {ring_bytes: 1GiB, pre_roll: 1m}\n",
		"&a {gpio: *a}\n",
		"log: [info]\n",
		"a: b\n---\nc: d\n",
		"mqtt: {listen: \":1883\", accounts: [{username: a, password: b, role: owner}, {username: c, password: d, role: reader}]}\n",
		"http: {hosts: [doorbell.lan, \"::1\"]}\nota: {url_hosts: [\"[::1]:8000\"], offer_dir: /x/../y/}\n",
		"storage: {mode: ram, dir: /a/./b/}\nmqtt: {owner_key_file: /k}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, Default())
		if err != nil {
			_ = err.Error()
			return
		}
		for _, sim := range []bool{true, false} {
			c := c
			if err := c.Validate(sim); err != nil {
				_ = err.Error()
				continue
			}
			out, err := yaml.Marshal(c)
			if err != nil {
				t.Fatalf("yaml.Marshal(%+v): %v", c, err)
			}
			back, err := Parse(out, Default())
			if err != nil {
				t.Fatalf("Parse(yaml.Marshal(c)): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, c) {
				t.Fatalf("round trip changed the config:\n%+v\n%+v\n%s", c, back, out)
			}
		}
	})
}
