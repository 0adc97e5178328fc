package daemon

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/config"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// tlsConfig builds the TLS settings for an ssl:// broker from the config:
// nil for a plain tcp:// one. Unreadable files fail here, naming the key.
func tlsConfig(m config.MQTT) (*tls.Config, error) {
	if !strings.HasPrefix(m.BrokerURL(), "ssl://") {
		return nil, nil
	}
	tc, err := mqttpub.TLSConfig(m.CAFile, m.CertFile, m.KeyFile, m.TLSInsecureSkipVerify)
	var fe *mqttpub.TLSFileError
	switch {
	case errors.As(err, &fe):
		key := map[mqttpub.TLSFile]string{mqttpub.CAFile: "mqtt.ca_file", mqttpub.CertFile: "mqtt.cert_file", mqttpub.KeyFile: "mqtt.key_file"}[fe.File]
		return nil, fmt.Errorf("daemon: %s: %w", key, err)
	case err != nil:
		return nil, fmt.Errorf("daemon: mqtt.cert_file/mqtt.key_file: %w", err)
	}
	return tc, nil
}
