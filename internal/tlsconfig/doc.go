// Package tlsconfig builds a *tls.Config for a client from PEM files named in the
// configuration: a CA bundle to verify the server with, an optional client
// certificate and key for mutual TLS, and the server name to verify.
//
// It owns reading and parsing those files, nothing else: it does not dial, and it
// never reads the environment. Errors are *FileError values that say which file
// (Which) failed and why, so the configuration can name the variable to fix. Build is
// safe for concurrent use.
//
//	cfg, err := tlsconfig.Build(tlsconfig.Files{CAFile: "/etc/sluice/ca.pem", ServerName: "kafka-1"})
//	if err != nil {
//		return err // e.g. "CA file /etc/sluice/ca.pem: no PEM certificate in it"
//	}
//	opts = append(opts, kgo.DialTLSConfig(cfg))
package tlsconfig
