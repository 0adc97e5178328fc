package mqttpub_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// handshake runs a TLS handshake of a client with tc against a server
// with the PKI's server certificate that requires a client certificate
// signed by the CA. It returns the client certificate's name as the
// server verified it ("" when the server refused) and the client's error.
func handshake(t *testing.T, dir string, tc *tls.Config) (peer string, err error) {
	t.Helper()
	serverCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	clientCAs := x509.NewCertPool()
	clientCAs.AppendCertsFromPEM(caPEM)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sc.SetDeadline(time.Now().Add(10 * time.Second))
	server := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: clientCAs,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	peerc := make(chan string, 1)
	go func() {
		defer sc.Close()
		if server.Handshake() != nil {
			peerc <- ""
			return
		}
		peerc <- server.ConnectionState().PeerCertificates[0].Subject.CommonName
	}()
	tc = tc.Clone()
	tc.ServerName = "127.0.0.1" // as paho's tls.Dial sets it from the address
	client := tls.Client(cc, tc)
	cc.SetDeadline(time.Now().Add(10 * time.Second))
	err = client.Handshake()
	cc.Close()
	return <-peerc, err
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	mosquittotest.WritePKI(t, dir)
	f := func(name string) string { return filepath.Join(dir, name) }

	tc, err := mqttpub.TLSConfig(f("ca.pem"), f("client.pem"), f("client.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	if tc.MinVersion != tls.VersionTLS12 || tc.InsecureSkipVerify || tc.RootCAs == nil || len(tc.Certificates) != 1 {
		t.Errorf("config %+v", tc)
	}
	if peer, err := handshake(t, dir, tc); err != nil || peer != "client" {
		t.Errorf("handshake with CA and client certificate: %v, server saw %q", err, peer)
	}

	// The system's CAs do not know the private CA.
	tc, err = mqttpub.TLSConfig("", f("client.pem"), f("client.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	var unknown x509.UnknownAuthorityError
	if _, err := handshake(t, dir, tc); !errors.As(err, &unknown) {
		t.Errorf("handshake without the CA: %v, want an unknown authority", err)
	}

	// insecure: no check of the broker's certificate.
	tc, err = mqttpub.TLSConfig("", f("client.pem"), f("client.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	if peer, err := handshake(t, dir, tc); !tc.InsecureSkipVerify || err != nil || peer != "client" {
		t.Errorf("insecure handshake: %v, server saw %q", err, peer)
	}

	// Without a client certificate the server refuses.
	tc, err = mqttpub.TLSConfig(f("ca.pem"), "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if peer, err := handshake(t, dir, tc); peer != "" || len(tc.Certificates) != 0 {
		t.Errorf("handshake without a client certificate: %v, server saw %q", err, peer)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	mosquittotest.WritePKI(t, dir)
	f := func(name string) string { return filepath.Join(dir, name) }
	junk := f("junk.pem")
	if err := os.WriteFile(junk, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badCert := f("bad-cert.pem")
	if err := os.WriteFile(badCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		ca, cert, key string
		op            string
		file          mqttpub.TLSFile
		path, want    string
		notExist      bool
	}{
		{name: "missing CA", ca: f("nope.pem"), op: "read", file: mqttpub.CAFile, path: f("nope.pem"), notExist: true,
			want: "read CA file " + f("nope.pem") + ": no such file or directory"},
		{name: "CA not PEM", ca: junk, op: "parse", file: mqttpub.CAFile, path: junk,
			want: "parse CA file " + junk + ": no PEM certificate in it"},
		{name: "missing cert", cert: f("nope.pem"), key: f("client.key"), op: "read", file: mqttpub.CertFile, path: f("nope.pem"), notExist: true},
		{name: "missing key", cert: f("client.pem"), key: f("nope.key"), op: "read", file: mqttpub.KeyFile, path: f("nope.key"), notExist: true},
		{name: "cert not PEM", cert: junk, key: f("client.key"), op: "parse", file: mqttpub.CertFile, path: junk,
			want: "parse client certificate " + junk + ": no PEM certificate in it"},
		{name: "cert not a certificate", cert: badCert, key: f("client.key"), op: "parse", file: mqttpub.CertFile, path: badCert},
		{name: "key not PEM", cert: f("client.pem"), key: junk, op: "load", file: mqttpub.KeyFile, path: junk},
		{name: "key of another certificate", cert: f("client.pem"), key: f("server.key"), op: "load", file: mqttpub.KeyFile, path: f("server.key"),
			want: "load client key " + f("server.key") + ": tls: private key does not match public key (with client certificate " + f("client.pem") + ")"},
	} {
		_, err := mqttpub.TLSConfig(c.ca, c.cert, c.key, false)
		var fe *mqttpub.TLSFileError
		switch {
		case !errors.As(err, &fe):
			t.Errorf("%s: %v, want a *TLSFileError", c.name, err)
		case fe.Op != c.op || fe.File != c.file || fe.Path != c.path:
			t.Errorf("%s: %q %q %q, want %q %q %q", c.name, fe.Op, fe.File, fe.Path, c.op, c.file, c.path)
		case c.notExist && !errors.Is(err, fs.ErrNotExist):
			t.Errorf("%s: %v is not fs.ErrNotExist", c.name, err)
		case c.want != "" && err.Error() != c.want:
			t.Errorf("%s:\n got %s\nwant %s", c.name, err, c.want)
		case !strings.Contains(err.Error(), c.path):
			t.Errorf("%s: %v does not name %s", c.name, err, c.path)
		}
	}

	for _, pair := range [][2]string{{f("client.pem"), ""}, {"", f("client.key")}} {
		if _, err := mqttpub.TLSConfig("", pair[0], pair[1], false); err == nil || !strings.Contains(err.Error(), "give both or neither") {
			t.Errorf("cert %q key %q: %v", pair[0], pair[1], err)
		}
	}
}
