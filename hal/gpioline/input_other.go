//go:build !linux

package gpioline

import (
	"fmt"

	"periph.io/x/conn/v3/gpio"
)

// OpenInput is Open on systems without the GPIO v2 character device: the
// line is read through periph and edges are stamped at wake-up.
func OpenInput(spec string) (gpio.PinIO, error) {
	p, err := Open(spec)
	if err != nil {
		return nil, fmt.Errorf("gpio: input %s: %w", spec, err)
	}
	return p, nil
}
