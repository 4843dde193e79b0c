package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/internal/tlsconfig"
)

// Variable names of the security settings, used by Validate's messages.
const (
	varKafkaTLS          = Prefix + "KAFKA_TLS"
	varKafkaTLSCA        = Prefix + "KAFKA_TLS_CA_FILE"
	varKafkaTLSCert      = Prefix + "KAFKA_TLS_CERT_FILE"
	varKafkaTLSKey       = Prefix + "KAFKA_TLS_KEY_FILE"
	varKafkaTLSName      = Prefix + "KAFKA_TLS_SERVER_NAME"
	varSASLMechanism     = Prefix + "KAFKA_SASL_MECHANISM"
	varSASLUser          = Prefix + "KAFKA_SASL_USER"
	varSASLPassword      = Prefix + "KAFKA_SASL_PASSWORD"
	varCHTLS             = Prefix + "CLICKHOUSE_TLS"
	varCHTLSCA           = Prefix + "CLICKHOUSE_TLS_CA_FILE"
	varCHTLSName         = Prefix + "CLICKHOUSE_TLS_SERVER_NAME"
	varCHTLSInsecureSkip = Prefix + "CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY"
)

// kafkaSecurityVars are the variables IsKafkaSecurity accepts.
var kafkaSecurityVars = []string{
	varKafkaTLS, varKafkaTLSCA, varKafkaTLSCert, varKafkaTLSKey, varKafkaTLSName,
	varSASLMechanism, varSASLUser, varSASLPassword,
}

// UnmarshalText accepts the mechanism in any case ("SCRAM-SHA-256" as Kafka spells
// it, or "scram-sha-256"); an empty value means none.
func (m *SASLMechanism) UnmarshalText(text []byte) error {
	s := SASLMechanism(strings.ToLower(strings.TrimSpace(string(text))))
	if s == "" {
		s = SASLNone
	}
	*m = s
	return nil
}

// KafkaName is the mechanism's name in the Kafka protocol (PLAIN, SCRAM-SHA-256, …),
// or "" for none.
func (m SASLMechanism) KafkaName() string {
	if m == SASLNone || m == "" {
		return ""
	}
	return strings.ToUpper(string(m))
}

// TLSConfig returns the TLS configuration of the Kafka clients, or nil when
// SLUICE_KAFKA_TLS is false. Its error names the variable of the file that cannot be
// used.
func (k Kafka) TLSConfig() (*tls.Config, error) {
	if !k.TLS {
		return nil, nil
	}
	cfg, err := tlsconfig.Build(tlsconfig.Files{CAFile: k.TLSCAFile, CertFile: k.TLSCertFile, KeyFile: k.TLSKeyFile, ServerName: k.TLSServerName})
	return cfg, tlsFileError(err, map[tlsconfig.Which]string{tlsconfig.CA: varKafkaTLSCA, tlsconfig.Cert: varKafkaTLSCert, tlsconfig.Key: varKafkaTLSKey})
}

// TLSConfig returns the TLS configuration of the ClickHouse connections, or nil when
// SLUICE_CLICKHOUSE_TLS is false. Its error names the variable of the file that
// cannot be used.
func (h ClickHouse) TLSConfig() (*tls.Config, error) {
	if !h.Secure {
		return nil, nil
	}
	cfg, err := tlsconfig.Build(tlsconfig.Files{CAFile: h.CAFile, ServerName: h.ServerName, InsecureSkipVerify: h.InsecureSkipVerify})
	return cfg, tlsFileError(err, map[tlsconfig.Which]string{tlsconfig.CA: varCHTLSCA})
}

// tlsFileError turns a *tlsconfig.FileError into a VarError naming the variable.
func tlsFileError(err error, vars map[tlsconfig.Which]string) error {
	var fe *tlsconfig.FileError
	if err == nil || !errors.As(err, &fe) || vars[fe.Which] == "" {
		return err
	}
	if errors.Is(err, tlsconfig.ErrMissingPair) {
		other := map[tlsconfig.Which]tlsconfig.Which{tlsconfig.Cert: tlsconfig.Key, tlsconfig.Key: tlsconfig.Cert}[fe.Which]
		return &VarError{Var: vars[fe.Which], Value: `""`, Problem: fmt.Sprintf("must be set when %s is: a client certificate needs both", vars[other])}
	}
	return &VarError{Var: vars[fe.Which], Value: quoteIfNeeded(fe.Path), Problem: fmt.Sprintf("cannot be used: %v (give a readable PEM file)", fe.Err)}
}

// securityProblems checks the TLS and SASL settings of Kafka and ClickHouse.
func (c Config) securityProblems(ch *checker) {
	k := c.Kafka
	if !k.TLS {
		for _, f := range []struct{ name, value string }{
			{varKafkaTLSCA, k.TLSCAFile}, {varKafkaTLSCert, k.TLSCertFile}, {varKafkaTLSKey, k.TLSKeyFile}, {varKafkaTLSName, k.TLSServerName},
		} {
			if f.value != "" {
				ch.fail(f.name, f.value, "is set but %s=false, so it would be ignored: set %[1]s=true or unset %[2]s", varKafkaTLS, f.name)
			}
		}
	} else if _, err := k.TLSConfig(); err != nil {
		ch.errs = append(ch.errs, err)
	}
	switch k.SASLMechanism {
	case SASLNone:
		if k.SASLUser != "" {
			ch.fail(varSASLUser, k.SASLUser, "is set but %s=none: set the mechanism (plain, scram-sha-256 or scram-sha-512)", varSASLMechanism)
		}
		if k.SASLPassword != "" {
			ch.fail(varSASLPassword, k.SASLPassword, "is set but %s=none: set the mechanism (plain, scram-sha-256 or scram-sha-512)", varSASLMechanism)
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if k.SASLUser == "" {
			ch.fail(varSASLUser, k.SASLUser, "must name the Kafka user when %s=%s", varSASLMechanism, k.SASLMechanism)
		}
		if k.SASLPassword == "" {
			ch.fail(varSASLPassword, k.SASLPassword, "must be set when %s=%s", varSASLMechanism, k.SASLMechanism)
		}
	default:
		ch.fail(varSASLMechanism, k.SASLMechanism, "must be %s, %s, %s or %s", SASLNone, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}

	h := c.ClickHouse
	if !h.Secure {
		for _, f := range []struct{ name, value string }{
			{varCHTLSCA, h.CAFile}, {varCHTLSName, h.ServerName},
		} {
			if f.value != "" {
				ch.fail(f.name, f.value, "is set but %s=false, so it would be ignored: set %[1]s=true or unset %[2]s", varCHTLS, f.name)
			}
		}
		if h.InsecureSkipVerify {
			ch.fail(varCHTLSInsecureSkip, true, "is set but %s=false, so it would be ignored: set %[1]s=true or unset %[2]s", varCHTLS, varCHTLSInsecureSkip)
		}
	} else if _, err := h.TLSConfig(); err != nil {
		ch.errs = append(ch.errs, err)
	}
}
