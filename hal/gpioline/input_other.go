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

// InputOptions tune OpenInputWith; they only matter on Linux.
type InputOptions struct {
	EventBuffer int
}

// OpenInputWith is OpenInput; the options only matter on Linux.
func OpenInputWith(spec string, _ InputOptions) (gpio.PinIO, error) {
	return OpenInput(spec)
}
