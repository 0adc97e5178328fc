// Command doorbelld is the doorbell daemon: it reads the button and the PIR
// sensor, keeps the last seconds of video in RAM, and publishes events and
// snapshots to the home's own MQTT broker. Nothing goes anywhere else.
//
//	doorbelld [--config FILE]                 run on the board (default /etc/doorbell/config.yaml)
//	doorbelld --sim [--config FILE]           run on a laptop: simulated button, PIR and camera
//	doorbelld --check-config --config FILE    validate a config: exit 0, or 2 with one line per problem
//	doorbelld --release-outputs --config FILE drive the chime, door and LED relays inactive (systemd ExecStopPost)
//	doorbelld --version
//
// --cpuprofile FILE writes a Go CPU profile of the run to FILE on exit (for
// scripts/hil/peer.sh and anyone measuring the daemon on a board).
//
// With DOORBELLD_LAST_GOOD_CONFIG=FILE in its environment (the systemd
// unit sets it), doorbelld keeps a copy of the config it started with in
// FILE, and runs on that copy when the config file is damaged on disk (NUL
// bytes, what a power cut leaves of an append not yet synced), logging an
// error at every start until the file is fixed. A config with a mistake
// in it is refused as always: the copy never hides an edit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/daemon"
	simboard "github.com/doorbelld/doorbelld/firmware/sim"
)

// version is stamped by scripts/build.sh with -ldflags "-X main.version=...".
var version = "dev"

const defaultConfig = "/etc/doorbell/config.yaml"

// envLastGood names the file for the last good copy of the config.
const envLastGood = "DOORBELLD_LAST_GOOD_CONFIG"

// exitRestart is the exit status after the MQTT restart command: non-zero,
// so systemd's Restart=on-failure starts the daemon again (EX_TEMPFAIL).
const exitRestart = 75

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func fullVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 && v == "dev" {
				v += "+" + s.Value[:12]
			}
		}
	}
	return v
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doorbelld", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (default "+defaultConfig+"; none in --sim mode)")
	sim := fs.Bool("sim", false, "simulated button, PIR and camera; embedded broker unless the config names one")
	check := fs.Bool("check-config", false, "validate the config file and exit: 0 valid, 2 invalid")
	showVersion := fs.Bool("version", false, "print the version and exit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file` on exit")
	release := fs.Bool("release-outputs", false, "drive the chime, door and LED lines of the config inactive and exit (systemd ExecStopPost)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "doorbelld: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "doorbelld", fullVersion())
		return 0
	}

	lastGood := os.Getenv(envLastGood)
	if *sim || *check {
		lastGood = "" // --check-config judges the file itself
	}
	cfg, data, damaged, err := loadConfig(*cfgPath, *sim, lastGood)
	if err != nil {
		var probs config.Errors
		if errors.As(err, &probs) {
			fmt.Fprintf(stderr, "doorbelld: config %s is invalid:\n", configSource(*cfgPath, *sim))
			for _, p := range probs {
				fmt.Fprintln(stderr, p.Error())
			}
		} else {
			fmt.Fprintln(stderr, "doorbelld:", err)
		}
		return 2
	}
	// What depends on this machine: the storage filesystem's size, the
	// ring against the pre-roll at the camera's format.
	warnings, err := config.CheckHost(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "doorbelld: config %s does not fit this machine:\n%v\n", configSource(*cfgPath, *sim), err)
		return 2
	}
	if *release {
		done, err := daemon.ReleaseOutputs(cfg.GPIO)
		for _, d := range done {
			fmt.Fprintln(stdout, "released", d)
		}
		if err != nil {
			fmt.Fprintln(stderr, "doorbelld:", err)
			return 1
		}
		return 0
	}
	if *check {
		for _, w := range warnings {
			fmt.Fprintln(stdout, "warning:", w)
		}
		fmt.Fprintf(stdout, "config %s is valid\n", configSource(*cfgPath, *sim))
		return 0
	}

	log := newLogger(cfg.Log, stderr)
	slog.SetDefault(log)
	if damaged != nil {
		log.Error("doorbelld: config damaged on disk: running on the last good copy until it is fixed",
			"config", pathOr(*cfgPath), "last_good", lastGood, "err", damaged)
	} else if lastGood != "" {
		if err := config.KeepLastGood(lastGood, data); err != nil {
			log.Warn("doorbelld: config", "err", err)
		}
	}
	for _, w := range warnings {
		log.Warn("doorbelld: config", "warning", w)
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			log.Error("doorbelld: cpu profile", "err", err)
			return 1
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	opts := daemon.Options{Config: cfg, Sim: *sim, Version: fullVersion(), Logger: log, ConfigDamaged: damaged}
	var board *simboard.Board
	if *sim || cfg.Camera.Device == "sim" {
		// The simulated board: pins in sim mode, the synthetic camera
		// whenever camera.device is "sim".
		board = simboard.New(cfg, simboard.Options{Pins: *sim, Logger: log})
		opts.Pins, opts.Camera = board.Pins(), board.Camera()
		if *sim {
			opts.SimHandler = board.Handler()
		}
	}
	d, err := daemon.New(opts)
	if err != nil {
		log.Error("doorbelld: start", "err", err)
		return 1
	}
	if *sim {
		go board.Terminal(stdin)
		log.Info("sim mode: press Enter to ring (l+Enter: long press, m+Enter: toggle motion)",
			"http", cfg.HTTP.Listen, "watch", "mosquitto_sub -h 127.0.0.1 -t '"+cfg.MQTT.TopicPrefix+"/#' -v")
	}
	if err := d.Run(ctx); err != nil {
		if errors.Is(err, daemon.ErrRestart) {
			log.Warn("doorbelld: exiting for a restart", "exit", exitRestart)
			return exitRestart
		}
		log.Error("doorbelld: stopped on error", "err", err)
		return 1
	}
	return 0
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start cpu profile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			slog.Error("doorbelld: write cpu profile", "path", path, "err", err)
		}
	}, nil
}

// configSource names what loadConfig read for the messages about it.
func configSource(path string, sim bool) string {
	if sim && path == "" {
		return "(built-in sim defaults)"
	}
	return pathOr(path)
}

func pathOr(p string) string {
	if p == "" {
		return defaultConfig
	}
	return p
}

// loadConfig loads the config (see config.LoadFallback for lastGood):
// data is the text cfg came from, damaged the config file's damage when
// cfg came from the last good copy instead.
func loadConfig(path string, sim bool, lastGood string) (cfg config.Config, data []byte, damaged, err error) {
	if sim {
		if path == "" {
			c := config.SimDefault()
			err := c.Validate(true)
			return c, nil, nil, err
		}
		cfg, err := config.LoadSim(path, config.SimDefault())
		return cfg, nil, nil, err
	}
	return config.LoadFallback(pathOr(path), lastGood, config.Default())
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	o := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}
