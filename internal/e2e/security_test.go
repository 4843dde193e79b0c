package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/chlocal"
	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/internal/dev/testsupport"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
)

// secureStack is newStackOn with a Kafka cluster started with kafkaOpts (SASL,
// TLS); its helpers connect with the Sluice configuration's own client options.
func secureStack(t *testing.T, ch *testenv.CH, kafkaOpts []kfake.Opt, extra map[string]string) *stack {
	t.Helper()
	return buildStack(t, testenv.Kafka(t, kafkaOpts...), ch, 2, extra)
}

// secureClient is a Kafka client configured like Sluice's own (app.KafkaOpts),
// closed when the test ends.
func (s *stack) secureClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	kopts, err := app.KafkaOpts(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(kopts, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// publishSecure publishes gen's whole stream through a client configured like
// Sluice's and returns its ground truth.
func (s *stack) publishSecure(t *testing.T, gen *loadgen.Generator, n int64) *loadgen.Truth {
	t.Helper()
	pub, err := producers.NewPublisher(producers.Client(s.secureClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if _, err := loadgen.Run(t.Context(), pub, gen, loadgen.RunOptions{Count: n}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	return gen.Truth()
}

// runToEnd publishes a small stream, runs one instance until everything is
// committed and checks ClickHouse exactly.
func (s *stack) runToEnd(t *testing.T, seed int64) {
	t.Helper()
	if err := app.Migrate(t.Context(), s.cfg); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	truth := s.publishSecure(t, generator(t, seed, 600, 300, 0.02, 0.01), 0)
	in := s.start(t, "a")
	adm := kadm.NewClient(s.secureClient(t))
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedVia(t, adm) })
	in.stop(t)
	s.checkStored(t, truth)
}

// startFails runs app.New with c and returns its error, failing the test if start-up
// succeeds or does not end within a minute.
func startFails(t *testing.T, c config.Config, log *slog.Logger) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if log == nil {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	in, err := app.New(ctx, c, log)
	if err == nil {
		cancel()
		_ = in.Run(ctx)
		t.Fatal("start-up succeeded, want an error")
	}
	if ctx.Err() != nil {
		t.Fatalf("start-up did not fail by itself within a minute (it waited until the deadline): %v", err)
	}
	t.Logf("start-up error: %v", err)
	return err
}

// wantMessage checks that err names every one of want and contains none of secrets.
func wantMessage(t *testing.T, err error, want []string, secrets ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q: %v", w, err)
		}
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error contains the secret %q: %v", s, err)
		}
	}
}

// TestKafkaSASL runs Sluice end to end against a broker that requires SASL, once per
// mechanism, and checks that a wrong password stops start-up with an error that names
// the user and mechanism but not the password.
func TestKafkaSASL(t *testing.T) {
	for i, mech := range []config.SASLMechanism{config.SASLPlain, config.SASLScramSHA256, config.SASLScramSHA512} {
		t.Run(string(mech), func(t *testing.T) {
			const user, pass = "sluice-svc", "correct-horse-Pw1"
			kf := []kfake.Opt{kfake.EnableSASL(), kfake.Superuser(mech.KafkaName(), user, pass)}
			s := secureStack(t, testenv.ClickHouse(t), kf, map[string]string{
				"SLUICE_KAFKA_SASL_MECHANISM": string(mech),
				"SLUICE_KAFKA_SASL_USER":      user,
				"SLUICE_KAFKA_SASL_PASSWORD":  pass,
			})
			s.runToEnd(t, int64(100+i))

			const wrong = "wrong-battery-Pw2"
			bad := s.cfg
			bad.Kafka.SASLPassword = wrong
			err := startFails(t, bad, nil)
			wantMessage(t, err, []string{"SLUICE_KAFKA_SASL_USER", user, string(mech), "refused the credentials"}, wrong, pass)
		})
	}
}

// TestKafkaTLS runs Sluice end to end over mutual TLS plus SCRAM-SHA-512 to a broker
// with a certificate from a CA made in the test, then checks that an untrusted
// server certificate and a missing client certificate stop start-up.
func TestKafkaTLS(t *testing.T) {
	ca := testsupport.NewPKI(t, "sluice-test-ca")
	srvCert := ca.Issue(t, "kafka", true)
	cliCertFile, cliKeyFile := ca.IssueFiles(t, "sluice-client", false)
	serverTLS := &tls.Config{
		Certificates: []tls.Certificate{srvCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
		MinVersion:   tls.VersionTLS12,
	}
	const user, pass = "sluice-tls", "tls-and-scram-Pw3"
	kf := []kfake.Opt{kfake.TLS(serverTLS), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", user, pass)}
	s := secureStack(t, testenv.ClickHouse(t), kf, map[string]string{
		"SLUICE_KAFKA_TLS":             "true",
		"SLUICE_KAFKA_TLS_CA_FILE":     ca.CAFile,
		"SLUICE_KAFKA_TLS_CERT_FILE":   cliCertFile,
		"SLUICE_KAFKA_TLS_KEY_FILE":    cliKeyFile,
		"SLUICE_KAFKA_TLS_SERVER_NAME": "kafka",
		"SLUICE_KAFKA_SASL_MECHANISM":  "SCRAM-SHA-512",
		"SLUICE_KAFKA_SASL_USER":       user,
		"SLUICE_KAFKA_SASL_PASSWORD":   pass,
	})
	s.runToEnd(t, 200)

	t.Run("untrusted server", func(t *testing.T) {
		other := testsupport.NewPKI(t, "someone-else")
		c := s.cfg
		c.Kafka.TLSCAFile = other.CAFile
		err := startFails(t, c, nil)
		wantMessage(t, err, []string{"TLS failed", "SLUICE_KAFKA_TLS_CA_FILE"}, pass)
	})
	t.Run("wrong server name", func(t *testing.T) {
		c := s.cfg
		c.Kafka.TLSServerName = "not-kafka"
		err := startFails(t, c, nil)
		wantMessage(t, err, []string{"TLS failed", "SLUICE_KAFKA_TLS_SERVER_NAME"}, pass)
	})
	t.Run("no client certificate", func(t *testing.T) {
		c := s.cfg
		c.Kafka.TLSCertFile, c.Kafka.TLSKeyFile = "", ""
		err := startFails(t, c, nil)
		wantMessage(t, err, []string{"TLS failed"}, pass)
	})
	t.Run("plaintext to a TLS listener", func(t *testing.T) {
		c := s.cfg
		c.Kafka.TLS, c.Kafka.TLSCAFile, c.Kafka.TLSCertFile, c.Kafka.TLSKeyFile, c.Kafka.TLSServerName = false, "", "", "", ""
		err := startFails(t, c, nil)
		wantMessage(t, err, []string{"hung up", "SLUICE_KAFKA_TLS"}, pass)
	})
}

// TestClickHouseUserPassword runs Sluice end to end as a ClickHouse user that has a
// password and rights on its database only, then checks that a wrong password stops
// start-up with an error naming the user but not the password.
func TestClickHouseUserPassword(t *testing.T) {
	const user, pass = "sluice_writer", "ch-Pass-Word-77"
	ch, srv := clickHouseWithUser(t, user, pass)
	s := secureStack(t, ch, nil, map[string]string{
		"SLUICE_CLICKHOUSE_USER":     user,
		"SLUICE_CLICKHOUSE_PASSWORD": pass,
	})
	s.runToEnd(t, 300)

	const wrong = "ch-Wrong-Word-88"
	bad := s.cfg
	bad.ClickHouse.Password = wrong
	crashes := srv.Crashes()
	err := startFails(t, bad, nil)
	wantMessage(t, err, []string{"SLUICE_CLICKHOUSE_USER", user, "SLUICE_CLICKHOUSE_PASSWORD", "refused the credentials"}, wrong, pass)
	waitRestarted(t, ch, srv, crashes)
}

// waitRestarted waits until srv has restarted after the abort that follows a
// refused login on the local engine (a real server does not abort; RestartOnCrash
// brings this one back) and answers again, so that the test ends on a running
// server.
func waitRestarted(t *testing.T, ch *testenv.CH, srv *chlocal.Server, before int) {
	t.Helper()
	conn := ch.Conn(t)
	waitFor(t, time.Minute, "ClickHouse restarted after the refused login", func() bool {
		return srv.Crashes() > before && conn.Ping(t.Context()) == nil
	})
}

// clickHouseWithUser starts a private ClickHouse server (the local engine aborts on
// some authentication failures; it restarts at once) whose configuration adds user,
// identified by password, with all rights on a fresh database and none elsewhere.
// The returned CH connects as the default user, for the test's own checks.
func clickHouseWithUser(t *testing.T, user, password string) (*testenv.CH, *chlocal.Server) {
	t.Helper()
	dir := t.TempDir()
	db := "t_secure_" + strings.ToLower(strings.NewReplacer("/", "_", " ", "_", "-", "_").Replace(t.Name()))
	cfgFile := filepath.Join(dir, "config.xml")
	// The default user keeps its usual rights (the test's checks use it); the
	// Sluice user gets its database only. clickhouse-local reads users from a
	// configuration file only when user_directories names it.
	xml := fmt.Sprintf(`<clickhouse>
  <users>
    <default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default>
    <%[1]s>
      <password_sha256_hex>%[2]x</password_sha256_hex>
      <networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota>
      <grants><query>GRANT ALL ON %[3]s.*</query><query>GRANT TABLE ENGINE ON *</query></grants>
    </%[1]s>
  </users>
  <profiles><default/></profiles>
  <quotas><default/></quotas>
  <user_directories><users_xml><path>%[4]s</path></users_xml></user_directories>
</clickhouse>
`, user, sha256.Sum256([]byte(password)), db, cfgFile)
	if err := os.WriteFile(cfgFile, []byte(xml), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startConfigured(t, dir, cfgFile)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	admin, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+db+"`"); err != nil {
		t.Fatal(err)
	}
	return &testenv.CH{Addr: srv.Addr(), HTTPAddr: srv.HTTPAddr(), Database: db}, srv
}

// startConfigured starts a private ClickHouse server with its data under dir and
// the configuration cfgFile (restarted at once after a crash), stopped when the test
// ends.
func startConfigured(t *testing.T, dir, cfgFile string) *chlocal.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv, err := chlocal.Start(ctx, chlocal.Options{DataDir: filepath.Join(dir, "data"), ConfigFile: cfgFile, RestartOnCrash: true, Log: os.Stderr})
	if err != nil {
		t.Fatalf("start ClickHouse: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("stop ClickHouse: %v", err)
		}
	})
	return srv
}

// TestSecretsNeverAppear runs an instance with distinctive secrets (ClickHouse and
// SASL passwords), debug logging captured, a ClickHouse outage to make it retry and
// log errors, and start-ups refused for wrong passwords; then it searches everything
// an operator or an attacker could read for the secrets: the logs, the errors, the
// configuration's printed forms, and the admin endpoints' bodies (/metrics,
// /api/status, the status page, /healthz and /readyz, during the outage and after).
func TestSecretsNeverAppear(t *testing.T) {
	const (
		chUser        = "sluice_secretive"
		chSecret      = "chPW-Q7x9-distinctive"
		kafkaUser     = "sluice-secretive"
		kafkaSecret   = "kafkaPW-M3k8-distinctive"
		wrongCH       = "wrongChPW-Z1v5-distinctive"
		wrongKafka    = "wrongKafkaPW-P4n2-distinctive"
		secretMarkers = "distinctive" // every secret above contains it
	)
	ch, srv := clickHouseWithUser(t, chUser, chSecret)
	kf := []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", kafkaUser, kafkaSecret)}
	s := secureStack(t, ch, kf, map[string]string{
		"SLUICE_CLICKHOUSE_USER":      chUser,
		"SLUICE_CLICKHOUSE_PASSWORD":  chSecret,
		"SLUICE_KAFKA_SASL_MECHANISM": "scram-sha-256",
		"SLUICE_KAFKA_SASL_USER":      kafkaUser,
		"SLUICE_KAFKA_SASL_PASSWORD":  kafkaSecret,
		"SLUICE_LOG_LEVEL":            "debug",
	})
	if err := app.Migrate(t.Context(), s.cfg); err != nil {
		t.Fatalf("migrate: %v", err)
	}

	var logs testsupport.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Info("configuration", "config", s.cfg) // what main logs at start-up
	texts := map[string]string{}               // where → what was readable there

	gen := generator(t, 400, 3000, 1500, 0.02, 0.01)
	s.publishSecure(t, gen, 1500)
	in, err := app.New(t.Context(), s.cfg, log)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("instance ended with: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	st := in.Stats()
	waitFor(t, time.Minute, "first batches stored", func() bool { return st.Flushes.Load() > 0 })

	scrape := func(when string) {
		addr := in.HTTPAddr()
		if addr == "" {
			t.Fatal("no admin listener: SLUICE_HTTP_ADDR is set, HTTPAddr is empty")
		}
		for _, path := range []string{"/metrics", "/api/status", "/", "/healthz", "/readyz"} {
			code, body := get(t, "http://"+addr+path)
			if code == 0 {
				t.Fatalf("%s GET %s: no answer", when, path)
			}
			texts[when+" GET "+path] = body
		}
	}
	scrape("before the outage:")

	// An outage: stores fail and are retried, readiness fails with ClickHouse's
	// error, and all of it is logged.
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	truth := s.publishSecure(t, gen, 0)
	waitFor(t, time.Minute, "store retries while ClickHouse is down", func() bool { return st.StoreRetries.Load() >= 2 })
	scrape("during the outage:")
	rctx, rcancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer rcancel()
	if err := srv.Restart(rctx); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(s.secureClient(t))
	waitFor(t, 3*time.Minute, "all offsets committed after the outage", func() bool { return s.committedVia(t, adm) })
	scrape("after the outage:")
	stop()
	s.checkStored(t, truth)

	// Start-ups refused for a wrong password, logged like the real thing.
	badKafka := s.cfg
	badKafka.Kafka.SASLPassword = wrongKafka
	texts["error for a wrong Kafka password"] = startFails(t, badKafka, log).Error()
	badCH := s.cfg
	badCH.ClickHouse.Password = wrongCH
	crashes := srv.Crashes()
	texts["error for a wrong ClickHouse password"] = startFails(t, badCH, log).Error()
	waitRestarted(t, ch, srv, crashes)

	// The configuration in every printed form.
	var describe bytes.Buffer
	if err := config.Describe(&describe, s.cfg); err != nil {
		t.Fatal(err)
	}
	texts["config.Describe (sluice config)"] = describe.String()
	texts["fmt %v %+v %#v %s"] = fmt.Sprintf("%v\n%+v\n%#v\n%s", s.cfg, s.cfg, s.cfg, s.cfg)
	texts["fmt of the sub-structs"] = fmt.Sprintf("%v\n%+v\n%#v\n%v\n%+v\n%#v", s.cfg.Kafka, s.cfg.Kafka, s.cfg.Kafka, s.cfg.ClickHouse, s.cfg.ClickHouse, s.cfg.ClickHouse)
	if js, err := json.Marshal(s.cfg); err != nil {
		t.Fatal(err)
	} else {
		texts["encoding/json"] = string(js)
	}
	badEnv := map[string]string{"SLUICE_KAFKA_SASL_PASSWORD": kafkaSecret, "SLUICE_CLICKHOUSE_PASSWORD": chSecret, "SLUICE_KAFKA_SASL_MECHANISM": "bogus"}
	if _, err := config.Load(badEnv); err == nil {
		t.Error("config.Load accepted SLUICE_KAFKA_SASL_MECHANISM=bogus")
	} else {
		texts["config.Load problems"] = err.Error()
	}
	texts["logs"] = logs.String()

	// Positive controls: the texts hold what they should, with the secrets as ***.
	for _, want := range []string{`"kafka_sasl_password":"***"`, `"clickhouse_password":"***"`, chUser, kafkaUser} {
		if !strings.Contains(texts["logs"], want) {
			t.Errorf("the logs lack %s; is the configuration logged?", want)
		}
	}
	if !strings.Contains(texts["config.Describe (sluice config)"], "SLUICE_KAFKA_SASL_PASSWORD") {
		t.Error("config.Describe does not list SLUICE_KAFKA_SASL_PASSWORD")
	}
	if !strings.Contains(texts["logs"], `"level":"WARN"`) && !strings.Contains(texts["logs"], `"level":"ERROR"`) {
		t.Errorf("the outage logged no warning or error; the test did not exercise the error paths:\n%s", texts["logs"])
	}
	for where, text := range texts {
		if text == "" && !strings.Contains(where, "GET") {
			t.Errorf("%s: nothing captured", where)
		}
		for _, secret := range []string{chSecret, kafkaSecret, wrongCH, wrongKafka, secretMarkers} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s shows a secret (%q) near: %q", where, secret, text[max(0, i-200):min(len(text), i+100)])
			}
		}
	}
	t.Logf("searched %d texts (%d bytes of logs); %d store retries during the outage", len(texts), len(texts["logs"]), st.StoreRetries.Load())
}

// TestClickHouseTLS runs Sluice end to end over TLS to ClickHouse, verifying the
// server against a CA made in the test, then checks that an untrusted certificate
// and a wrong server name stop start-up. The local engine cannot serve TLS itself
// (clickhouse-local starts only the plain TCP and HTTP listeners), so the server is
// fronted by a TLS-terminating proxy, as stunnel or a sidecar would do: what is
// tested is Sluice's side of the connection.
func TestClickHouseTLS(t *testing.T) {
	ca := testsupport.NewPKI(t, "clickhouse-ca")
	ch := testenv.ClickHouse(t)
	addr := testsupport.TLSProxy(t, ca.Issue(t, "clickhouse.internal", true), ch.Addr)
	secure := *ch
	secure.Addr = addr // Sluice connects through the proxy; the checks go direct
	s := secureStack(t, &secure, nil, map[string]string{
		"SLUICE_CLICKHOUSE_TLS":             "true",
		"SLUICE_CLICKHOUSE_TLS_CA_FILE":     ca.CAFile,
		"SLUICE_CLICKHOUSE_TLS_SERVER_NAME": "clickhouse.internal",
	})
	s.ch = ch
	s.runToEnd(t, 500)

	t.Run("untrusted server", func(t *testing.T) {
		c := s.cfg
		c.ClickHouse.CAFile = testsupport.NewPKI(t, "someone-else").CAFile
		err := startFails(t, c, nil)
		wantMessage(t, err, []string{"TLS failed", "SLUICE_CLICKHOUSE_TLS_CA_FILE"})
	})
	t.Run("wrong server name", func(t *testing.T) {
		c := s.cfg
		c.ClickHouse.ServerName = "elsewhere.internal"
		err := startFails(t, c, nil)
		wantMessage(t, err, []string{"TLS failed", "SLUICE_CLICKHOUSE_TLS_SERVER_NAME"})
	})
	t.Run("insecure skip verify", func(t *testing.T) {
		c := s.cfg
		c.ClickHouse.CAFile, c.ClickHouse.InsecureSkipVerify = "", true
		ch, err := app.OpenClickHouse(t.Context(), c)
		if err != nil {
			t.Fatalf("with verification off: %v", err)
		}
		ch.Close()
	})
}
