package mqttpub

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// TLSFile names a file TLSConfig reads, for its errors.
type TLSFile string

// The files TLSConfig reads.
const (
	CAFile   TLSFile = "CA file"
	CertFile TLSFile = "client certificate"
	KeyFile  TLSFile = "client key"
)

// A TLSFileError is a file TLSConfig could not use. Callers find File in
// it with errors.As to name their own setting for it (a config key, a flag).
type TLSFileError struct {
	Op   string // "read", "parse", or "load" (a key that does not fit its certificate)
	File TLSFile
	Path string
	Err  error
}

func (e *TLSFileError) Error() string {
	return fmt.Sprintf("%s %s %s: %v", e.Op, e.File, e.Path, e.Err)
}

func (e *TLSFileError) Unwrap() error { return e.Err }

// TLSConfig builds the TLS settings for an ssl:// broker (TLS 1.2 or
// newer): caFile is PEM CA certificates to trust instead of the system's
// ("" for the system's); certFile and keyFile, both or neither, are a PEM
// client certificate and its key, for brokers that require one; insecure
// turns off the check of the broker's certificate, so that anyone on the
// path can read and fake every message. A file it cannot use fails with a
// *TLSFileError.
func TLSConfig(caFile, certFile, keyFile string, insecure bool) (*tls.Config, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("mqttpub: a client certificate and its key go together: give both or neither")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	if caFile != "" {
		b, err := readTLSFile(CAFile, caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, &TLSFileError{"parse", CAFile, caFile, errors.New("no PEM certificate in it")}
		}
		tc.RootCAs = pool
	}
	if certFile != "" {
		certPEM, err := readTLSFile(CertFile, certFile)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readTLSFile(KeyFile, keyFile)
		if err != nil {
			return nil, err
		}
		// Check the certificate first, so a bad one is blamed on its file
		// and not on the key.
		if err := parseLeaf(certPEM); err != nil {
			return nil, &TLSFileError{"parse", CertFile, certFile, err}
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, &TLSFileError{"load", KeyFile, keyFile, fmt.Errorf("%w (with client certificate %s)", err, certFile)}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// readTLSFile reads path, failing with a *TLSFileError that names the
// path once.
func readTLSFile(f TLSFile, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &TLSFileError{"read", f, path, err}
	}
	return b, nil
}

// parseLeaf checks that the first CERTIFICATE block of b parses.
func parseLeaf(b []byte) error {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return errors.New("no PEM certificate in it")
		}
		if block.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(block.Bytes)
			return err
		}
	}
}
