// Command fakedaemon stands in for doorbelld in OTA tests (see
// otatest.System). Build it with -ldflags "-X main.version=V". It uses
// ota/install the way doorbelld does: Boot at start, Run for the
// confirmation window, Confirm when healthy, exit install.ExitRestart when
// the binary changed. What it does is read from the environment:
//
//	OTATEST_DIR      the OTA directory
//	OTATEST_KEYS     file with the trusted public keys
//	OTATEST_WINDOW   confirmation window (Go duration)
//	OTATEST_PLAN     file: JSON object version → "ok" | "crash" | "hang";
//	                 "V/rollback" is V's behavior when it is back after a rollback
//	OTATEST_INSTALL  bundle file installed (and then removed) by a confirmed version
//
// ok: confirm, install OTATEST_INSTALL if it exists (exit 75), else exit 0.
// crash: exit 3 at once, before Boot, like a binary that cannot start.
// hang: never confirm; Run decides (a rollback exits 75, staying exits 0).
// Each start prints one JSON line: {"version", "slot", "event", "error"}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/install"
)

var version = "dev"

type line struct {
	Version string `json:"version"`
	Slot    string `json:"slot"`
	Event   string `json:"event"`
	Error   string `json:"error,omitempty"`
}

func main() { os.Exit(run()) }

func run() int {
	out := line{Version: version}
	say := func(event string, err error) {
		out.Event = event
		if err != nil {
			out.Error = err.Error()
		}
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
	}
	plan := map[string]string{}
	if b, err := os.ReadFile(os.Getenv("OTATEST_PLAN")); err == nil {
		_ = json.Unmarshal(b, &plan)
	}
	behavior := plan[version]
	if behavior == "" {
		behavior = "ok"
	}
	if behavior == "crash" {
		say("crash", nil)
		return 3
	}
	keys, err := ota.LoadKeyring(os.Getenv("OTATEST_KEYS"))
	if err != nil {
		say("error", err)
		return 1
	}
	window, _ := time.ParseDuration(os.Getenv("OTATEST_WINDOW"))
	inst, err := install.New(install.Options{
		Dir: os.Getenv("OTATEST_DIR"), Keys: keys, Version: version, ConfirmWindow: window,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		say("error", err)
		return 1
	}
	res, err := inst.Boot()
	if err != nil {
		say("error", err)
		return 1
	}
	out.Slot = res.Slot
	if st, err := inst.Status(); err == nil && st.Phase == install.PhaseRollback && plan[version+"/rollback"] != "" {
		behavior = plan[version+"/rollback"]
	}
	if res.RestartRequired {
		say("restart", nil)
		return install.ExitRestart
	}
	if behavior == "hang" {
		if err := inst.Run(context.Background()); errors.Is(err, install.ErrRestartRequired) {
			say("rolled_back", err)
			return install.ExitRestart
		}
		st, _ := inst.Status()
		say("unconfirmed", errors.New(st.Error))
		return 0
	}
	ok, err := inst.Confirm()
	if err != nil {
		say("error", err)
		return 1
	}
	if ok {
		say("confirmed", nil)
	}
	path := os.Getenv("OTATEST_INSTALL")
	f, err := os.Open(path)
	if err != nil {
		say("idle", nil)
		return 0
	}
	fi, _ := f.Stat()
	r, err := inst.Install(context.Background(), f, fi.Size(), nil)
	f.Close()
	os.Remove(path)
	if err != nil {
		say("install_failed", err)
		return 0
	}
	say("installed "+r.Manifest.Version, nil)
	return install.ExitRestart
}
