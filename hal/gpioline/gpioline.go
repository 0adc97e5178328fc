// Package gpioline finds the GPIO lines named in the config on the GPIO
// character device, through periph.io's gpioioctl driver.
//
// Only the daemon's composition root uses it: it calls Init once (which
// runs periph's host.Init and scans /dev/gpiochip*), then Open for each line
// and hands the resulting gpio.PinIO down to package hal.
package gpioline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/gpioioctl"
)

// ErrNotFound means no GPIO chip has the line asked for.
var ErrNotFound = errors.New("gpio line not found")

// Init loads periph's host drivers. It scans the GPIO chips once: chips
// that appear later are not seen.
func Init() error {
	if _, err := host.Init(); err != nil {
		return fmt.Errorf("gpio: init periph host drivers: %w", err)
	}
	if len(gpioioctl.Chips) == 0 {
		return fmt.Errorf("gpio: no GPIO character devices (/dev/gpiochip*): %w", ErrNotFound)
	}
	return nil
}

// Spec is a parsed line reference: a line name ("GPIO17"), or a chip and
// an offset ("gpiochip0:17").
type Spec struct {
	Chip   string
	Offset int
	Name   string
}

// ParseSpec parses "NAME" or "gpiochipN:OFFSET".
func ParseSpec(s string) (Spec, error) {
	if s == "" {
		return Spec{}, errors.New("gpio: empty line name")
	}
	chip, off, ok := strings.Cut(s, ":")
	if !ok {
		return Spec{Name: s}, nil
	}
	n, err := strconv.Atoi(off)
	if err != nil || n < 0 || chip == "" {
		return Spec{}, fmt.Errorf("gpio: line %q: want NAME or gpiochipN:OFFSET", s)
	}
	return Spec{Chip: chip, Offset: n}, nil
}

func (s Spec) String() string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("%s:%d", s.Chip, s.Offset)
}

// Open returns the line named by spec. The line is requested from the
// kernel only when hal configures it (In or Out); a line held by another
// process fails there, with an error naming it.
func Open(spec string) (gpio.PinIO, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	for _, c := range gpioioctl.Chips {
		if s.Name != "" {
			if l := c.ByName(s.Name); l != nil {
				return l, nil
			}
			continue
		}
		if c.Name() == s.Chip || c.Path() == s.Chip || c.Label() == s.Chip {
			if l := c.ByNumber(s.Offset); l != nil {
				return l, nil
			}
			return nil, fmt.Errorf("gpio: line %s: %s has %d lines: %w", s, c.Name(), c.LineCount(), ErrNotFound)
		}
	}
	var chips []string
	for _, c := range gpioioctl.Chips {
		chips = append(chips, fmt.Sprintf("%s (%s, %d lines)", c.Name(), c.Label(), c.LineCount()))
	}
	return nil, fmt.Errorf("gpio: line %s: not on any chip [%s]: %w", s, strings.Join(chips, ", "), ErrNotFound)
}
