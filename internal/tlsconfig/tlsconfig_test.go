package tlsconfig

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/dev/testsupport"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	pki := testsupport.NewPKI(t, "ca")
	dir, ca := pki.Dir, pki.CAFile
	cert, key := pki.IssueFiles(t, "client", false)
	_, otherKey := pki.IssueFiles(t, "other", false)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	t.Run("defaults", func(t *testing.T) {
		c, err := Build(Files{})
		if err != nil {
			t.Fatal(err)
		}
		if c.RootCAs != nil || len(c.Certificates) != 0 || c.InsecureSkipVerify || c.MinVersion != tls.VersionTLS12 {
			t.Errorf("zero Files: %+v, want system roots, no client certificate, verification on, TLS ≥ 1.2", c)
		}
	})
	t.Run("all set", func(t *testing.T) {
		c, err := Build(Files{CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "kafka-1", InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "kafka-1" || !c.InsecureSkipVerify {
			t.Errorf("got %+v", c)
		}
	})
	for _, tt := range []struct {
		name  string
		f     Files
		which Which
		want  string
	}{
		{"missing CA", Files{CAFile: missing}, CA, "CA file " + missing + ": no such file"},
		{"CA not PEM", Files{CAFile: garbage}, CA, "no PEM certificate in it"},
		{"cert without key", Files{CertFile: cert}, Key, "needs both"},
		{"key without cert", Files{KeyFile: key}, Cert, "needs both"},
		{"missing cert", Files{CertFile: missing, KeyFile: key}, Cert, "no such file"},
		{"missing key", Files{CertFile: cert, KeyFile: missing}, Key, "no such file"},
		{"key of another cert", Files{CertFile: cert, KeyFile: otherKey}, Cert, "private key does not match public key"},
		{"key not PEM", Files{CertFile: cert, KeyFile: garbage}, Cert, "with key file " + garbage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.f)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Build = %v, want a *FileError", err)
			}
			if fe.Which != tt.which || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build = %q (file %s), want file %s and %q", err, fe.Which, tt.which, tt.want)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			// root reads a mode-000 file anyway; a directory is unreadable as a file.
			_, err := Build(Files{CAFile: dir})
			if err == nil {
				t.Fatal("a directory as the CA file was accepted")
			}
			return
		}
		f := filepath.Join(dir, "unreadable.pem")
		if err := os.WriteFile(f, nil, 0o000); err != nil {
			t.Fatal(err)
		}
		if _, err := Build(Files{CAFile: f}); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Build = %v, want permission denied", err)
		}
	})
}
