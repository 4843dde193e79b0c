package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

func fakeKafka(t *testing.T, topics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

func countRecords(t *testing.T, brokers, topic string, want int) {
	t.Helper()
	if n := len(fetchAll(t, brokers, topic, want)); n != want {
		t.Fatalf("%s: %d records, want %d", topic, n, want)
	}
}

func TestLoadgenCommand(t *testing.T) {
	brokers := fakeKafka(t, "payments", "shipments")
	truthFile := filepath.Join(t.TempDir(), "truth.json")
	var out, errOut bytes.Buffer
	err := loadgenCommand(t.Context(), []string{"--brokers", brokers, "--seed", "3", "--count", "2000",
		"--payments-share", "0.5", "--invalid-rate", "0.02", "--truth-json", truthFile}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "payments   records=1000") {
		t.Fatalf("summary:\n%s", out.String())
	}
	b, err := os.ReadFile(truthFile)
	if err != nil {
		t.Fatal(err)
	}
	var tr loadgen.Truth
	if err := tr.UnmarshalJSON(b); err != nil || tr.PaymentCounts.Records != 1000 || tr.ShipmentCounts.Records != 1000 {
		t.Fatalf("truth json: %v %+v", err, tr.PaymentCounts)
	}
	countRecords(t, brokers, "payments", 1000)
}

func TestProduceCommand(t *testing.T) {
	brokers := fakeKafka(t, "payments")
	dir := t.TempDir()
	good := `{"event_id":"e1","event_type":"payment.captured","occurred_at":"2026-01-05T09:00:00Z","merchant_id":"m_1","amount_minor":100,"currency":"INR"}`
	good2 := strings.Replace(good, `"e1"`, `"e2"`, 1)
	bad := strings.Replace(good, `"INR"`, `"inr"`, 1)
	file := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(file, []byte(good+"\n\n"+bad+"\n"+good2+"\r\n{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	err := produceCommand(t.Context(), []string{"--brokers", brokers, "--topic", "payments", file}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "2 invalid lines") {
		t.Fatalf("want an error for 2 invalid lines, got %v", err)
	}
	for _, want := range []string{file + ":3: invalid event: bad_format (currency)", file + ":5: invalid event: malformed_json"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if !strings.Contains(out.String(), "2 valid, 2 invalid, 2 published") {
		t.Errorf("stdout: %s", out.String())
	}
	countRecords(t, brokers, "payments", 2)

	out.Reset()
	errOut.Reset()
	if err := produceCommand(t.Context(), []string{"--brokers", brokers, "--topic", "payments", "--skip-invalid", "--dry-run", file}, &out, &errOut); err != nil {
		t.Fatalf("--skip-invalid --dry-run: %v", err)
	}
	if err := produceCommand(t.Context(), []string{"--topic", "orders"}, &out, &errOut); err == nil {
		t.Fatal("--topic orders: want error")
	}
}

// TestPublisherConfig checks that a publisher takes its --brokers default from
// SLUICE_KAFKA_BROKERS and refuses bad Kafka security settings, naming the variable,
// while problems with variables that do not concern it are ignored. It sets process
// environment variables, so it does not run in parallel.
func TestPublisherConfig(t *testing.T) {
	t.Setenv("SLUICE_KAFKA_BROKERS", "k1:9092,k2:9092")
	t.Setenv("SLUICE_WINDOW", "abc")
	pc := loadPublisherConfig()
	if got := pc.brokers(); got != "k1:9092,k2:9092" {
		t.Errorf("brokers() = %q, want SLUICE_KAFKA_BROKERS", got)
	}
	if _, err := pc.kafkaClientOpts([]string{"k1:9092"}); err != nil {
		t.Errorf("a bad SLUICE_WINDOW stopped a publisher: %v", err)
	}

	t.Setenv("SLUICE_KAFKA_SASL_MECHANISM", "scram-sha-256")
	t.Setenv("SLUICE_KAFKA_SASL_USER", "svc")
	_, err := loadPublisherConfig().kafkaClientOpts([]string{"k1:9092"})
	if err == nil || !strings.Contains(err.Error(), "SLUICE_KAFKA_SASL_PASSWORD") || strings.Contains(err.Error(), "SLUICE_WINDOW") {
		t.Errorf("want an error naming SLUICE_KAFKA_SASL_PASSWORD alone, got %v", err)
	}
}

// closedPort returns the address of a port nothing listens on: a dead broker.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// run runs a command line through dispatch, as main does, with a live context.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = dispatch(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// fetchAll reads every record of topic from the start until want were read.
func fetchAll(t *testing.T, brokers, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d records", topic, len(recs), want)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

// TestProduceExitStatus checks each exit status of sluice produce: 0 when every line
// was published, 1 when invalid lines were left out (the valid ones published), 3
// when a broker is dead (within --timeout, not a hang), and that --allow-invalid,
// --key and --header shape what is published.
func TestProduceExitStatus(t *testing.T) {
	brokers := fakeKafka(t, "payments", "p2")
	dir := t.TempDir()
	good := `{"event_id":"e1","event_type":"payment.captured","occurred_at":"2026-01-05T09:00:00Z","merchant_id":"m_1","amount_minor":100,"currency":"INR"}`
	bad := strings.Replace(strings.Replace(good, `"INR"`, `"inr"`, 1), `"e1"`, `"e2"`, 1)
	goodFile, mixedFile := filepath.Join(dir, "good.ndjson"), filepath.Join(dir, "mixed.ndjson")
	if err := os.WriteFile(goodFile, []byte(good+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mixedFile, []byte(good+"\n"+bad+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	if code, out, errOut := run(t, "produce", "--brokers", brokers, "--topic", "payments", goodFile); code != 0 || !strings.Contains(out, "1 published") {
		t.Errorf("all valid: exit %d, stdout %q, stderr %q; want 0", code, out, errOut)
	}
	if code, out, errOut := run(t, "produce", "--brokers", brokers, "--topic", "payments", mixedFile); code != exitInvalid ||
		!strings.Contains(out, "1 valid, 1 invalid, 1 published") || !strings.Contains(errOut, mixedFile+":2: invalid event") {
		t.Errorf("one invalid: exit %d, stdout %q, stderr %q; want %d", code, out, errOut, exitInvalid)
	}
	countRecords(t, brokers, "payments", 2)

	dead := closedPort(t)
	code, out, errOut := run(t, "produce", "--brokers", dead, "--topic", "payments", "--timeout", "1s", goodFile)
	if code != exitPublish || !strings.Contains(out, "0 published") || !strings.Contains(errOut, "--timeout") {
		t.Errorf("dead broker: exit %d, stdout %q, stderr %q; want %d naming --timeout", code, out, errOut, exitPublish)
	}

	code, out, errOut = run(t, "produce", "--brokers", brokers, "--topic", "payments", "--topic-name", "p2", "--allow-invalid",
		"--key", "{merchant_id}/{currency}", "--header", "origin=test", "--header", "try=2", mixedFile)
	if code != 0 || !strings.Contains(out, "2 published") || !strings.Contains(errOut, "--allow-invalid") {
		t.Fatalf("--allow-invalid: exit %d, stdout %q, stderr %q; want 0 and 2 published", code, out, errOut)
	}
	recs := fetchAll(t, brokers, "p2", 2)
	keys := map[string]bool{}
	for _, r := range recs {
		keys[string(r.Key)] = true
		if len(r.Headers) != 2 || r.Headers[0].Key != "origin" || string(r.Headers[1].Value) != "2" {
			t.Errorf("headers %v, want origin=test, try=2", r.Headers)
		}
	}
	if !keys["m_1/INR"] || !keys["m_1/inr"] {
		t.Errorf("keys %v, want m_1/INR and m_1/inr", keys)
	}

	for _, args := range [][]string{{"--key", "{merchant_id"}, {"--header", "novalue"}, {"--timeout", "0s"}} {
		if code, _, _ := run(t, append([]string{"produce", "--topic", "payments", "--dry-run"}, args...)...); code != 2 {
			t.Errorf("produce %v: exit %d, want 2", args, code)
		}
	}
}

// TestLoadgenDeadBroker checks that loadgen prints no ground truth when its records
// were not acknowledged, and exits 3 within --timeout.
func TestLoadgenDeadBroker(t *testing.T) {
	code, out, errOut := run(t, "loadgen", "--brokers", closedPort(t), "--count", "50", "--timeout", "1s")
	if code != exitPublish || strings.Contains(out, "records=") || !strings.Contains(out, "0 of 50 records acknowledged; no ground truth") {
		t.Errorf("exit %d, stdout %q, stderr %q; want %d and no truth", code, out, errOut, exitPublish)
	}
}

// TestLoadgenRunID checks that loadgen prints its run id, that a rerun with another
// run id publishes events with other ids, and that a bad --run-id is refused.
func TestLoadgenRunID(t *testing.T) {
	brokers := fakeKafka(t, "payments", "shipments")
	ids := map[string]int{}
	for _, runID := range []string{"", "again"} {
		code, _, errOut := run(t, "loadgen", "--brokers", brokers, "--count", "100", "--payments-share", "1", "--run-id", runID, "--invalid-rate", "0", "--duplicate-rate", "0")
		if code != 0 || !strings.Contains(errOut, "run-id=") {
			t.Fatalf("loadgen --run-id %q: exit %d, stderr %q", runID, code, errOut)
		}
	}
	for _, r := range fetchAll(t, brokers, "payments", 200) {
		var p schemas.Payment
		if err := schemas.DecodePayment(r.Value, &p, schemas.Limits{}); err != nil {
			t.Fatal(err)
		}
		ids[p.EventID]++
	}
	if len(ids) != 200 {
		t.Errorf("%d distinct event ids in two runs of 100, want 200", len(ids))
	}
	if code, _, _ := run(t, "loadgen", "--run-id", "a b"); code == 0 {
		t.Error("--run-id 'a b' accepted")
	}
}

// TestComposeLoadgenPublishesNewEvents checks compose.yaml's load generator: it is
// restarted without end, and takes no fixed --run-id, so each start publishes new
// event ids instead of duplicates that Sluice would drop.
func TestComposeLoadgenPublishesNewEvents(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Restart string   `yaml:"restart"`
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	svc, ok := compose.Services["loadgen"]
	if !ok || len(svc.Command) == 0 || svc.Command[0] != "loadgen" {
		t.Fatalf("compose.yaml has no loadgen service running `sluice loadgen`: %+v", svc)
	}
	if svc.Restart == "" || svc.Restart == "no" {
		t.Errorf("loadgen restart %q: the demo stops after one run", svc.Restart)
	}
	if slices.Contains(svc.Command, "--run-id") {
		t.Errorf("loadgen command %v fixes --run-id: every restart would republish the same event ids", svc.Command)
	}
}
