package testsupport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// echoServer is a plain TCP server that writes back what it reads, stopped when
// the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { _, _ = io.Copy(c, c); c.Close() })
		}
	})
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return l.Addr().String()
}

// roundTrip dials addr over TLS with cfg, sends a line and returns what came back.
func roundTrip(addr string, cfg *tls.Config) (string, error) {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}

func TestTLSProxyVerifiesAgainstThePKI(t *testing.T) {
	t.Parallel()
	ca := NewPKI(t, "test-ca")
	addr := TLSProxy(t, ca.Issue(t, "svc.internal", true), echoServer(t))

	got, err := roundTrip(addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "svc.internal"})
	if err != nil || got != "ping\n" {
		t.Fatalf("through the proxy: %q, %v; want the echo", got, err)
	}
	if _, err := roundTrip(addr, &tls.Config{RootCAs: ca.Pool()}); err != nil {
		t.Errorf("by IP (127.0.0.1 is in the server certificate): %v", err)
	}
	if _, err := roundTrip(addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "elsewhere"}); err == nil {
		t.Error("a wrong server name was accepted")
	}
	if _, err := roundTrip(addr, &tls.Config{RootCAs: NewPKI(t, "other-ca").Pool(), ServerName: "svc.internal"}); err == nil {
		t.Error("a certificate from another CA was accepted")
	}
}

func TestIssueFilesClientCertificate(t *testing.T) {
	t.Parallel()
	ca := NewPKI(t, "test-ca")
	certFile, keyFile := ca.IssueFiles(t, "client", false)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := leaf.Verify(opts); err != nil {
		t.Errorf("client certificate does not verify as a client against its CA: %v", err)
	}
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if _, err := leaf.Verify(opts); err == nil {
		t.Error("a client certificate verifies as a server's")
	}
	if _, err := tls.LoadX509KeyPair(certFile, ca.CAFile); err == nil {
		t.Error("CAFile loads as the client certificate's key")
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	t.Parallel()
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "%d-%d\n", i, j)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Errorf("%d lines, want 800", n)
	}
}
