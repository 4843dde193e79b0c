package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/internal/config"
)

// KafkaOpts returns the options every Kafka client built from c starts with: the
// seed brokers, TLS (SLUICE_KAFKA_TLS*) and SASL (SLUICE_KAFKA_SASL_*). It is the one
// place those settings are turned into client options, for the consumer, the
// dead-letter producer, the publishers of loadgen and produce, and the demo. The error
// names the variable to fix and never contains the password.
func KafkaOpts(c config.Config) ([]kgo.Opt, error) {
	k := c.Kafka
	opts := []kgo.Opt{kgo.SeedBrokers(k.Brokers...)}
	tlsCfg, err := k.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	if m := saslMechanism(k); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// saslMechanism returns the SASL mechanism of k, or nil for none.
func saslMechanism(k config.Kafka) sasl.Mechanism {
	switch k.SASLMechanism {
	case config.SASLPlain:
		return plain.Auth{User: k.SASLUser, Pass: k.SASLPassword.Reveal()}.AsMechanism()
	case config.SASLScramSHA256:
		return scram.Auth{User: k.SASLUser, Pass: k.SASLPassword.Reveal()}.AsSha256Mechanism()
	case config.SASLScramSHA512:
		return scram.Auth{User: k.SASLUser, Pass: k.SASLPassword.Reveal()}.AsSha512Mechanism()
	}
	return nil
}

// kafkaPingTimeout bounds one start-up check of the Kafka connection.
const kafkaPingTimeout = 10 * time.Second

// verifyKafka makes a client with opts talk to a broker before start-up goes on, so
// that refused credentials or an untrusted certificate stop start-up with a clear
// error instead of the real clients retrying them forever in the background
// (franz-go connects lazily). A broker that is merely unreachable is waited for,
// with a warning per attempt and a call of retrying, until ctx is done.
func verifyKafka(ctx context.Context, opts []kgo.Opt, c config.Config, log *slog.Logger, retrying func(error)) error {
	var watch saslWatch
	cl, err := kgo.NewClient(append(slices.Clip(opts), kgo.WithHooks(&watch))...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, kafkaPingTimeout)
		err := cl.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		refused := watch.failed.Load()
		err = describeKafkaError(err, c, refused)
		if refused || isPermanentKafkaError(err) || ctx.Err() != nil {
			return err
		}
		log.Warn("Kafka not reachable; retrying", "attempt", attempt, "backoff", wait, "err", err)
		retrying(err)
		if !sleep(ctx, wait) {
			return err
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// saslWatch notices a connection that fails while authenticating. Brokers that
// refuse credentials either answer SASL_AUTHENTICATION_FAILED (seen as a kerr
// error) or, like older brokers and kfake, close the connection; the client then
// reports a bare EOF, and this hook is what tells the two apart from an outage.
type saslWatch struct{ failed atomic.Bool }

// OnBrokerRead implements kgo.HookBrokerRead.
func (w *saslWatch) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil && key == kmsg.SASLAuthenticate.Int16() {
		w.failed.Store(true)
	}
}

// describeKafkaError says which settings a connection error concerns, with the
// password removed from its message.
func describeKafkaError(err error, c config.Config, refused bool) error {
	k := c.Kafka
	var how []string
	if k.SASLMechanism != config.SASLNone {
		how = append(how, fmt.Sprintf("SLUICE_KAFKA_SASL_MECHANISM=%s SLUICE_KAFKA_SASL_USER=%q", k.SASLMechanism, k.SASLUser))
	}
	if k.TLS {
		how = append(how, "SLUICE_KAFKA_TLS=true")
	} else {
		how = append(how, "SLUICE_KAFKA_TLS=false")
	}
	msg := fmt.Sprintf("kafka: connect to %v with %s", k.Brokers, strings.Join(how, " "))
	switch {
	case refused || isAuthError(err):
		msg += ": the brokers refused the credentials; check SLUICE_KAFKA_SASL_USER, SLUICE_KAFKA_SASL_PASSWORD and SLUICE_KAFKA_SASL_MECHANISM"
	case isTLSError(err):
		msg += ": TLS failed; check SLUICE_KAFKA_TLS (does the broker listener speak TLS?), SLUICE_KAFKA_TLS_CA_FILE and SLUICE_KAFKA_TLS_SERVER_NAME"
	case isFirstReadEOF(err):
		msg += ": the broker hung up at once; it probably wants TLS (SLUICE_KAFKA_TLS) or SASL (SLUICE_KAFKA_SASL_MECHANISM) settings other than these"
	}
	return &kafkaError{msg: msg + ": " + redactString(err.Error(), k.SASLPassword.Reveal()), err: err}
}

// kafkaError is a connection error with its message already redacted; errors.Is and
// errors.As still see the cause.
type kafkaError struct {
	msg string
	err error
}

func (e *kafkaError) Error() string { return e.msg }
func (e *kafkaError) Unwrap() error { return e.err }

// redactString replaces every occurrence of secret in s.
func redactString(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[REDACTED]")
}

// isPermanentKafkaError reports whether retrying the connection cannot help: the
// credentials or the mechanism are refused, or TLS cannot be established.
func isPermanentKafkaError(err error) bool {
	return isAuthError(err) || isTLSError(err) || isFirstReadEOF(err)
}

// isAuthError reports whether a broker refused the SASL credentials or mechanism.
func isAuthError(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// isFirstReadEOF reports whether the broker closed the connection at the first
// request: it wants TLS and the client speaks plaintext (or the reverse), or it
// wants SASL and the client sends none.
func isFirstReadEOF(err error) bool {
	var eof *kgo.ErrFirstReadEOF
	return errors.As(err, &eof)
}

// isTLSError reports whether err is a TLS handshake failure (untrusted or mismatched
// certificate, a peer that does not speak TLS, a handshake the server refused).
// Retrying cannot fix it. It serves the ClickHouse connection as well.
func isTLSError(err error) bool {
	var (
		verifyErr   *tls.CertificateVerificationError
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		opErr       *net.OpError
		errTLSAlert = "tls: "
	)
	if errors.As(err, &verifyErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) ||
		errors.As(err, &invalidErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) {
		return true
	}
	// A handshake refused by the server (e.g. it wants a client certificate) comes
	// back as a remote alert wrapped in a *net.OpError.
	return errors.As(err, &opErr) && opErr.Err != nil && strings.HasPrefix(opErr.Err.Error(), errTLSAlert)
}
