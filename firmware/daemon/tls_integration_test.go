//go:build integration

package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
)

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA, as PEM files in dir.
func testPKI(t *testing.T, dir string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) {
		b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "doorbell test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage, ip bool) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if ip {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(k)
		write(name+".pem", "CERTIFICATE", der)
		write(name+".key", "EC PRIVATE KEY", kder)
	}
	leaf("server", 2, x509.ExtKeyUsageServerAuth, true)
	leaf("client", 3, x509.ExtKeyUsageClientAuth, false)
}

// The daemon publishes over TLS to a Mosquitto that requires a client
// certificate; without the CA it refuses the broker.
func TestTLSBrokerWithClientCertificate(t *testing.T) {
	m := mosquittotest.Prepare(t)
	dir := m.Dir
	testPKI(t, dir)
	m.Configure("cafile $DIR/ca.pem\ncertfile $DIR/server.pem\nkeyfile $DIR/server.key\nrequire_certificate true\n")
	m.Start()
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
	r.d.SimPress(30 * time.Millisecond)
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
