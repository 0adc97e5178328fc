package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// brokerArgs is the usage text of the broker flags, for the subcommand lists.
const brokerArgs = "--broker URL [--user U --password P] [--ca-file CA] [--cert-file CERT --key-file KEY] [--device ID] [--prefix P]"

// brokerFlags are the flags of every subcommand that talks to the
// doorbell over MQTT: where the broker is, how to log in and what TLS to
// use, and which doorbell.
type brokerFlags struct {
	broker, user, password, device, prefix *string
	caFile, certFile, keyFile              *string
	insecure                               *bool
}

func addBrokerFlags(fs *flag.FlagSet) brokerFlags {
	return brokerFlags{
		broker:   fs.String("broker", "tcp://127.0.0.1:1883", "MQTT broker: tcp://, ssl://, mqtt:// or mqtts:// host:port"),
		user:     fs.String("user", "", "broker login"),
		password: fs.String("password", "", "broker password (or set DOORBELL_MQTT_PASSWORD, which keeps it out of ps and the shell history)"),
		device:   fs.String("device", "doorbell", "the doorbell's device.id"),
		prefix:   fs.String("prefix", mqttapi.DefaultTopicPrefix, "the doorbell's mqtt.topic_prefix"),
		caFile:   fs.String("ca-file", "", "ssl:// only: PEM CA certificates to trust for the broker's certificate (default: the system's)"),
		certFile: fs.String("cert-file", "", "ssl:// only: PEM client certificate, for brokers that require one (with --key-file)"),
		keyFile:  fs.String("key-file", "", "ssl:// only: PEM client key (with --cert-file)"),
		insecure: fs.Bool("insecure-skip-verify", false, "ssl:// only: do not check the broker's certificate (anyone on the path can then read and fake every message)"),
	}
}

// topics are the doorbell's MQTT topics, under <prefix>/<device>.
func (f brokerFlags) topics() mqttapi.Topics { return mqttapi.NewTopics(*f.prefix, *f.device) }

// options checks the flags, reads the TLS files and returns paho options
// for a clean-session client (the broker keeps nothing for it while it is
// away) that reconnects by itself. On failure it has printed why and
// returns nil and the exit code: 2 for flags that do not fit together, 1
// for a TLS file it cannot use.
func (f brokerFlags) options(e *env, cmd string) (*paho.ClientOptions, int) {
	broker, err := brokerAddr(*f.broker)
	if err != nil {
		return nil, usagef(e, cmd, "--broker: %v", err)
	}
	tlsBroker := strings.HasPrefix(broker, "ssl://")
	for _, fl := range []struct {
		name string
		set  bool
	}{{"--ca-file", *f.caFile != ""}, {"--cert-file", *f.certFile != ""}, {"--key-file", *f.keyFile != ""}, {"--insecure-skip-verify", *f.insecure}} {
		if fl.set && !tlsBroker {
			return nil, usagef(e, cmd, "%s: only for an ssl:// or mqtts:// broker, not %s", fl.name, *f.broker)
		}
	}
	switch {
	case *f.certFile != "" && *f.keyFile == "":
		return nil, usagef(e, cmd, "--cert-file %s: give its key with --key-file too", *f.certFile)
	case *f.keyFile != "" && *f.certFile == "":
		return nil, usagef(e, cmd, "--key-file %s: give its certificate with --cert-file too", *f.keyFile)
	}
	password := *f.password
	if password == "" {
		password = e.getenv("DOORBELL_MQTT_PASSWORD")
	}
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID("doorbellctl-" + randomHex(4)).
		SetUsername(*f.user).SetPassword(password).SetCleanSession(true).
		SetConnectTimeout(10 * time.Second).SetAutoReconnect(true)
	if tlsBroker {
		tc, err := mqttpub.TLSConfig(*f.caFile, *f.certFile, *f.keyFile, *f.insecure)
		if err != nil {
			var fe *mqttpub.TLSFileError
			if errors.As(err, &fe) {
				flagName := map[mqttpub.TLSFile]string{mqttpub.CAFile: "--ca-file", mqttpub.CertFile: "--cert-file", mqttpub.KeyFile: "--key-file"}[fe.File]
				return nil, failf(e, cmd, "%s: %v", flagName, err)
			}
			return nil, failf(e, cmd, "%v", err)
		}
		if *f.insecure {
			fmt.Fprintf(e.stderr, "doorbellctl %s: warning: --insecure-skip-verify: the broker's certificate is NOT checked; anyone on the path can read and fake every message\n", cmd)
		}
		opts.SetTLSConfig(tc)
	}
	return opts, 0
}

// connect connects a client with opts (from options), waiting up to 15s.
func connect(e *env, cmd string, opts *paho.ClientOptions) (paho.Client, int) {
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		err := tok.Error()
		if err == nil {
			err = errors.New("no answer within 15s")
		}
		return nil, failf(e, cmd, "connect to %s: %v%s", opts.Servers[0], err, tlsHint(opts.TLSConfig, err))
	}
	return c, 0
}

// tlsHint is what to try for a TLS connection that failed with err.
func tlsHint(tc *tls.Config, err error) string {
	var unknownCA x509.UnknownAuthorityError
	switch {
	case tc == nil:
		return ""
	case errors.As(err, &unknownCA) && tc.RootCAs == nil:
		return " (if a private CA signed the broker's certificate, give that CA with --ca-file)"
	case len(tc.Certificates) == 0 && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		// crypto/tls's alert type is not exported
		strings.Contains(err.Error(), "tls: certificate required")):
		// TLS 1.3 brokers refuse a missing client certificate after
		// the handshake: an alert, or a reset or closed connection.
		return " (if the broker requires a client certificate, give it with --cert-file and --key-file)"
	}
	return ""
}

// brokerAddr accepts the same broker URLs as the daemon's mqtt.broker
// and returns paho's form of it.
func brokerAddr(s string) (string, error) {
	if u := (config.MQTT{Broker: s}).BrokerURL(); u != "" {
		return u, nil
	}
	switch scheme, _, _ := strings.Cut(s, "://"); scheme {
	case "tcp", "ssl", "mqtt", "mqtts":
		return "", fmt.Errorf("%q: want %s://host:port", s, scheme)
	default:
		return "", fmt.Errorf("%q: scheme %s: want tcp://host:port (or ssl://, mqtt://, mqtts://)", s, scheme)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
