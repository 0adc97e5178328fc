package daemon

import (
	"errors"
	"fmt"
	"path/filepath"

	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/mask"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/capture/v4l2src"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/gpioline"
)

func pull(s string) gpio.Pull {
	switch s {
	case "up":
		return gpio.PullUp
	case "down":
		return gpio.PullDown
	case "none":
		return gpio.Float
	}
	return gpio.PullNoChange
}

// openPins opens the config's GPIO lines through the character device,
// inputs with the kernel's edge timestamps. Only the composition root
// touches real hardware; everything below takes gpio interfaces.
func openPins(g config.GPIO) (*hal.Pins, error) {
	if err := gpioline.Init(); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	var p hal.Pins
	var err error
	if p.Button, err = gpioline.OpenInput(g.Button.Line); err != nil {
		return nil, fmt.Errorf("daemon: gpio.button.line: %w", err)
	}
	if g.PIR.Line != "" {
		if p.PIR, err = gpioline.OpenInput(g.PIR.Line); err != nil {
			return nil, fmt.Errorf("daemon: gpio.pir.line: %w", err)
		}
	}
	if g.Chime.Line != "" {
		if p.Chime, err = gpioline.Open(g.Chime.Line); err != nil {
			return nil, fmt.Errorf("daemon: gpio.chime.line: %w", err)
		}
	}
	if g.LED.Line != "" {
		if p.LED, err = gpioline.Open(g.LED.Line); err != nil {
			return nil, fmt.Errorf("daemon: gpio.led.line: %w", err)
		}
	}
	if g.Door.Line != "" {
		if p.Door, err = gpioline.Open(g.Door.Line); err != nil {
			return nil, fmt.Errorf("daemon: gpio.door.line: %w", err)
		}
	}
	return &p, nil
}

// ReleaseOutputs drives every output line of the config (chime, door,
// LED) to its inactive level and releases it: systemd runs it after the
// daemon stopped for any reason (ExecStopPost), so a relay closed when
// the daemon was killed mid-pulse opens again. The kernel releases a
// dead process's lines, and the Raspberry Pi's driver then makes the pin
// an input (the relay board's pull decides), but other GPIO drivers keep
// driving the last level. It returns what it released.
func ReleaseOutputs(g config.GPIO) ([]string, error) {
	if err := gpioline.Init(); err != nil {
		return nil, fmt.Errorf("daemon: release outputs: %w", err)
	}
	var done []string
	var errs []error
	for _, o := range []struct {
		key, line string
		activeLow bool
	}{
		{"gpio.chime.line", g.Chime.Line, g.Chime.ActiveLow},
		{"gpio.door.line", g.Door.Line, g.Door.ActiveLow},
		{"gpio.led.line", g.LED.Line, g.LED.ActiveLow},
	} {
		if o.line == "" {
			continue
		}
		pin, err := gpioline.Open(o.line)
		if err == nil {
			err = pin.Out(gpio.Level(o.activeLow)) // inactive: low, or high when active low
		}
		if err == nil {
			if c, ok := pin.(interface{ Close() error }); ok {
				err = c.Close()
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("daemon: release %s %s: %w", o.key, o.line, err))
			continue
		}
		done = append(done, o.key+" "+o.line)
	}
	return done, errors.Join(errs...)
}

// buildGPIO builds the hal parts on Options.Pins or the config's lines.
func (d *Daemon) buildGPIO() error {
	g := d.cfg.GPIO
	pins := d.opts.Pins
	if pins == nil {
		var err error
		if pins, err = openPins(g); err != nil {
			return err
		}
	}
	d.button = hal.NewButton(pins.Button,
		hal.InputOptions{Name: "button", ActiveLow: g.Button.ActiveLow, Pull: pull(g.Button.Pull), Logger: d.log},
		hal.ButtonOptions{Debounce: g.Button.Debounce.D(), MinPress: g.Button.MinPress.D(),
			LongPress: g.Button.LongPress.D(), DoublePress: g.Button.DoublePress.D()})
	if pins.PIR != nil {
		d.pir = hal.NewMotion(pins.PIR,
			hal.InputOptions{Name: "pir", ActiveLow: g.PIR.ActiveLow, Pull: pull(g.PIR.Pull), Logger: d.log},
			hal.MotionOptions{Hold: g.PIR.Hold.D(), MinActive: g.PIR.MinActive.D(), Cooldown: g.PIR.Cooldown.D()})
	}
	if pins.Chime != nil {
		quiet, err := hal.ParseQuietHours(g.Chime.QuietHours) // validated already
		if err != nil {
			return fmt.Errorf("daemon: gpio.chime.quiet_hours: %w", err)
		}
		d.chime = hal.NewChime(pins.Chime, hal.ChimeOptions{
			ActiveLow: g.Chime.ActiveLow, Pulse: g.Chime.Pulse.D(), Enabled: g.Chime.Enabled,
			MinGap: g.Chime.MinGap.D(), Quiet: quiet, Logger: d.log,
		})
	}
	if pins.LED != nil {
		d.led = hal.NewLED(pins.LED, hal.LEDOptions{ActiveLow: g.LED.ActiveLow, Logger: d.log})
	}
	if pins.Door != nil && g.Door.Line != "" {
		d.buildDoor(pins.Door)
	}
	return nil
}

// buildCamera builds the camera (Options.Camera or camera.device), its
// RAM ring, and the clip store and recorder.
func (d *Daemon) buildCamera() error {
	c := d.cfg.Camera
	if len(d.cfg.Privacy.Masks) > 0 && (c.Device != "" || d.opts.Camera != nil) {
		shapes, err := d.cfg.Privacy.Shapes() // config.Validate checked them
		if err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		m, err := mask.New(shapes, mask.Options{})
		if err != nil {
			return fmt.Errorf("daemon: privacy.masks: %w", err)
		}
		d.masker = m
	}
	src := d.opts.Camera
	switch {
	case src != nil:
	case c.Device == "":
		return nil
	case c.Device == "sim":
		d.log.Error("daemon: camera.device is sim but no simulated camera was given; running without a camera")
		return nil
	default:
		src = v4l2src.New(c.Device, v4l2src.Options{Width: c.Width, Height: c.Height, FPS: c.FPS, Format: c.Format,
			NoH264: len(d.cfg.Privacy.Masks) > 0, Logger: d.log})
	}
	d.src = src
	ring := capture.NewRing(int(d.cfg.Capture.RingBytes.Bytes()))
	opts := capture.Options{Clock: d.clock, Logger: d.log}
	if d.masker != nil {
		opts.Filter = d.masker // before the ring: nothing downstream sees an unmasked pixel
	}
	d.camera = capture.New(src, ring, opts)
	if !d.cfg.Clip.Enabled {
		return nil
	}
	st := d.cfg.Storage
	sopts := storage.Options{
		Mode: storage.Mode(st.Mode), MaxBytes: st.MaxBytes.Bytes(), MaxAge: st.MaxAge.D(), MinFree: st.MinFree.Bytes(),
		ChunkBytes: clipxfer.DefaultChunkBytes, // the digests kept with each clip are the transfer's
		Clock:      d.clock, Logger: d.log,
	}
	if d.sealer != nil {
		sopts.Encrypter = d.sealer // every clip sealed for privacy.recipients before it is stored
	}
	store, err := storage.Open(filepath.Join(st.Dir, "clips"), sopts)
	if err != nil {
		d.log.Error("daemon: clip storage unavailable, recording no clips", "err", err)
		return nil
	}
	d.clips = store
	if d.cfg.Audio.Microphone != "" || d.opts.Microphone != nil {
		// The recorder copies a clip's sound out every second, like its
		// frames: the ring holds the pre-roll and a margin for a busy CPU.
		d.sound = capture.NewAudioRing(d.cfg.Capture.PreRoll.D() + soundMargin)
	}
	d.rec = clip.New(ring, store, clip.Options{
		Audio:   d.sound,
		PreRoll: d.cfg.Capture.PreRoll.D(), PostRoll: d.cfg.Capture.PostRoll.D(),
		Merge: d.cfg.Clip.Merge, MaxLength: d.cfg.Clip.MaxLength.D(), Clock: d.clock, Logger: d.log,
	})
	return nil
}
