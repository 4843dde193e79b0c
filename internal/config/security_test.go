package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSecurityValidation checks the cross-field rules of the TLS and SASL settings
// and that their messages name the variable, say what to do and never show a
// password.
func TestSecurityValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	const pw = "s3cret-hunter2"
	tests := []struct {
		name string
		env  map[string]string
		want []string // lines of the error; nil means valid
	}{
		{"plain with user and password", map[string]string{
			"SLUICE_KAFKA_SASL_MECHANISM": "plain", "SLUICE_KAFKA_SASL_USER": "u", "SLUICE_KAFKA_SASL_PASSWORD": pw}, nil},
		{"mechanism in Kafka's spelling", map[string]string{
			"SLUICE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "SLUICE_KAFKA_SASL_USER": "u", "SLUICE_KAFKA_SASL_PASSWORD": pw}, nil},
		{"TLS with system roots", map[string]string{"SLUICE_KAFKA_TLS": "true", "SLUICE_CLICKHOUSE_TLS": "true"}, nil},
		{"mechanism without user or password", map[string]string{"SLUICE_KAFKA_SASL_MECHANISM": "scram-sha-256"}, []string{
			`SLUICE_KAFKA_SASL_USER="": must name the Kafka user when SLUICE_KAFKA_SASL_MECHANISM=scram-sha-256`,
			`SLUICE_KAFKA_SASL_PASSWORD="": must be set when SLUICE_KAFKA_SASL_MECHANISM=scram-sha-256`,
		}},
		{"user and password without mechanism", map[string]string{"SLUICE_KAFKA_SASL_USER": "u", "SLUICE_KAFKA_SASL_PASSWORD": pw}, []string{
			`SLUICE_KAFKA_SASL_USER=u: is set but SLUICE_KAFKA_SASL_MECHANISM=none: set the mechanism (plain, scram-sha-256 or scram-sha-512)`,
			`SLUICE_KAFKA_SASL_PASSWORD=***: is set but SLUICE_KAFKA_SASL_MECHANISM=none: set the mechanism (plain, scram-sha-256 or scram-sha-512)`,
		}},
		{"unknown mechanism", map[string]string{"SLUICE_KAFKA_SASL_MECHANISM": "gssapi", "SLUICE_KAFKA_SASL_USER": "u", "SLUICE_KAFKA_SASL_PASSWORD": pw}, []string{
			`SLUICE_KAFKA_SASL_MECHANISM=gssapi: must be none, plain, scram-sha-256 or scram-sha-512`,
		}},
		{"cert without key", map[string]string{"SLUICE_KAFKA_TLS": "true", "SLUICE_KAFKA_TLS_CERT_FILE": garbage}, []string{
			`SLUICE_KAFKA_TLS_KEY_FILE="": must be set when SLUICE_KAFKA_TLS_CERT_FILE is: a client certificate needs both`,
		}},
		{"key without cert", map[string]string{"SLUICE_KAFKA_TLS": "true", "SLUICE_KAFKA_TLS_KEY_FILE": garbage}, []string{
			`SLUICE_KAFKA_TLS_CERT_FILE="": must be set when SLUICE_KAFKA_TLS_KEY_FILE is: a client certificate needs both`,
		}},
		{"unreadable CA", map[string]string{"SLUICE_KAFKA_TLS": "true", "SLUICE_KAFKA_TLS_CA_FILE": missing}, []string{
			`SLUICE_KAFKA_TLS_CA_FILE=` + missing + `: cannot be used: no such file or directory (give a readable PEM file)`,
		}},
		{"CA not PEM", map[string]string{"SLUICE_CLICKHOUSE_TLS": "true", "SLUICE_CLICKHOUSE_TLS_CA_FILE": garbage}, []string{
			`SLUICE_CLICKHOUSE_TLS_CA_FILE=` + garbage + `: cannot be used: no PEM certificate in it (give a readable PEM file)`,
		}},
		{"TLS files without TLS", map[string]string{"SLUICE_KAFKA_TLS_CA_FILE": garbage, "SLUICE_CLICKHOUSE_TLS_SERVER_NAME": "ch", "SLUICE_CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY": "true"}, []string{
			`SLUICE_KAFKA_TLS_CA_FILE=` + garbage + `: is set but SLUICE_KAFKA_TLS=false, so it would be ignored: set SLUICE_KAFKA_TLS=true or unset SLUICE_KAFKA_TLS_CA_FILE`,
			`SLUICE_CLICKHOUSE_TLS_SERVER_NAME=ch: is set but SLUICE_CLICKHOUSE_TLS=false, so it would be ignored: set SLUICE_CLICKHOUSE_TLS=true or unset SLUICE_CLICKHOUSE_TLS_SERVER_NAME`,
			`SLUICE_CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY=true: is set but SLUICE_CLICKHOUSE_TLS=false, so it would be ignored: set SLUICE_CLICKHOUSE_TLS=true or unset SLUICE_CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY`,
		}},
	}
	known := Variables()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.env)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load(%v) accepted it, want %q", tt.env, tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if !slices.Equal(lines, tt.want) {
				t.Errorf("error\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
			for _, l := range lines {
				if name, _, _ := strings.Cut(l, "="); !slices.Contains(known, name) {
					t.Errorf("line %q does not start with a known variable", l)
				}
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestSecurityTLSConfig(t *testing.T) {
	t.Parallel()
	c, err := Load(map[string]string{
		"SLUICE_CLICKHOUSE_TLS": "true", "SLUICE_CLICKHOUSE_TLS_SERVER_NAME": "ch.internal", "SLUICE_CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY": "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := c.Kafka.TLSConfig(); k != nil || err != nil {
		t.Errorf("Kafka.TLSConfig with TLS off = %v, %v; want nil, nil", k, err)
	}
	h, err := c.ClickHouse.TLSConfig()
	if err != nil || h == nil || h.ServerName != "ch.internal" || !h.InsecureSkipVerify {
		t.Errorf("ClickHouse.TLSConfig = %+v, %v; want server name ch.internal, verification off", h, err)
	}
	if got := SASLScramSHA256.KafkaName(); got != "SCRAM-SHA-256" {
		t.Errorf("KafkaName = %q", got)
	}
	if got := SASLNone.KafkaName(); got != "" {
		t.Errorf("none's KafkaName = %q", got)
	}
}
