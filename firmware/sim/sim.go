package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/simcam"
	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/hal"
	"github.com/doorbelld/doorbelld/hal/haltest"
)

// Options configure a Board.
type Options struct {
	// Pins simulates the GPIO lines (doorbelld --sim). Without it only the
	// camera may be simulated.
	Pins bool
	// PressHold is how long a simulated press holds the button. Default
	// 150ms.
	PressHold time.Duration
	Clock     clockwork.Clock // the camera's clock; default real
	Logger    *slog.Logger
}

// Board is the simulated hardware.
type Board struct {
	opts Options
	gpio config.GPIO

	// The simulated lines; nil without Options.Pins.
	Button, PIR, Chime, LED *haltest.Pin
	// Door is the door relay's line, with gpio.door.line set (any name).
	Door   *haltest.Pin
	camera capture.Source
}

// ErrNoPins: the board simulates no GPIO lines.
var ErrNoPins = errors.New("sim: no simulated GPIO lines (not in sim mode)")

// New builds the simulated parts for cfg. It starts nothing.
func New(cfg config.Config, opts Options) *Board {
	if opts.PressHold <= 0 {
		opts.PressHold = 150 * time.Millisecond
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Board{opts: opts, gpio: cfg.GPIO}
	if opts.Pins {
		g := cfg.GPIO
		// Idle levels: a released active-low button reads high.
		b.Button = haltest.NewPin("SIM_BUTTON", gpio.Level(g.Button.ActiveLow))
		b.PIR = haltest.NewPin("SIM_PIR", gpio.Level(g.PIR.ActiveLow))
		b.Chime = haltest.NewPin("SIM_CHIME", gpio.Level(g.Chime.ActiveLow))
		b.LED = haltest.NewPin("SIM_LED", gpio.Level(g.LED.ActiveLow))
		if g.Door.Line != "" {
			b.Door = haltest.NewPin("SIM_DOOR", gpio.Level(g.Door.ActiveLow))
		}
	}
	if c := cfg.Camera; c.Device == "sim" {
		b.camera = simcam.New(c.Width, c.Height, c.FPS, opts.Clock)
	}
	return b
}

// Pins returns the simulated lines for daemon.Options, or nil.
func (b *Board) Pins() *hal.Pins {
	if b.Button == nil {
		return nil
	}
	p := &hal.Pins{Button: b.Button, PIR: b.PIR, Chime: b.Chime, LED: b.LED}
	if b.Door != nil {
		p.Door = b.Door
	}
	return p
}

// Camera returns the simulated camera for daemon.Options, or nil when
// camera.device is not "sim".
func (b *Board) Camera() capture.Source { return b.camera }

// Press presses the button for hold (PressHold when 0); the release
// follows in the background.
func (b *Board) Press(hold time.Duration) error {
	if b.Button == nil {
		return ErrNoPins
	}
	if hold <= 0 {
		hold = b.opts.PressHold
	}
	b.Button.Press(b.gpio.Button.ActiveLow, hold)
	return nil
}

// Ring presses the button for PressHold.
func (b *Board) Ring() error { return b.Press(0) }

// Motion sets the PIR line active (on) or idle.
func (b *Board) Motion(on bool) error {
	if b.PIR == nil {
		return ErrNoPins
	}
	b.PIR.Set(gpio.Level(on != b.gpio.PIR.ActiveLow))
	return nil
}

// Terminal reads lines from r: an empty line rings, "l" holds the button
// for a long press, "m" toggles motion. It returns at EOF.
func (b *Board) Terminal(r io.Reader) {
	sc := bufio.NewScanner(r)
	motion := false
	for sc.Scan() {
		var err error
		switch sc.Text() {
		case "":
			err = b.Ring()
		case "l":
			err = b.Press(b.gpio.Button.LongPress.D() + b.opts.PressHold)
		case "m":
			motion = !motion
			err = b.Motion(motion)
		default:
			b.opts.Logger.Info("sim: Enter rings, l+Enter long-presses, m+Enter toggles motion")
		}
		if err != nil {
			b.opts.Logger.Warn("sim: terminal", "err", err)
		}
	}
}

// Handler serves POST /api/sim/ring and POST /api/sim/motion?state=on|off
// for the web server to mount at /api/sim/.
func (b *Board) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/sim/ring", func(w http.ResponseWriter, _ *http.Request) {
		if err := b.Ring(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "ring accepted")
	})
	mux.HandleFunc("POST /api/sim/motion", func(w http.ResponseWriter, r *http.Request) {
		var on bool
		switch st := r.URL.Query().Get("state"); st {
		case "on":
			on = true
		case "off":
		default:
			http.Error(w, fmt.Sprintf("state=%q: want state=on or state=off", st), http.StatusBadRequest)
			return
		}
		if err := b.Motion(on); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "motion %s accepted\n", r.URL.Query().Get("state"))
	})
	return mux
}
