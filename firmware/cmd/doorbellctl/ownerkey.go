package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

// ownerKeyEnv names the owner key file when --owner-key is not given.
const ownerKeyEnv = "DOORBELL_OWNER_KEY_FILE"

// runOwnerKey makes a new owner key: doorbellctl owner-key FILE.
func runOwnerKey(e *env, args []string) int {
	const cmd = "owner-key"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: doorbellctl owner-key FILE\n\n"+
			"Writes a new owner key (%d random bytes, hex) to FILE, mode 0600; an existing FILE is never overwritten.\n"+
			"The doorbell (mqtt.owner_key_file) and doorbellctl clips pull (--owner-key FILE or %s) hold the same file:\n"+
			"the doorbell then takes a clip's done only when it is signed with it.\n", ownerkey.MinBytes, ownerKeyEnv)
	}
	arg, code, done := parseOne(e, cmd, fs, args, "FILE")
	if done {
		return code
	}
	path := arg
	if _, err := os.Lstat(path); err == nil {
		return failf(e, cmd, "%s exists; not overwriting a key (move it away first)", path)
	}
	key := ownerkey.Generate()
	if err := writeNew(path, key.Marshal(), 0o600); err != nil {
		return failf(e, cmd, "%v", err)
	}
	fmt.Fprintf(e.stdout, "owner key %s written to %s (mode 0600)\n", key.ID(), path)
	fmt.Fprintf(e.stdout, "  on the doorbell: copy it there and set mqtt.owner_key_file to its path\n")
	fmt.Fprintf(e.stdout, "  to pull clips:   doorbellctl clips pull --owner-key %s (or set %s)\n", path, ownerKeyEnv)
	fmt.Fprintf(e.stdout, "  keep it secret: whoever has it can make the doorbell free clips (storage.mode ram)\n")
	return 0
}

// loadOwnerKey loads the owner key of --owner-key (flag) or, without it,
// $DOORBELL_OWNER_KEY_FILE; none is no key. It warns about a file others
// may read. On failure it has printed why and returns the exit code.
func loadOwnerKey(e *env, cmd, flagValue string) (ownerkey.Key, int) {
	path, from := flagValue, "--owner-key"
	if path == "" {
		path, from = e.getenv(ownerKeyEnv), ownerKeyEnv
	}
	if path == "" {
		return nil, 0
	}
	key, err := ownerkey.Load(path)
	if err != nil {
		return nil, failf(e, cmd, "%s: %v", from, err)
	}
	if ownerkey.Loose(path) {
		fmt.Fprintf(e.stderr, "doorbellctl %s: warning: %s may be read by others (chmod 600 %s): whoever reads it can make the doorbell free clips\n", cmd, path, path)
	}
	return key, 0
}
