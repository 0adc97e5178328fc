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
// A reader that falls behind (a busy CPU) must never lose an edge silently.
// The kernel queues each line's edges (package hal/gpioline asks for 1024)
// and, when the queue overflows, drops the oldest; the gap in the events'
// sequence numbers says how many. Such a pin is an EdgeInfoPin: each Edge
// carries Lost, the edges dropped just before it. Input counts them (Stats,
// with the reader's longest stall), warns at most once a minute per line,
// and hands the edge to Logic.EdgeAfterLoss, which never takes a gap with
// lost edges for a quiet line: no false release and second ring from a
// chattering push, no false motion_end/motion_start pair from the PIR.
// At debug level Input logs every edge ("hal: edge": kernel time,
// direction, seqno, line_seqno, lost, delay).
//
// hal never initialises periph's host drivers and never looks pins up by name:
// the daemon's composition root does that (see package hal/gpioline) and hands
// interfaces down.
package hal
