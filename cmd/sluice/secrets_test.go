package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestConfigCommandHidesSecrets sets both passwords, valid and then alongside
// problems, and checks `sluice config` shows them as *** on stdout and stderr alike.
// It sets process environment variables, so it does not run in parallel.
func TestConfigCommandHidesSecrets(t *testing.T) {
	const chPW, kafkaPW = "ch-Secret-4u9w", "kafka-Secret-7y2q"
	t.Setenv("SLUICE_CLICKHOUSE_PASSWORD", chPW)
	t.Setenv("SLUICE_KAFKA_SASL_MECHANISM", "scram-sha-256")
	t.Setenv("SLUICE_KAFKA_SASL_USER", "svc")
	t.Setenv("SLUICE_KAFKA_SASL_PASSWORD", kafkaPW)
	for _, broken := range []bool{false, true} {
		if broken {
			// Problems whose messages concern the secrets' own variables.
			t.Setenv("SLUICE_KAFKA_SASL_MECHANISM", "none")
			t.Setenv("SLUICE_KAFKA_TLS_CERT_FILE", "/nonexistent.pem")
		}
		var stdout, stderr bytes.Buffer
		err := configCommand(t.Context(), nil, &stdout, &stderr)
		if (err != nil) != broken {
			t.Fatalf("broken=%v: configCommand = %v\nstderr:\n%s", broken, err, stderr.String())
		}
		all := stdout.String() + stderr.String()
		if err != nil {
			all += err.Error()
		}
		for _, pw := range []string{chPW, kafkaPW} {
			if strings.Contains(all, pw) {
				t.Errorf("broken=%v: `sluice config` shows a password:\n%s", broken, all)
			}
		}
		if !strings.Contains(stdout.String(), "SLUICE_KAFKA_SASL_PASSWORD") || !strings.Contains(stdout.String(), "***") {
			t.Errorf("broken=%v: the table does not list SLUICE_KAFKA_SASL_PASSWORD as ***:\n%s", broken, stdout.String())
		}
		if broken && !strings.Contains(stderr.String(), "SLUICE_KAFKA_SASL_PASSWORD=***: is set but SLUICE_KAFKA_SASL_MECHANISM=none") {
			t.Errorf("problems do not name the password variable redacted:\n%s", stderr.String())
		}
	}
}
