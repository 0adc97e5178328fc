// Command doorbelld-boot is the small, stable launcher systemd starts
// instead of doorbelld. It is never updated over the air, so a new
// doorbelld that crashes before it can do anything still gets its starts
// counted and rolled back:
//
//	doorbelld-boot [--dir DIR] [--max-boots N] -- [doorbelld arguments]
//
// It calls install.Boot on DIR (default /var/lib/doorbell/ota): finish an
// interrupted install or rollback, count the start of a version on trial,
// roll back after N starts without a health confirmation. Then it execs
// DIR/current's binary in its own process, so systemd's Type=notify and
// watchdog see doorbelld itself. A broken OTA state is logged, never fatal:
// it still starts what current names.
//
//	doorbelld-boot --dir DIR --seed FILE --seed-version V
//
// sets up a fresh DIR once (the install script does this): FILE in slot a,
// current pointing at it, V as the version floor.
//
//	doorbelld-boot --dir DIR --or-good -- [doorbelld arguments]
//
// runs (does not exec, and counts nothing) current's binary with the
// arguments, and when that fails, the known-good slot's: systemd's
// ExecStopPost, whose doorbelld --release-outputs must drive the relays
// inactive even after an update that cannot start at all.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"

	"github.com/doorbelld/doorbelld/ota/install"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("doorbelld-boot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", install.DefaultDir, "OTA directory: slots, current link, state")
	maxBoots := fs.Int("max-boots", install.DefaultMaxBoots, "starts a new version gets to confirm its health before the previous one comes back")
	seed := fs.String("seed", "", "set up a fresh OTA directory with this doorbelld binary, then exit")
	seedVersion := fs.String("seed-version", "", "the version of the --seed binary (what its --version prints)")
	orGood := fs.Bool("or-good", false, "run current's binary with the arguments and, if it fails, the known-good slot's; count nothing (ExecStopPost)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	inst, err := install.New(install.Options{Dir: *dir, MaxBoots: *maxBoots, Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "doorbelld-boot:", err)
		return 2
	}
	if *seed != "" {
		f, err := os.Open(*seed)
		if err != nil {
			fmt.Fprintln(stderr, "doorbelld-boot:", err)
			return 1
		}
		defer f.Close()
		if err := inst.Seed(f, *seedVersion); err != nil {
			fmt.Fprintln(stderr, "doorbelld-boot:", err)
			return 1
		}
		fmt.Fprintf(stderr, "doorbelld-boot: %s set up with %s in slot a\n", *dir, *seedVersion)
		return 0
	}
	if *orGood {
		return runOrGood(inst, fs.Args(), stderr, log)
	}
	res, err := inst.Boot()
	if err != nil {
		log.Error("doorbelld-boot: OTA state", "err", err)
	}
	if res.Path == "" {
		log.Error("doorbelld-boot: nothing to start", "dir", *dir)
		return 1
	}
	log.Info("doorbelld-boot: starting", "binary", res.Path, "version", res.Version, "trial", res.Trial,
		"start", res.Boots, "rolled_back", res.RolledBack)
	err = execve(res.Path, append([]string{res.Path}, fs.Args()...), os.Environ())
	log.Error("doorbelld-boot: exec", "binary", res.Path, "err", err)
	return 1
}

// runOrGood runs each of inst's candidate binaries with args until one
// exits 0.
func runOrGood(inst *install.Installer, args []string, stderr io.Writer, log *slog.Logger) int {
	bins := inst.Candidates()
	if len(bins) == 0 {
		log.Error("doorbelld-boot: nothing to run", "dir", inst.Dir())
		return 1
	}
	for k, bin := range bins {
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, stderr
		err := cmd.Run()
		if err == nil {
			return 0
		}
		if k+1 < len(bins) {
			log.Warn("doorbelld-boot: failed; running the known-good version's binary", "binary", bin, "err", err, "next", bins[k+1])
		} else {
			log.Error("doorbelld-boot: failed", "binary", bin, "err", err)
		}
	}
	return 1
}
