package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
)

// Every subcommand that talks to the broker checks its TLS flags and files
// before it connects, naming the flag and the file.
func TestBrokerTLSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	mosquittotest.WritePKI(t, dir)
	f := func(name string) string { return filepath.Join(dir, name) }
	junk := f("junk.pem")
	if err := os.WriteFile(junk, []byte("not PEM\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Nothing listens there: a command that got as far as connecting fails.
	ssl := "ssl://127.0.0.1:" + strconv.Itoa(mosquittotest.FreePort(t))

	for _, sub := range [][]string{{"clips", "list"}, {"clips", "pull", "--out", dir}, {"ota", "push", f("nope.ota")}} {
		for _, c := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"--broker", ssl, "--cert-file", f("client.pem")}, 2, "--cert-file " + f("client.pem") + ": give its key with --key-file too"},
			{[]string{"--broker", ssl, "--key-file", f("client.key")}, 2, "--key-file " + f("client.key") + ": give its certificate with --cert-file too"},
			{[]string{"--broker", "tcp://127.0.0.1:1883", "--ca-file", f("ca.pem")}, 2, "--ca-file: only for an ssl:// or mqtts:// broker, not tcp://127.0.0.1:1883"},
			{[]string{"--insecure-skip-verify"}, 2, "--insecure-skip-verify: only for an ssl:// or mqtts:// broker"},
			{[]string{"--broker", ssl, "--ca-file", f("nope.pem")}, 1, "--ca-file: read CA file " + f("nope.pem") + ": no such file or directory"},
			{[]string{"--broker", ssl, "--ca-file", junk}, 1, "--ca-file: parse CA file " + junk + ": no PEM certificate in it"},
			{[]string{"--broker", ssl, "--cert-file", junk, "--key-file", f("client.key")}, 1, "--cert-file: parse client certificate " + junk + ": no PEM certificate in it"},
			{[]string{"--broker", ssl, "--cert-file", f("client.pem"), "--key-file", f("nope.key")}, 1, "--key-file: read client key " + f("nope.key") + ": no such file or directory"},
			{[]string{"--broker", ssl, "--cert-file", f("client.pem"), "--key-file", f("server.key")}, 1,
				"--key-file: load client key " + f("server.key") + ": tls: private key does not match public key (with client certificate " + f("client.pem") + ")"},
		} {
			args := append(append([]string{}, sub...), c.args...)
			code, out, errs := runCLI(t, nil, args...)
			want := "doorbellctl " + strings.Join(sub[:2], " ") + ": " + c.want
			if code != c.code || !strings.Contains(errs, want) || out != "" {
				t.Errorf("%v: exit %d, stderr %q; want %d with %q", args, code, errs, c.code, want)
			}
		}
	}
}

// --insecure-skip-verify warns, and mqtts:// is ssl://.
func TestBrokerInsecureWarns(t *testing.T) {
	port := strconv.Itoa(mosquittotest.FreePort(t))
	code, _, errs := runCLI(t, nil, "clips", "list", "--broker", "mqtts://127.0.0.1:"+port, "--insecure-skip-verify")
	if code != 1 || !strings.Contains(errs, "warning: --insecure-skip-verify: the broker's certificate is NOT checked") ||
		!strings.Contains(errs, "connect to ssl://127.0.0.1:"+port) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestTLSHint(t *testing.T) {
	none := &tls.Config{}
	withCA := &tls.Config{RootCAs: x509.NewCertPool(), Certificates: []tls.Certificate{{}}}
	unknownCA := fmt.Errorf("network Error : %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}})
	reset := fmt.Errorf("network Error : %w", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)})
	required := fmt.Errorf("network Error : %w", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")})
	for _, c := range []struct {
		tc   *tls.Config
		err  error
		want string
	}{
		{nil, unknownCA, ""},
		{none, unknownCA, "--ca-file"},
		{withCA, unknownCA, ""},
		{none, reset, "--cert-file and --key-file"},
		{none, required, "--cert-file and --key-file"},
		{withCA, required, ""},
		{none, errors.New("network Error : dial tcp 127.0.0.1:1: connect: connection refused"), ""},
	} {
		if got := tlsHint(c.tc, c.err); c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}
