// Command doorbellctl is the doorbell owner's tool, run on a workstation
// or on the device. Commands come in groups, one file each:
//
//	doorbellctl ota keygen --out DIR                         make a signing key pair
//	doorbellctl ota sign --key KEY --version V --in BINARY --out BUNDLE
//	doorbellctl ota verify --pubkey PUB BUNDLE              exit 0 valid, 1 invalid (with the reason)
//	doorbellctl ota push --broker URL --device ID BUNDLE    send a bundle to a doorbell over MQTT
//	doorbellctl ota status [--dir DIR]                      on the device: slots, trial, last outcome
//	doorbellctl clips pull --out DIR [--clip ID]... [--follow]   fetch, verify and store clips over MQTT
//	doorbellctl clips list [--out DIR]                      the clips the doorbell offers
//	doorbellctl owner-key FILE                              make the owner key that signs clip dones (0600)
//	doorbellctl passwd USERNAME                             print a users: entry with the password hashed
//
// Exit codes: 0 done, 1 failed (the reason on stderr), 2 usage error.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// version is stamped by scripts/build.sh with -ldflags "-X main.version=...".
var version = "dev"

// env is what a command may touch, so tests can run it in-process.
type env struct {
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
}

// group is a set of subcommands: "ota", later "clips".
type group struct {
	name, summary string
	run           func(e *env, args []string) int
}

// groups lists every command group; a new group adds one line here and
// one file.
var groups = []group{
	{"ota", "signed firmware updates: keygen, sign, verify, push, status", runOTA},
	{"clips", "video clips over MQTT: pull (resumable, verified), list", runClips},
	{"owner-key", "FILE: make the owner key (clips pull --owner-key, mqtt.owner_key_file)", runOwnerKey},
	{"audit", "verify FILE: check the hash chain of the doorbell's audit log", runAudit},
	{"door", "the door opener: open (signed with the owner key), pin (hash a PIN for Home Assistant)", runDoor},
	{"passwd", "USERNAME: hash a password for the config's users: (web app, streams, RTSP)", runPasswd},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(&env{ctx: ctx, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, now: time.Now}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(e.stdout, "doorbellctl", version)
		return 0
	}
	for _, g := range groups {
		if g.name == args[0] {
			return g.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "doorbellctl: unknown command %q\n", args[0])
	usage(e.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: doorbellctl <command> <subcommand> [flags]\n\ncommands:")
	for _, g := range groups {
		fmt.Fprintf(w, "  %-8s %s\n", g.name, g.summary)
	}
	fmt.Fprintln(w, "\n'doorbellctl <command> help' lists its subcommands; add -h to a subcommand for its flags.")
}

// subcommand is one subcommand of a group.
type subcommand struct {
	name, args, summary string
	run                 func(e *env, args []string) int
}

// dispatch runs the subcommand args[0] of group.
func dispatch(e *env, group string, subs []subcommand, args []string) int {
	if len(args) > 0 {
		for _, s := range subs {
			if s.name == args[0] {
				return s.run(e, args[1:])
			}
		}
	}
	code := 2
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		code = 0
	} else if len(args) > 0 {
		fmt.Fprintf(e.stderr, "doorbellctl %s: unknown subcommand %q\n", group, args[0])
	}
	fmt.Fprintf(e.stderr, "usage: doorbellctl %s <subcommand>\n\n", group)
	for _, s := range subs {
		fmt.Fprintf(e.stderr, "  %s %s\n      %s\n", s.name, s.args, s.summary)
	}
	return code
}

// parse parses flags that may come before or after the positional
// arguments, and returns the positional ones. It prints usage errors.
func parse(fs *flag.FlagSet, args []string) ([]string, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		if fs.NArg() == 0 {
			return pos, true
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseOne parses the flags of a command that takes one positional
// argument (named what in the usage error). It returns the argument, or
// done with the exit code when there is nothing more to do: 0 after -h or
// "help", 2 after a usage error.
func parseOne(e *env, cmd string, fs *flag.FlagSet, args []string, what string) (arg string, code int, done bool) {
	pos, ok := parse(fs, args)
	switch {
	case !ok && len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help"):
		return "", 0, true
	case !ok:
		return "", 2, true
	case len(pos) == 1 && pos[0] == "help":
		fs.Usage()
		return "", 0, true
	case len(pos) != 1 || pos[0] == "":
		return "", usagef(e, cmd, "want one %s", what), true
	}
	return pos[0], 0, false
}

// failf prints an error for a failed command and returns exit code 1.
func failf(e *env, cmd, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "doorbellctl %s: %s\n", cmd, strings.TrimSpace(fmt.Sprintf(format, a...)))
	return 1
}

// usagef prints a usage error and returns exit code 2.
func usagef(e *env, cmd, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "doorbellctl %s: %s\n", cmd, fmt.Sprintf(format, a...))
	return 2
}
