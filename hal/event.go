package hal

import (
	"time"

	"periph.io/x/conn/v3/gpio"
)

// EventType says what happened at the door.
type EventType string

// The event types hal produces. They are part of the MQTT contract.
const (
	Ring        EventType = "ring"
	LongPress   EventType = "long_press"
	DoublePress EventType = "double_press"
	MotionStart EventType = "motion_start"
	MotionEnd   EventType = "motion_end"
)

// Event is one thing that happened on an input line.
type Event struct {
	Type EventType
	// At is the time of the edge that caused the event (for MotionEnd: the
	// moment the hold time ran out), not the time it was handled.
	At time.Time
	// Source names the input ("button", "pir"): InputOptions.Name, set by Input.
	Source string
}

// Pins are the lines a doorbell uses: real ones from package gpioline, or
// simulated ones (package hal/haltest) in sim mode and tests. A nil line
// is not wired.
type Pins struct {
	Button gpio.PinIn // required
	PIR    gpio.PinIn
	Chime  gpio.PinOut
	LED    gpio.PinOut
	Door   gpio.PinOut // the door strike's relay
}
