package daemon

import (
	"bufio"
	"errors"
	"io"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// simControl drives the simulated pins: the sim HTTP endpoints and the
// terminal use it. Presses go through the same hal code as a real line.
type simControl struct{ d *Daemon }

var errNotRunning = errors.New("daemon not running")

// Ring presses the simulated button for SimPressHold.
func (s simControl) Ring() error { return s.d.SimPress(s.d.opts.SimPressHold) }

// Motion sets the simulated PIR line.
func (s simControl) Motion(on bool) error {
	if s.d.simPIR == nil {
		return errors.New("not in sim mode")
	}
	active := gpio.Level(!s.d.cfg.GPIO.PIR.ActiveLow)
	if !on {
		active = !active
	}
	s.d.simPIR.Set(active)
	return nil
}

// SimPress presses the simulated button for hold. Sim mode only.
func (d *Daemon) SimPress(hold time.Duration) error {
	if d.simButton == nil {
		return errors.New("not in sim mode")
	}
	d.mu.Lock()
	ctx := d.runCtx
	d.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return errNotRunning
	}
	d.simButton.Press(d.cfg.GPIO.Button.ActiveLow, hold)
	return nil
}

// SimMotion sets the simulated PIR. Sim mode only.
func (d *Daemon) SimMotion(on bool) error { return simControl{d}.Motion(on) }

// Terminal reads lines from r: an empty line rings, "l" holds the button
// for a long press, "m" toggles motion. It returns at EOF.
func (d *Daemon) Terminal(r io.Reader) {
	sc := bufio.NewScanner(r)
	motion := false
	for sc.Scan() {
		var err error
		switch sc.Text() {
		case "":
			err = d.SimPress(d.opts.SimPressHold)
		case "l":
			err = d.SimPress(d.cfg.GPIO.Button.LongPress.D() + d.opts.SimPressHold)
		case "m":
			motion = !motion
			err = d.SimMotion(motion)
		default:
			d.log.Info("sim: Enter rings, l+Enter long-presses, m+Enter toggles motion")
		}
		if err != nil {
			d.log.Warn("sim: terminal", "err", err)
		}
	}
}
