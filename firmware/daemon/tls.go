package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/config"
)

// tlsConfig builds the TLS settings for an ssl:// broker from the config:
// nil for a plain tcp:// one. Unreadable files fail here, naming the key.
func tlsConfig(m config.MQTT) (*tls.Config, error) {
	if !strings.HasPrefix(m.BrokerURL(), "ssl://") {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: m.TLSInsecureSkipVerify}
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		if err != nil {
			return nil, fmt.Errorf("daemon: mqtt.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("daemon: mqtt.ca_file %s: no PEM certificate in it", m.CAFile)
		}
		tc.RootCAs = pool
	}
	if m.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("daemon: mqtt.cert_file/mqtt.key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
