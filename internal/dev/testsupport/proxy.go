package testsupport

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
)

// TLSProxy accepts TLS connections with cert on a loopback port and forwards
// each, decrypted, to target (host:port), as stunnel or a sidecar would in front
// of a server that cannot serve TLS itself. It returns the proxy's address. When
// the test ends it stops accepting, closes every connection and waits for its
// goroutines.
func TLSProxy(t testing.TB, cert tls.Certificate, target string) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	// track registers a connection to close at cleanup; after cleanup began it
	// closes the connection at once.
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			c.Close()
			return
		}
		conns = append(conns, c)
	}
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return // closed
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			track(in)
			track(out)
			wg.Go(func() { _, _ = io.Copy(out, in); out.Close() })
			wg.Go(func() { _, _ = io.Copy(in, out); in.Close() })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}
