package main

import (
	"flag"
	"fmt"

	"github.com/doorbelld/doorbelld/firmware/audit"
)

var auditCommands = []subcommand{
	{"verify", "FILE", "check the hash chain of an audit log (the doorbell's <storage.dir>/audit.log, with its rotated audit.log.N): " +
		"exit 0 with the entry count and the head hash, or 1 naming the file and line where the chain breaks", auditVerify},
}

func runAudit(e *env, args []string) int { return dispatch(e, "audit", auditCommands, args) }

// auditVerify checks an audit log's chain across its rotated files.
func auditVerify(e *env, args []string) int {
	const cmd = "audit verify"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path, code, done := parseOne(e, cmd, fs, args, "FILE")
	if done {
		return code
	}
	head, n, err := audit.VerifyFiles(path)
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	fmt.Fprintf(e.stdout, "%s: %d entries, chain intact, head %s\n", path, n, head)
	fmt.Fprintf(e.stdout, "compare the head with the prev of the next entry on the MQTT audit topic: a rewritten tail cannot match it\n")
	return 0
}
