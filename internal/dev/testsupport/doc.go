// Package testsupport holds the small helpers that the tests of several packages
// share: a throwaway certificate authority that issues server and client
// certificates (PKI), a TLS-terminating proxy in front of a plain TCP server
// (TLSProxy), and a buffer that a logger may write to from many goroutines
// (SyncBuffer). It is development tooling, imported only by tests.
//
// Every helper takes the test's *testing.T, fails the test on an error and
// releases what it made when the test ends (files under t.TempDir, listeners and
// goroutines in t.Cleanup). All of them are safe for use by parallel tests.
//
// Usage:
//
//	ca := testsupport.NewPKI(t, "test-ca")
//	addr := testsupport.TLSProxy(t, ca.Issue(t, "clickhouse.internal", true), plainAddr)
//	cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "clickhouse.internal"}
//	// ... connect to addr with cfg, or give ca.CAFile to the code under test ...
package testsupport
