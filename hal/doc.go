// Package hal turns the doorbell's GPIO lines into events and drives its
// outputs.
//
// Data flows one way. A periph.io gpio.PinIn (the real gpioioctl line on a
// board, a gpiotest.Pin in sim mode and tests) wakes an Input's goroutine on
// every edge; the Input stamps the edge with the clock and hands it to a pure
// state machine (ButtonLogic or MotionLogic) that decides, with no I/O and no
// goroutines of its own, which Events the edges mean. Events go to one channel
// that the daemon reads. Outputs (the chime relay) are owned by one goroutine
// each and go to their safe level when Run returns.
//
// The state machines take explicit timestamps, so tests replay recorded bounce
// patterns — hours of doorbell life — in microseconds.
//
// hal never initialises periph's host drivers and never looks pins up by name:
// the daemon's composition root does that (see package hal/gpioline) and hands
// interfaces down.
package hal
