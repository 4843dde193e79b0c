package app

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/config"
)

func TestKafkaOptsSecurity(t *testing.T) {
	t.Parallel()
	base := map[string]string{"SLUICE_KAFKA_BROKERS": "k:9092"}
	for _, tt := range []struct {
		name string
		env  map[string]string
		n    int // options: seed brokers, TLS, SASL
	}{
		{"plaintext", nil, 1},
		{"TLS", map[string]string{"SLUICE_KAFKA_TLS": "true"}, 2},
		{"SASL", map[string]string{"SLUICE_KAFKA_SASL_MECHANISM": "scram-sha-512", "SLUICE_KAFKA_SASL_USER": "u", "SLUICE_KAFKA_SASL_PASSWORD": "p"}, 2},
		{"both", map[string]string{"SLUICE_KAFKA_TLS": "true", "SLUICE_KAFKA_SASL_MECHANISM": "plain", "SLUICE_KAFKA_SASL_USER": "u", "SLUICE_KAFKA_SASL_PASSWORD": "p"}, 3},
	} {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range tt.env {
			env[k] = v
		}
		c, err := config.Load(env)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		opts, err := KafkaOpts(c)
		if err != nil || len(opts) != tt.n {
			t.Errorf("%s: KafkaOpts = %d options, %v; want %d", tt.name, len(opts), err, tt.n)
		}
	}

	// A CA file that went away after validation: the error names the variable.
	c, err := config.Load(base)
	if err != nil {
		t.Fatal(err)
	}
	c.Kafka.TLS, c.Kafka.TLSCAFile = true, "/nonexistent/ca.pem"
	if _, err := KafkaOpts(c); err == nil || !strings.Contains(err.Error(), "SLUICE_KAFKA_TLS_CA_FILE") {
		t.Errorf("KafkaOpts with a missing CA file = %v, want an error naming SLUICE_KAFKA_TLS_CA_FILE", err)
	}
}

func TestDescribeKafkaErrorRedacts(t *testing.T) {
	t.Parallel()
	c, err := config.Load(map[string]string{
		"SLUICE_KAFKA_SASL_MECHANISM": "plain", "SLUICE_KAFKA_SASL_USER": "svc", "SLUICE_KAFKA_SASL_PASSWORD": "pa55-word",
	})
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.Join(kerr.SaslAuthenticationFailed, errors.New("broker says: bad password pa55-word for svc"))
	err = describeKafkaError(cause, c, false)
	if strings.Contains(err.Error(), "pa55-word") {
		t.Errorf("error shows the password: %v", err)
	}
	for _, want := range []string{"SLUICE_KAFKA_SASL_USER", `"svc"`, "plain", "refused the credentials"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, kerr.SaslAuthenticationFailed) || !isPermanentKafkaError(err) {
		t.Errorf("the cause is lost or not permanent: %v", err)
	}
	if isPermanentKafkaError(errors.New("dial tcp: connection refused")) {
		t.Error("an unreachable broker is taken as permanent")
	}
}
