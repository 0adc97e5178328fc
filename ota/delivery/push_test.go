package delivery_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker"
	"github.com/doorbelld/doorbelld/ota/delivery"
	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

// startBroker runs the embedded broker on a free loopback port.
func startBroker(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b := broker.New(broker.Options{Listen: addr, Logger: quiet})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return addr
}

func connect(t *testing.T, addr, id string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// mqttDevice wires a Device to the broker the way the daemon does.
func mqttDevice(t *testing.T, addr string, inst *install.Installer, version string) (*delivery.Device, <-chan error) {
	t.Helper()
	c := connect(t, addr, "doorbelld-"+version)
	dev := delivery.NewDevice(delivery.Options{
		Base: base, Installer: inst, Version: version, Logger: quiet, IdleTimeout: 5 * time.Second,
		Publish: func(topic string, retained bool, payload []byte) error {
			tok := c.Publish(topic, 1, retained, payload)
			tok.WaitTimeout(5 * time.Second)
			return tok.Error()
		},
	})
	c.Subscribe(delivery.CommandTopic(base), 1, func(_ paho.Client, m paho.Message) {
		if !m.Retained() {
			dev.HandleCommand(m.Payload())
		}
	}).Wait()
	for _, f := range delivery.Filters(base) {
		c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { dev.HandleMessage(m.Topic(), m.Payload(), m.Retained()) }).Wait()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		done <- dev.Run(ctx)
		close(stopped)
	}()
	t.Cleanup(func() { cancel(); <-stopped })
	dev.PublishState()
	return dev, done
}

// TestPushConfirmed: doorbellctl's push to a device, its restart into the
// new version and that version's health confirmation, over a real broker.
func TestPushConfirmed(t *testing.T) {
	addr := startBroker(t)
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	_, done := mqttDevice(t, addr, installer(t, dir, "a", "1.0.0"), "1.0.0")

	// systemd: when the old daemon exits to restart, start the new one,
	// which confirms once "healthy".
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		if err := <-done; !errors.Is(err, install.ErrRestartRequired) {
			t.Errorf("old daemon's Run = %v", err)
			return
		}
		res, err := installer(t, dir, "a", "").Boot()
		if err != nil || res.Slot != "b" || !res.Trial {
			t.Errorf("Boot = %+v, %v", res, err)
			return
		}
		dev, _ := mqttDevice(t, addr, installer(t, dir, "b", "2.0.0"), "2.0.0")
		time.Sleep(100 * time.Millisecond)
		if err := dev.Confirm(); err != nil {
			t.Error(err)
		}
	}()

	bundle := otatest.NewBundle(t, "2.0.0", v2)
	var mu sync.Mutex
	var progress []int64
	var phases []string
	res, err := delivery.Push(context.Background(), delivery.PushOptions{
		Client: connect(t, addr, "doorbellctl"), Base: base, Bundle: bytes.NewReader(bundle), Size: int64(len(bundle)),
		Version: "2.0.0", ChunkSize: 4096, Wait: 20 * time.Second, Logger: quiet,
		Progress: func(acked, total int64) { mu.Lock(); progress = append(progress, acked); mu.Unlock() },
		Phase:    func(p string) { mu.Lock(); phases = append(phases, p); mu.Unlock() },
	})
	<-restarted
	if err != nil || !res.Confirmed || res.Version != "2.0.0" || res.State.InstalledVersion != "2.0.0" {
		t.Fatalf("Push = %+v, %v", res, err)
	}
	otatest.CheckOneValid(t, dir, v2)
	mu.Lock()
	defer mu.Unlock()
	if len(progress) < 10 || progress[len(progress)-1] != int64(len(bundle)) {
		t.Errorf("progress %v", progress)
	}
	if strings.Join(phases, ",") != "offer,transfer,restart" {
		t.Errorf("phases %v", phases)
	}
}

// TestPushRefusedEarly: a bundle the device cannot trust is refused after
// its header, long before the binary has been sent.
func TestPushRefusedEarly(t *testing.T) {
	addr := startBroker(t)
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	before := otatest.Snapshot(t, dir)
	mqttDevice(t, addr, installer(t, dir, "a", "1.0.0"), "1.0.0")
	bundle := otatest.Bundle(t, 5, otatest.Manifest("2.0.0", v2), v2) // an untrusted key
	var acked int64
	_, err := delivery.Push(context.Background(), delivery.PushOptions{
		Client: connect(t, addr, "doorbellctl"), Base: base, Bundle: bytes.NewReader(bundle), Size: int64(len(bundle)),
		Version: "2.0.0", ChunkSize: 4096, Logger: quiet, Progress: func(a, _ int64) { acked = a },
	})
	if !errors.Is(err, delivery.ErrRefused) || !strings.Contains(err.Error(), "untrusted key") {
		t.Fatalf("Push = %v", err)
	}
	if acked > 8*4096 {
		t.Errorf("device took %d bytes of a bundle it refused", acked)
	}
	if d := otatest.DiffSnapshots(before, otatest.Snapshot(t, dir)); d != "" {
		t.Errorf("changed:\n%s", d)
	}
}

func TestPushResendsALostChunk(t *testing.T) {
	addr := startBroker(t)
	dir := filepath.Join(t.TempDir(), "ota")
	otatest.Seed(t, dir, v1, "1.0.0")
	_, done := mqttDevice(t, addr, installer(t, dir, "a", "1.0.0"), "1.0.0")
	bundle := otatest.NewBundle(t, "2.0.0", v2)
	pc := &suffixLossy{Client: connect(t, addr, "doorbellctl"), suffix: "/chunk/40960"}
	res, err := delivery.Push(context.Background(), delivery.PushOptions{
		Client: pc, Base: base, Bundle: bytes.NewReader(bundle), Size: int64(len(bundle)),
		Version: "2.0.0", ChunkSize: 4096, AckTimeout: 300 * time.Millisecond, Logger: quiet,
	})
	if err != nil || res.Version != "2.0.0" || !pc.dropped {
		t.Fatalf("Push = %+v, %v (dropped %v)", res, err, pc.dropped)
	}
	restartRequired(t, done)
	otatest.CheckOneValid(t, dir, v2)
}

// suffixLossy loses the first publish to a topic ending in suffix.
type suffixLossy struct {
	paho.Client
	suffix  string
	dropped bool
}

func (l *suffixLossy) Publish(topic string, qos byte, retained bool, payload any) paho.Token {
	if strings.HasSuffix(topic, l.suffix) && !l.dropped {
		l.dropped = true
		return l.Client.Publish("lost/"+topic, qos, retained, payload)
	}
	return l.Client.Publish(topic, qos, retained, payload)
}

func TestPushNoDevice(t *testing.T) {
	addr := startBroker(t)
	bundle := otatest.NewBundle(t, "2.0.0", v2)
	_, err := delivery.Push(context.Background(), delivery.PushOptions{
		Client: connect(t, addr, "doorbellctl"), Base: base, Bundle: bytes.NewReader(bundle), Size: int64(len(bundle)),
		Version: "2.0.0", AckTimeout: 100 * time.Millisecond, Logger: quiet,
	})
	if !errors.Is(err, delivery.ErrNoAnswer) {
		t.Fatalf("Push = %v", err)
	}
}
