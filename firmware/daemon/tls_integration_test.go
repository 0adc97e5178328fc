//go:build integration

package daemon

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
)

// The daemon publishes over TLS to a Mosquitto that requires a client
// certificate; without the CA it refuses the broker.
func TestTLSBrokerWithClientCertificate(t *testing.T) {
	m := mosquittotest.NewTLS(t)
	dir := m.Dir
	url := "ssl://127.0.0.1:" + strconv.Itoa(m.Port)

	c := simConfig(t, url)
	c.Camera.Device = ""
	c.MQTT.CAFile = filepath.Join(dir, "ca.pem")
	c.MQTT.CertFile = filepath.Join(dir, "client.pem")
	c.MQTT.KeyFile = filepath.Join(dir, "client.key")
	r := start(t, c)
	tp := r.d.Topics()

	tc, err := tlsConfig(c.MQTT)
	if err != nil {
		t.Fatal(err)
	}
	ib := subscribeWith(t, paho.NewClientOptions().AddBroker(url).SetTLSConfig(tc), tp.Base+"/#")
	if m := next(t, ib, tp.Status, 10*time.Second); string(m.payload) != "online" {
		t.Fatalf("status %q", m.payload)
	}
	r.board.Press(30 * time.Millisecond)
	if e, _ := nextEvent(t, ib, tp, 5*time.Second); e.Type != "ring" {
		t.Errorf("event %+v", e)
	}
	r.stop(t)

	// Without the CA, the broker's certificate is not trusted: no connection.
	c2 := simConfig(t, url)
	c2.Camera.Device = ""
	c2.MQTT.CertFile, c2.MQTT.KeyFile = c.MQTT.CertFile, c.MQTT.KeyFile
	r2 := start(t, c2)
	time.Sleep(2 * time.Second)
	if r2.d.MQTTConnected() {
		t.Error("connected to a broker whose certificate no trusted CA signed")
	}
}
