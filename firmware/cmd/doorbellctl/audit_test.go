package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/audit"
)

// TestAuditVerify: an intact log verifies with its head; a line edited
// afterwards breaks the chain, and the error names the file and line.
func TestAuditVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"web:alice", "rtsp:bob", "mqtt"} {
		l.Record(audit.Entry{Action: audit.ActionLive, Actor: who})
	}
	head := l.Stats().Head
	l.Close()

	code, out, errs := runCLI(t, nil, "audit", "verify", path)
	if code != 0 || !strings.Contains(out, "3 entries, chain intact, head "+head) {
		t.Fatalf("verify intact: %d %s %s", code, out, errs)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(b, []byte("rtsp:bob"), []byte("rtsp:eve"), 1), 0o600)
	code, _, errs = runCLI(t, nil, "audit", "verify", path)
	if code != 1 || !strings.Contains(errs, "audit.log") || !strings.Contains(errs, "line 3") {
		t.Fatalf("verify edited: %d %s, want exit 1 naming audit.log line 3", code, errs)
	}
}
