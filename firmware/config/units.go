package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a Go duration read from the config ("50ms", "2s", "1m30s").
//
// Decoding never fails on bad text: a value that does not parse is kept as
// written and marked invalid, and Validate reports it under its full dotted
// key. The zero Duration is a valid 0s. Two valid Durations are == when they
// hold the same length of time, however they were written.
type Duration struct {
	d   time.Duration
	raw string // the text as written; kept only when it did not parse
	bad bool
}

// Dur returns a valid Duration of d.
func Dur(d time.Duration) Duration { return Duration{d: d} }

// parseDuration never fails; see Duration.
func parseDuration(s string) Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return Duration{raw: s, bad: true}
	}
	return Duration{d: d}
}

// D returns the duration. It is 0 for a value that did not parse; Validate
// reports those.
func (d Duration) D() time.Duration { return d.d }

// String returns the canonical text ("50ms", "1m0s"), or the text as
// written if it did not parse.
func (d Duration) String() string {
	if d.bad {
		return d.raw
	}
	return d.d.String()
}

// MarshalYAML writes the canonical text, so a Config marshals to YAML that
// Parse reads back to an equal Config.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads any scalar. Text that is not a duration is kept for
// Validate to report; only a mapping or a list is an error here. A null
// value leaves d unchanged.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	s, ok, err := scalarText(n, "a duration")
	if err != nil || !ok {
		return err
	}
	*d = parseDuration(s)
	return nil
}

// MarshalText is like MarshalYAML, for encoding/json and friends.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText is like UnmarshalYAML: it never fails.
func (d *Duration) UnmarshalText(b []byte) error {
	*d = parseDuration(string(b))
	return nil
}

// Size is a number of bytes read from the config: "64MiB", "512KiB",
// "1GiB", "64MB" (decimal units KB, MB, GB), "4096B" or a plain "1000000".
//
// Like Duration, decoding never fails on bad text; Validate reports it. The
// zero Size is a valid 0 bytes.
type Size struct {
	n   int64
	raw string // the text as written; kept only when it did not parse
	bad bool
}

// Bytes returns a valid Size of n bytes.
func Bytes(n int64) Size { return Size{n: n} }

// sizeUnits lists the units in the order String tries them: the largest
// unit that divides the size exactly gives the canonical text.
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"GiB", 1 << 30},
	{"GB", 1e9},
	{"MiB", 1 << 20},
	{"MB", 1e6},
	{"KiB", 1 << 10},
	{"KB", 1e3},
	{"B", 1},
}

// parseSize never fails; see Size.
func parseSize(s string) Size {
	bad := Size{raw: s, bad: true}
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return bad
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return bad
	}
	unit := strings.TrimLeft(t[i:], " ")
	if unit == "" {
		return Size{n: n}
	}
	for _, u := range sizeUnits {
		if u.name == unit {
			if n > (1<<63-1)/u.mult {
				return bad
			}
			return Size{n: n * u.mult}
		}
	}
	return bad
}

// Bytes returns the size in bytes. It is 0 for a value that did not parse;
// Validate reports those.
func (s Size) Bytes() int64 { return s.n }

// String returns the canonical text: the largest unit that divides the size
// exactly ("64MiB", "1MB", "1000001"), or the text as written if it did not
// parse.
func (s Size) String() string {
	if s.bad {
		return s.raw
	}
	if s.n == 0 {
		return "0"
	}
	for _, u := range sizeUnits[:len(sizeUnits)-1] {
		if s.n%u.mult == 0 {
			return strconv.FormatInt(s.n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(s.n, 10)
}

// MarshalYAML writes the canonical text.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads any scalar. Text that is not a size is kept for
// Validate to report; only a mapping or a list is an error here. A null
// value leaves s unchanged.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	t, ok, err := scalarText(n, "a size")
	if err != nil || !ok {
		return err
	}
	*s = parseSize(t)
	return nil
}

// MarshalText is like MarshalYAML, for encoding/json and friends.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText is like UnmarshalYAML: it never fails.
func (s *Size) UnmarshalText(b []byte) error {
	*s = parseSize(string(b))
	return nil
}

// scalarText returns the text of a scalar node. ok is false for null.
func scalarText(n *yaml.Node, want string) (text string, ok bool, err error) {
	n = follow(n)
	switch {
	case n == nil || isNull(n):
		return "", false, nil
	case n.Kind != yaml.ScalarNode:
		return "", false, fmt.Errorf("config: line %d: want %s, got %s", n.Line, want, kindName(n))
	}
	return n.Value, true, nil
}
