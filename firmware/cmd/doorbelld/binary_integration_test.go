//go:build integration

package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/hass"
)

// The real binary, as a user runs it, against the Mosquitto that
// scripts/test.sh started.

type message struct {
	topic    string
	payload  []byte
	retained bool
}

func TestBinarySimAgainstMosquitto(t *testing.T) {
	broker := os.Getenv("DOORBELL_TEST_BROKER")
	if broker == "" {
		t.Fatal("DOORBELL_TEST_BROKER not set: run through scripts/test.sh")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "doorbelld")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	prefix := fmt.Sprintf("bintest%d", os.Getpid())
	httpAddr := mosquittotest.FreeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf(`
device: {id: front, name: Front door}
mqtt: {broker: %q, topic_prefix: %s, discovery_prefix: %s_ha}
http: {listen: %q}
rtsp: {listen: %q}
storage: {dir: %q}
camera: {fps: 10}
`, broker, prefix, prefix, httpAddr, mosquittotest.FreeAddr(t), filepath.Join(dir, "state")))

	msgs := make(chan message, 100)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(prefix + "-sub"))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)
	sub.Subscribe(prefix+"/#", 1, func(_ paho.Client, m paho.Message) {
		msgs <- message{m.Topic(), append([]byte(nil), m.Payload()...), m.Retained()}
	}).Wait()
	want := func(topic string) message {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-msgs:
				if m.topic == topic {
					return m
				}
			case <-deadline:
				t.Fatalf("nothing on %s", topic)
			}
		}
	}

	for round, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		args := []string{"--sim", "--config", cfg}
		prof := filepath.Join(dir, "cpu.pprof")
		if stop == syscall.SIGTERM {
			args = append(args, "--cpuprofile", prof)
		}
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if m := want(prefix + "/front/status"); string(m.payload) != "online" {
			t.Fatalf("round %d: status %q, want online\n%s", round, m.payload, stderr.String())
		}
		// Ring once the HTTP API is up and the camera streams.
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Post("http://"+httpAddr+"/api/sim/ring", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("POST /api/sim/ring = %d", resp.StatusCode)
		}
		var ev map[string]any
		if err := json.Unmarshal(want(prefix+"/front/event").payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev["event_type"] != "ring" || ev["device"] != "front" || ev["snapshot"] == nil {
			t.Errorf("event %v", ev)
		}
		if _, err := jpeg.Decode(bytes.NewReader(want(prefix + "/front/snapshot").payload)); err != nil {
			t.Errorf("snapshot does not decode: %v", err)
		}

		start := time.Now()
		cmd.Process.Signal(stop)
		err = cmd.Wait()
		took := time.Since(start)
		switch stop {
		case syscall.SIGTERM:
			if err != nil || took > 2*time.Second {
				t.Errorf("SIGTERM: exit %v after %v, want 0 within 2s\n%s", err, took, stderr.String())
			}
			checkProfile(t, prof)
		case syscall.SIGKILL:
			// The broker publishes the Last Will for us.
		}
		if m := want(prefix + "/front/status"); string(m.payload) != "offline" {
			t.Errorf("after %v: status %q, want offline", stop, m.payload)
		}
	}
	// Clear the retained messages this test left on the shared broker:
	// discovery and the states hass announces, then the daemon's own.
	o := hass.Options{DeviceID: "front", TopicPrefix: prefix, DiscoveryPrefix: prefix + "_ha"}
	for _, m := range append(hass.Remove(o), hass.ClearStates(o)...) {
		sub.Publish(m.Topic, 1, true, m.Payload).Wait()
	}
	for _, topic := range []string{"status", "health", "snapshot", "snapshot/info", "clip"} {
		sub.Publish(prefix+"/front/"+topic, 1, true, []byte{}).Wait()
	}
	// and the retained clip manifests, found by subscribing afresh
	manifests := make(chan string, 100)
	sub.Subscribe(prefix+"/front/clips/+/manifest", 1, func(_ paho.Client, m paho.Message) {
		if len(m.Payload()) > 0 {
			manifests <- m.Topic()
		}
	}).Wait()
	for {
		select {
		case topic := <-manifests:
			sub.Publish(topic, 1, true, []byte{}).Wait()
			continue
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
}

// checkProfile checks that path holds a CPU profile as pprof writes it: a
// gzipped protocol buffer, here of a run long enough to say something.
func checkProfile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("--cpuprofile: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("--cpuprofile %s: not gzip: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil || len(b) < 100 {
		t.Fatalf("--cpuprofile %s: %d bytes of profile, err %v", path, len(b), err)
	}
}
