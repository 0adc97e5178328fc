//go:build integration

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// doorbellctl lists and pulls clips through a Mosquitto that speaks only
// TLS with a certificate of a private CA and requires a client
// certificate; without --ca-file (or without a client certificate) it
// fails, saying why.
func TestClipsOverTLS(t *testing.T) {
	m := mosquittotest.NewTLS(t)
	f := func(name string) string { return filepath.Join(m.Dir, name) }
	url := "ssl://127.0.0.1:" + strconv.Itoa(m.Port)

	tc, err := mqttpub.TLSConfig(f("ca.pem"), f("client.pem"), f("client.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	clips := runClipDevice(t, url, tc, "doorbell/doorbell", 200<<10)

	tlsArgs := []string{"--broker", "mqtts://127.0.0.1:" + strconv.Itoa(m.Port), "--ca-file", f("ca.pem"), "--cert-file", f("client.pem"), "--key-file", f("client.key")}
	code, out, errs := runCLI(t, nil, append([]string{"clips", "list"}, tlsArgs...)...)
	if code != 0 || !strings.Contains(out, "clipa") || !strings.Contains(errs, "1 clips offered by doorbell/doorbell") {
		t.Fatalf("list over TLS: %d %s %s", code, out, errs)
	}
	outDir := t.TempDir()
	code, out, errs = runCLI(t, nil, append([]string{"clips", "pull", "--out", outDir}, tlsArgs...)...)
	if code != 0 || strings.Count(out, "sha256 ok") != 1 {
		t.Fatalf("pull over TLS: %d %s %s", code, out, errs)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "*_clipa.mp4"))
	if got, _ := os.ReadFile(files[0]); len(files) != 1 || !bytes.Equal(got, clips["clipa"]) {
		t.Errorf("pulled %v, not the clip", files)
	}

	// The system's CAs do not know the broker's certificate.
	code, out, errs = runCLI(t, nil, "clips", "list", "--broker", url, "--cert-file", f("client.pem"), "--key-file", f("client.key"))
	if code != 1 || out != "" || !strings.Contains(errs, "doorbellctl clips list: connect to "+url+": ") ||
		!strings.Contains(errs, "certificate signed by unknown authority") || !strings.Contains(errs, "--ca-file") {
		t.Errorf("list without --ca-file: exit %d, stderr %q", code, errs)
	}
	// The broker wants a client certificate.
	code, out, errs = runCLI(t, nil, "clips", "list", "--broker", url, "--ca-file", f("ca.pem"))
	if code != 1 || out != "" || !strings.Contains(errs, "doorbellctl clips list: connect to "+url+": ") ||
		!strings.Contains(errs, "give it with --cert-file and --key-file") {
		t.Errorf("list without a client certificate: exit %d, stderr %q", code, errs)
	}
}
