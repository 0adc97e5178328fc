// Package sim is doorbelld's simulated board: `doorbelld --sim` and the
// daemon's tests run on it. It builds what the config says is simulated —
// the button, PIR, chime and LED lines (hal/haltest pins that the real hal
// code reads and drives, as it would gpio-sim or a Pi's header) and, for
// camera.device "sim", a synthetic camera (capture/simcam) — and lets a
// user press the button from the terminal or over HTTP.
//
//	terminal (Enter, l, m) ──┐
//	POST /api/sim/ring ──────┼──▶ Board.Press / Motion ──edges──▶ haltest.Pin ──▶ hal.Input (daemon)
//	POST /api/sim/motion ────┘
//	                           Board.Camera() = simcam ──frames──▶ capture.Camera (daemon)
//
// The daemon never imports this package: cmd/doorbelld hands the board's
// Pins and Camera to daemon.Options, and its Handler to the web server.
package sim
