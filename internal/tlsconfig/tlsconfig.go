package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Files names what a client TLS configuration is built from. Empty fields mean the
// defaults: the system's CA pool, no client certificate, the server name taken from
// the address dialled, and verification on.
type Files struct {
	// CAFile is a PEM bundle of the CAs trusted to sign the server's certificate;
	// empty means the system pool.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and its private key for
	// mutual TLS; both or neither.
	CertFile, KeyFile string
	// ServerName overrides the name the server's certificate is verified against.
	ServerName string
	// InsecureSkipVerify accepts any server certificate. For development only: it
	// makes the connection open to a man in the middle.
	InsecureSkipVerify bool
}

// Which names one of the files of Files.
type Which string

// The files Build reads.
const (
	CA   Which = "CA"
	Cert Which = "certificate"
	Key  Which = "key"
)

// FileError is a file Build could not use.
type FileError struct {
	Which Which  // which file
	Path  string // its path as given; empty if it is missing
	Err   error
}

func (e *FileError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s file: %v", e.Which, e.Err)
	}
	return fmt.Sprintf("%s file %s: %v", e.Which, e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// ErrMissingPair is the Err of a FileError when only one of CertFile and KeyFile is
// set.
var ErrMissingPair = errors.New("a client certificate needs both a certificate file and a key file")

// Build reads the files of f and returns a client TLS configuration (TLS 1.2 or
// later). It returns a *FileError for the first file that cannot be read or parsed,
// or when only one of CertFile and KeyFile is set.
func Build(f Files) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         f.ServerName,
		InsecureSkipVerify: f.InsecureSkipVerify, //nolint:gosec // documented as development only
	}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, &FileError{CA, f.CAFile, unwrapPath(err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &FileError{CA, f.CAFile, errors.New("no PEM certificate in it")}
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.CertFile != "" && f.KeyFile == "":
		return nil, &FileError{Key, "", ErrMissingPair}
	case f.CertFile == "" && f.KeyFile != "":
		return nil, &FileError{Cert, "", ErrMissingPair}
	case f.CertFile != "":
		certPEM, err := os.ReadFile(f.CertFile)
		if err != nil {
			return nil, &FileError{Cert, f.CertFile, unwrapPath(err)}
		}
		keyPEM, err := os.ReadFile(f.KeyFile)
		if err != nil {
			return nil, &FileError{Key, f.KeyFile, unwrapPath(err)}
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// The error does not include key material, only what is wrong with it.
			return nil, &FileError{Cert, f.CertFile, fmt.Errorf("with key file %s: %w", f.KeyFile, err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// unwrapPath drops the *fs.PathError wrapper, whose path FileError already shows.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
