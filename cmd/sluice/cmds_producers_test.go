package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers/loadgen"
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
	readRecords(t, brokers, topic, want)
}

// readRecords reads topic from the start until it has want records, and fails the
// test if it gets fewer within 20 s or more.
func readRecords(t *testing.T, brokers, topic string, want int) []*kgo.Record {
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
	if len(recs) != want {
		t.Fatalf("%s: %d records, want %d", topic, len(recs), want)
	}
	return recs
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
