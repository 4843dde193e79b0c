package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/internal/dev/testsupport"
	"github.com/sluicehq/sluice/producers"
)

// TestDeadLetterTopicRefused: the dead-letter topic is missing and the broker refuses
// to create it; start-up stops with an error naming the topic, the variable and the
// ACL needed, instead of the first invalid record failing later.
func TestDeadLetterTopicRefused(t *testing.T) {
	for _, refusal := range []*kerr.Error{kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed} {
		t.Run(refusal.Message, func(t *testing.T) {
			s := newStack(t, 1, map[string]string{"SLUICE_DLQ_TOPIC": "dlq-refused"})
			s.kafka.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: "dlq-refused", Err: refusal, Count: -1})
			in, err := app.New(t.Context(), s.cfg, nil)
			if err == nil {
				in.Run(canceled())
				t.Fatal("start-up went on without a dead-letter topic")
			}
			t.Logf("start-up error: %v", err)
			for _, want := range []string{`"dlq-refused"`, "SLUICE_DLQ_TOPIC", "CREATE", "WRITE", "DESCRIBE", refusal.Message} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("start-up error %q does not name %s", err, want)
				}
			}
		})
	}
}

// TestDeadLetterTopicCreateRetried: a creation that times out (the broker may have
// created the topic or not) is tried again instead of stopping start-up; a
// replication factor the cluster cannot meet stops it, naming the variable.
func TestDeadLetterTopicCreateRetried(t *testing.T) {
	s := newStack(t, 1, map[string]string{"SLUICE_DLQ_TOPIC": "dlq-slow"})
	h := s.kafka.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: "dlq-slow", Err: kerr.RequestTimedOut, Count: 2})
	s.start(t, "a").stop(t)
	if h.Hits() != 2 {
		t.Errorf("%d creations timed out, want 2", h.Hits())
	}
	if s.kafka.Cluster().TopicInfo("dlq-slow") == nil {
		t.Error("dlq-slow was not created")
	}

	bad := newStack(t, 1, map[string]string{"SLUICE_DLQ_TOPIC": "dlq-rf", "SLUICE_DLQ_REPLICATION_FACTOR": "9"})
	in, err := app.New(t.Context(), bad.cfg, nil)
	if err == nil {
		in.Run(canceled())
		t.Fatal("start-up went on with an impossible replication factor")
	}
	for _, want := range []string{`"dlq-rf"`, "SLUICE_DLQ_REPLICATION_FACTOR=9", "INVALID_REPLICATION_FACTOR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start-up error %q does not name %s", err, want)
		}
	}
}

// canceled is a context that is already done.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestDeadLetterTopicCreated: a missing dead-letter topic is created at start-up with
// SLUICE_DLQ_PARTITIONS, and the invalid records of a mixed stream reach it.
func TestDeadLetterTopicCreated(t *testing.T) {
	s := newStack(t, 2, map[string]string{"SLUICE_DLQ_TOPIC": "dlq-new", "SLUICE_DLQ_PARTITIONS": "3"})
	if s.kafka.Cluster().TopicInfo("dlq-new") != nil {
		t.Fatal("dlq-new exists before start-up")
	}
	truth := s.publish(t, generator(t, 3, 1500, 500, 0.05, 0), 0)
	in := s.start(t, "a")
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	in.stop(t)
	ts, err := kadm.NewClient(s.kafka.Client(t)).ListTopics(t.Context(), "dlq-new")
	if err != nil || ts["dlq-new"].Err != nil || len(ts["dlq-new"].Partitions) != 3 {
		t.Fatalf("dead-letter topic after start-up: %+v, %v; want 3 partitions", ts["dlq-new"], err)
	}
	s.checkStored(t, truth)
	s.checkDeadLetters(t, s.invalidPositions(t, truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid), true)
}

// TestDeadLetterWritesFail: while Sluice runs, dead letters cannot be written (writes
// refused, no answer from the broker, or the topic deleted) and invalid records
// arrive on one partition. That
// partition is reported on /readyz and by sluice_partition_blocked, warned about at
// most once a minute, and committed no further than its first undelivered dead
// letter, while the other partitions flow; once writes succeed again it resumes by
// itself and everything ends exact.
func TestDeadLetterWritesFail(t *testing.T) {
	// faulted refuses every write to the dead-letter topic with err until the
	// returned fix is called.
	faulted := func(err *kerr.Error) func(*testing.T, *stack) func() {
		return func(t *testing.T, s *stack) func() {
			h := s.kafka.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: s.cfg.Kafka.DLQTopic, Err: err, Count: -1})
			t.Cleanup(h.Remove)
			return h.Remove
		}
	}
	for _, tc := range []struct {
		name string
		// break_ stops dead-letter writes and returns what makes them work again.
		break_ func(t *testing.T, s *stack) (fix func())
	}{
		{"writes refused", faulted(kerr.TopicAuthorizationFailed)},
		// A retriable error: the client keeps retrying and no answer comes, as
		// while the topic's leader is unreachable.
		{"no answer", faulted(kerr.NotEnoughReplicas)},
		{"topic deleted", func(t *testing.T, s *stack) func() {
			if err := s.kafka.Cluster().DeleteTopic(s.cfg.Kafka.DLQTopic); err != nil {
				t.Fatal(err)
			}
			return func() { s.kafka.CreateTopic(t, s.cfg.Kafka.DLQTopic, 1) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, 4, nil)
			var logs testsupport.SyncBuffer
			in := s.startLogged(t, "a", &logs)
			gen := generator(t, 5, 4000, 2000, 0, 0)
			s.publishSome(t, gen, 2000)
			waitFor(t, time.Minute, "the first records committed", func() bool { return s.committedAll(t) })

			fix := tc.break_(t, s)
			broken := time.Now()
			first := s.publishInvalid(t, "payments", 0, 5)
			s.publishSome(t, gen, 2000)

			url := "http://" + in.in.HTTPAddr()
			waitFor(t, time.Minute, "/readyz to name the blocked partition", func() bool {
				code, body := get(t, url+"/readyz")
				return code == 503 && strings.Contains(body, "payments/0 blocked (dead_letter)") && strings.Contains(body, "SLUICE_DLQ_TOPIC")
			})
			gauge := `sluice_partition_blocked{partition="0",reason="dead_letter",topic="payments"} 1`
			if _, body := get(t, url+"/metrics"); !strings.Contains(body, gauge) {
				t.Errorf("/metrics lacks %s", gauge)
			}
			waitFor(t, time.Minute, "every other partition committed to its end", func() bool {
				return s.lagExcept(t, "payments", 0) == 0
			})
			if c := s.committed(t, "payments", 0); c > first {
				t.Fatalf("payments/0 committed to %d, past its undelivered dead letter at %d", c, first)
			}

			s.publishSome(t, gen, 2000)
			fix()
			waitFor(t, 2*time.Minute, "all offsets committed after the fix", func() bool { return s.committedAll(t) })
			blockedFor := time.Since(broken)
			if code, body := get(t, url+"/readyz"); code != 200 {
				t.Errorf("/readyz after recovery: %d %s", code, body)
			}
			if _, body := get(t, url+"/metrics"); strings.Contains(body, "sluice_partition_blocked{") {
				t.Errorf("/metrics still reports a blocked partition after recovery")
			}
			in.stop(t)
			warns := regexp.MustCompile(`level=WARN msg="dead letters cannot be written.*topic=payments partition=0`).FindAllString(logs.String(), -1)
			if most := 1 + int(blockedFor/time.Minute); len(warns) == 0 || len(warns) > most {
				t.Errorf("%d warnings about the blocked partition in %s, want 1 to %d", len(warns), blockedFor.Round(time.Second), most)
			}
			if !strings.Contains(logs.String(), "the partition resumes") {
				t.Errorf("no log line says the partition resumed")
			}
			truth := gen.Truth()
			s.checkStored(t, truth)
			s.checkDeadLetters(t, s.invalidPositions(t, 5), false)
		})
	}
}

// TestDeadLetterOversized: records of 1 MB and 10 MB (over SLUICE_MAX_RECORD_BYTES) are
// dead-lettered with as much of their value as the dead-letter topic accepts, marked
// with their original size and hash, and Sluice goes on; with the broker's default
// limit a 1 MB record fits whole.
func TestDeadLetterOversized(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int // the dead-letter topic's max.message.bytes; 0 = the broker's default
	}{{"default limit", 0}, {"256KiB limit", 256 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			// The source topics take 32 MiB records; the dead-letter topic has
			// Kafka's default limit or a smaller one.
			kf := testenv.Kafka(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(32 << 20)}))
			limit := 1048588
			if tc.limit > 0 {
				limit = tc.limit
			}
			if err := kf.Cluster().CreateTopic("dlq-small", 1, map[string]string{"max.message.bytes": strconv.Itoa(limit)}); err != nil {
				t.Fatal(err)
			}
			s := buildStack(t, kf, testenv.ClickHouse(t), 2, map[string]string{"SLUICE_DLQ_TOPIC": "dlq-small"})
			if err := app.Migrate(t.Context(), s.cfg); err != nil {
				t.Fatal(err)
			}
			in := s.start(t, "a")
			gen := generator(t, 9, 500, 200, 0, 0)
			cl := s.kafka.Client(t, kgo.ProducerBatchMaxBytes(32<<20), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			sizes := []int{1_000_000, 10_000_000}
			values := map[int64][]byte{}
			for i, n := range sizes {
				v := bigRecord(n, uint64(i))
				r, err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "payments", Partition: 0, Key: []byte("big"), Value: v}).First()
				if err != nil {
					t.Fatal(err)
				}
				values[r.Offset] = v
			}
			truth := s.publish(t, gen, 0)
			waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
			in.stop(t)
			s.checkStored(t, truth)

			got := 0
			s.consumeAll(t, []string{"dlq-small"}, func(r *kgo.Record) {
				d, err := producers.ParseDeadLetter(r)
				if err != nil {
					t.Fatal(err)
				}
				orig, ok := values[d.SourceOffset]
				if !ok || d.SourcePartition != 0 {
					t.Errorf("dead letter of payments/%d@%d, which is not an oversized record", d.SourcePartition, d.SourceOffset)
					return
				}
				got++
				fits := tc.limit == 0 && len(orig) < 1<<20
				switch {
				case fits && (d.Truncated || !bytes.Equal(d.Value, orig)):
					t.Errorf("%d-byte record: truncated=%v, %d bytes kept; it fits whole", len(orig), d.Truncated, len(d.Value))
				case !fits:
					sum := sha256.Sum256(orig)
					if !d.Truncated || d.OriginalSize != len(orig) || d.OriginalSHA256 != hex.EncodeToString(sum[:]) || !bytes.HasPrefix(orig, d.Value) {
						t.Errorf("%d-byte record: truncated=%v original_size=%d sha256 ok=%v, %d bytes kept", len(orig), d.Truncated, d.OriginalSize,
							d.OriginalSHA256 == hex.EncodeToString(sum[:]), len(d.Value))
					}
				}
				if d.Reason != "too_large" {
					t.Errorf("%d-byte record dead-lettered as %q", len(orig), d.Reason)
				}
			})
			if got < len(sizes) {
				t.Errorf("%d dead letters of the %d oversized records", got, len(sizes))
			}
		})
	}
}

// bigRecord is n bytes that do not compress, starting like a payment.
func bigRecord(n int, seed uint64) []byte {
	b := make([]byte, n)
	copy(b, `{"event_id":"`)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := 13; i < n; i++ {
		b[i] = 'a' + byte(r.IntN(26))
	}
	return b
}

// publishInvalid writes n records that are not JSON to one partition and returns the
// offset of the first.
func (s *stack) publishInvalid(t *testing.T, topic string, partition int32, n int) int64 {
	t.Helper()
	cl := s.kafka.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	first := int64(-1)
	for i := range n {
		r, err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Partition: partition, Value: fmt.Appendf(nil, "not json %d", i)}).First()
		if err != nil {
			t.Fatal(err)
		}
		if first < 0 {
			first = r.Offset
		}
	}
	return first
}

// committed returns the group's committed offset of one partition (-1: none).
func (s *stack) committed(t *testing.T, topic string, partition int32) int64 {
	t.Helper()
	os, err := kadm.NewClient(s.kafka.Client(t)).FetchOffsets(t.Context(), s.cfg.Kafka.Group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := os.Lookup(topic, partition); ok {
		return o.At
	}
	return -1
}

// lagExcept is the group's uncommitted records over every source partition but one.
func (s *stack) lagExcept(t *testing.T, topic string, partition int32) int64 {
	t.Helper()
	lags, err := kadm.NewClient(s.kafka.Client(t)).Lag(t.Context(), s.cfg.Kafka.Group)
	if err != nil {
		return -1
	}
	var n int64
	for _, ps := range lags[s.cfg.Kafka.Group].Lag {
		for _, m := range ps {
			if m.Topic == topic && m.Partition == partition {
				continue
			}
			if m.Err != nil || m.Commit.At < 0 {
				return -1
			}
			n += m.Lag
		}
	}
	return n
}
