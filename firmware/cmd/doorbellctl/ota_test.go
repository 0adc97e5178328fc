package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker"
	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/delivery"
	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

func keygen(t *testing.T) (key, pub string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	if code, _, _ := runCLI(t, nil, "ota", "keygen", "--out", dir); code != 0 {
		t.Fatal("keygen failed")
	}
	return filepath.Join(dir, "doorbell-ota.key"), filepath.Join(dir, "doorbell-ota.pub")
}

// testBinary is this test binary: a real ELF file of the running arch.
func testBinary(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ota.FileArch(exe); err != nil {
		t.Skip("not an ELF system:", err)
	}
	return exe
}

func TestKeygenSignVerify(t *testing.T) {
	key, pub := keygen(t)
	if code, _, errs := runCLI(t, nil, "ota", "keygen", "--out", filepath.Dir(key)); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("keygen over existing keys: %d %s", code, errs)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", fi.Mode())
	}
	bin := testBinary(t)
	bundle := filepath.Join(t.TempDir(), "d.ota")
	code, out, _ := runCLI(t, nil, "ota", "sign", "--key", key, "--version", "v1.3.0", "--in", bin, "--out", bundle)
	if code != 0 || !strings.Contains(out, "doorbelld 1.3.0 for "+ota.RunningArch().String()) {
		t.Fatalf("sign: %d %s", code, out)
	}
	code, out, _ = runCLI(t, nil, "ota", "verify", "--pubkey", pub, bundle)
	if code != 0 || !strings.Contains(out, "is valid") || !strings.Contains(out, "version  1.3.0") {
		t.Fatalf("verify: %d %s", code, out)
	}
	// Key rotation: the old key plus the new one, one given as base64.
	pubText, _ := os.ReadFile(pub)
	pk, _ := ota.ParsePublicKey(string(pubText))
	if code, _, _ := runCLI(t, nil, "ota", "verify", "--pubkey", ota.EncodePublicKey(otatest.Public(1)), "--pubkey", ota.EncodePublicKey(pk), bundle); code != 0 {
		t.Errorf("verify with two keys: %d", code)
	}

	good, _ := os.ReadFile(bundle)
	bad := func(name string, b []byte, want string) {
		p := filepath.Join(t.TempDir(), name+".ota")
		os.WriteFile(p, b, 0o644)
		code, _, errs := runCLI(t, nil, "ota", "verify", "--pubkey", pub, p)
		if code != 1 || !strings.Contains(errs, "INVALID") || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d, %q; want 1 with %q", name, code, errs, want)
		}
	}
	flip := func(off int) []byte {
		b := bytes.Clone(good)
		b[off] ^= 1
		return b
	}
	bad("binary-bit", flip(len(good)-100), "hash mismatch")
	bad("manifest-bit", flip(40), "bad signature")
	sigStart := bytes.Index(good, []byte("\n}")) + 2 // the manifest JSON ends with "\n}"
	bad("signature-bit", flip(sigStart+20), "bad signature")
	bad("truncated", good[:len(good)/2], "truncated")
	bad("empty", nil, "truncated")
	other := otatest.Bundle(t, 3, otatest.Manifest("1.3.0", []byte("binary")), []byte("binary"))
	bad("other-key", other, "untrusted key")

	// Expired: signed a year ago for 30 days.
	var out2, errb bytes.Buffer
	old := &env{ctx: context.Background(), stdout: &out2, stderr: &errb, getenv: func(string) string { return "" },
		now: func() time.Time { return time.Now().AddDate(-1, 0, 0) }}
	expired := filepath.Join(t.TempDir(), "expired.ota")
	if code := run(old, []string{"ota", "sign", "--key", key, "--version", "1.3.0", "--in", bin, "--out", expired, "--expires", "30d"}); code != 0 {
		t.Fatalf("sign: %s", errb.String())
	}
	eb, _ := os.ReadFile(expired)
	bad("expired", eb, "expired")
}

func TestSignArchitecture(t *testing.T) {
	key, pub := keygen(t)
	script := filepath.Join(t.TempDir(), "doorbelld.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho not really a daemon\n"), 0o755)
	out := filepath.Join(t.TempDir(), "x.ota")
	if code, _, errs := runCLI(t, nil, "ota", "sign", "--key", key, "--version", "1.0.0", "--in", script, "--out", out); code != 1 || !strings.Contains(errs, "--goarch") {
		t.Errorf("non-ELF without flags: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, nil, "ota", "sign", "--key", key, "--version", "1.0.0", "--in", script, "--out", out,
		"--goos", "linux", "--goarch", "arm", "--goarm", "6"); code != 0 {
		t.Fatal("non-ELF with flags")
	}
	if code, stdout, _ := runCLI(t, nil, "ota", "verify", "--pubkey", pub, out); code != 0 || !strings.Contains(stdout, "linux/arm/v6") {
		t.Errorf("verify: %d %s", code, stdout)
	}
	wrong := "arm64"
	if ota.RunningArch().GOARCH == "arm64" {
		wrong = "amd64"
	}
	if code, _, errs := runCLI(t, nil, "ota", "sign", "--key", key, "--version", "1.0.0", "--in", testBinary(t), "--out", out, "--goarch", wrong); code != 1 || !strings.Contains(errs, "is built for") {
		t.Errorf("flag contradicting the binary: %d %s", code, errs)
	}
	for _, exp := range []string{"0d", "yesterday", "-5h"} {
		if code, _, _ := runCLI(t, nil, "ota", "sign", "--key", key, "--version", "1.0.0", "--in", script, "--out", out,
			"--goos", "linux", "--goarch", "arm64", "--expires", exp); code != 2 {
			t.Errorf("--expires %s accepted", exp)
		}
	}
}

// TestPush pushes bundles with doorbellctl to a device on a broker that
// wants a login.
func TestPush(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	b := broker.New(broker.Options{Listen: addr, Username: "admin", Password: "s3cret", Logger: quiet})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Run(ctx)

	// The device, wired as the daemon does.
	dir := filepath.Join(t.TempDir(), "ota")
	v1, v2 := otatest.Binary("1.0.0", 10_000), otatest.Binary("2.0.0", 300_000)
	otatest.Seed(t, dir, v1, "1.0.0")
	inst, _ := install.New(install.Options{Dir: dir, Keys: otatest.Keyring(0), Logger: quiet,
		Executable: filepath.Join(dir, "slot-a", install.BinaryName)})
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("doorbelld-front").SetUsername("admin").SetPassword("s3cret"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(50)
	const base = "home/front"
	dev := delivery.NewDevice(delivery.Options{Base: base, Installer: inst, Version: "1.0.0", Logger: quiet,
		Publish: func(topic string, retained bool, payload []byte) error {
			tok := c.Publish(topic, 1, retained, payload)
			tok.WaitTimeout(5 * time.Second)
			return tok.Error()
		}})
	c.Subscribe(delivery.CommandTopic(base), 1, func(_ paho.Client, m paho.Message) { dev.HandleCommand(m.Payload()) }).Wait()
	for _, f := range delivery.Filters(base) {
		c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { dev.HandleMessage(m.Topic(), m.Payload(), m.Retained()) }).Wait()
	}
	done := make(chan error, 1)
	go func() { done <- dev.Run(ctx) }()

	write := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "b.ota")
		os.WriteFile(p, b, 0o644)
		return p
	}
	push := func(bundle string, extra ...string) (int, string, string) {
		args := append([]string{"ota", "push", "--broker", "mqtt://" + addr, "--user", "admin", "--prefix", "home", "--device", "front",
			"--chunk-size", "8192", "--wait", "0"}, extra...)
		return runCLI(t, map[string]string{"DOORBELL_MQTT_PASSWORD": "s3cret"}, append(args, bundle)...)
	}
	// Refused by the device: signed by a key it does not trust.
	code, _, errs := push(write(otatest.Bundle(t, 4, otatest.Manifest("2.0.0", v2), v2)))
	if code != 1 || !strings.Contains(errs, "refused") || !strings.Contains(errs, "untrusted key") {
		t.Errorf("untrusted bundle: %d %s", code, errs)
	}
	// Refused locally with --pubkey: never sent.
	code, _, errs = push(write(otatest.Bundle(t, 4, otatest.Manifest("2.0.0", v2), v2)), "--pubkey", ota.EncodePublicKey(otatest.Public(0)))
	if code != 1 || !strings.Contains(errs, "not sending it") {
		t.Errorf("local check: %d %s", code, errs)
	}
	code, out, errs := push(write(otatest.NewBundle(t, "2.0.0", v2)), "--pubkey", ota.EncodePublicKey(otatest.Public(0)))
	if code != 0 || !strings.Contains(out, "2.0.0 installed") || !strings.Contains(errs, "100%") {
		t.Fatalf("push: %d\n%s%s", code, out, errs)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "restart required") {
			t.Errorf("device Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("device did not ask for a restart")
	}
	otatest.CheckOneValid(t, dir, v2)
	// Wrong password: a clear error.
	code, _, errs = runCLI(t, map[string]string{"DOORBELL_MQTT_PASSWORD": "wrong"}, "ota", "push", "--broker", "tcp://"+addr, "--user", "admin", write(otatest.NewBundle(t, "3.0.0", v2)))
	if code != 1 || !strings.Contains(errs, "connect") {
		t.Errorf("wrong password: %d %s", code, errs)
	}
}

func TestStatus(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, otatest.Binary("1.0.0", 100), "1.0.0")
	code, out, _ := runCLI(t, nil, "ota", "status", "--dir", dir)
	if code != 0 || !strings.Contains(out, `"phase": "idle"`) || !strings.Contains(out, `"floor": "1.0.0"`) {
		t.Errorf("status: %d %s", code, out)
	}
}
