package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/producers/loadgen"
)

// TestRealProducers publishes the way upstream services do, all on the same
// partitions at once: four plain producers, each compressing with another codec
// (gzip, snappy, lz4, zstd), and a transactional producer that aborts every batch it
// sends once and then sends it again in a transaction it commits. The broker answers
// produce requests with a retriable error after appending them, so the idempotent
// producers retry. Aborted records must never be counted and committed ones exactly
// once. The producer-duplicate filter is off, so an aborted record that slipped
// through, or a retry the broker stored twice, would show as a doubled event.
func TestRealProducers(t *testing.T) {
	s := newStack(t, 4, map[string]string{"SLUICE_DEDUP_HORIZON": "0"})
	gen := generator(t, 41, 6000, 3000, 0.03, 0)

	// Retries of appended produce requests: the work happens, the answer is an error.
	retried := s.kafka.Cluster().Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.Produce},
		Err:   kerr.NotEnoughReplicasAfterAppend,
		Count: 12,
	})

	codecs := []kgo.CompressionCodec{kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
	var plain []*kgo.Client
	for _, c := range codecs {
		plain = append(plain, s.kafka.Client(t, kgo.ProducerBatchCompression(c), kgo.ProducerLinger(5*time.Millisecond)))
	}
	txn := s.kafka.Client(t, kgo.TransactionalID("e2e-txn-"+s.ch.Database), kgo.ProducerBatchCompression(kgo.ZstdCompression()))

	var (
		mu      sync.Mutex
		invalid = map[position]bool{}
		failed  error
	)
	// track records where an invalid record that will stay visible landed.
	track := func(kind loadgen.Kind) func(*kgo.Record, error) {
		return func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && failed == nil {
				failed = err
			}
			if err == nil && kind == loadgen.Invalid {
				invalid[position{r.Topic, r.Partition, r.Offset}] = true
			}
		}
	}
	ctx := t.Context()
	const chunk = 40
	var recs []loadgen.Record
	for i := 0; ; i++ {
		recs = recs[:0]
		for range chunk {
			r, ok := gen.Next()
			if !ok {
				break
			}
			recs = append(recs, r)
		}
		if len(recs) == 0 {
			break
		}
		if i%5 < 4 {
			cl := plain[i%5]
			for _, r := range recs {
				cl.Produce(ctx, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}, track(r.Kind))
			}
			continue
		}
		// The transactional producer: the same records aborted once, then committed.
		for _, commit := range []kgo.TransactionEndTry{kgo.TryAbort, kgo.TryCommit} {
			if err := txn.BeginTransaction(); err != nil {
				t.Fatalf("begin transaction: %v", err)
			}
			for _, r := range recs {
				rec := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
				if commit {
					txn.Produce(ctx, rec, track(r.Kind))
				} else {
					txn.Produce(ctx, rec, track(loadgen.Valid))
				}
			}
			if err := txn.Flush(ctx); err != nil {
				t.Fatalf("flush transaction: %v", err)
			}
			if err := txn.EndTransaction(ctx, commit); err != nil {
				t.Fatalf("end transaction (commit=%v): %v", commit, err)
			}
		}
	}
	for _, cl := range plain {
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
	if failed != nil {
		t.Fatalf("publish: %v", failed)
	}
	if retried.Hits() == 0 {
		t.Fatal("no produce request was answered with a retriable error: the retry path was not exercised")
	}
	truth := gen.Truth()
	if int64(len(invalid)) != truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid {
		t.Fatalf("tracked %d invalid records, the generator sent %d", len(invalid), truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid)
	}

	// A partition whose last records are a transaction's ends with its commit
	// marker, which no record marks for commit, so the group's lag there stays 1:
	// wait for every visible record to be stored or dead-lettered instead.
	in := s.start(t, "a")
	st := in.in.Stats()
	visible := truth.PaymentCounts.Records + truth.ShipmentCounts.Records
	waitFor(t, 2*time.Minute, "every visible record stored or dead-lettered", func() bool { return st.Committable.Load() >= visible })
	in.stop(t)
	s.checkStored(t, truth)
	s.checkDeadLetters(t, invalid, true)
	t.Logf("records %d (valid %d, invalid %d), %d produce requests retried", st.Records.Load(), st.Valid.Load(), st.Invalid.Load(), retried.Hits())
	if st.Records.Load() != truth.PaymentCounts.Records+truth.ShipmentCounts.Records {
		t.Errorf("Sluice read %d records, the committed and plain producers published %d", st.Records.Load(), truth.PaymentCounts.Records+truth.ShipmentCounts.Records)
	}
}

// TestKcatProducer publishes through kcat (librdkafka), a non-Go client, with lz4
// compression and idempotence on, and checks that every event is stored exactly once.
func TestKcatProducer(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat not found: this test publishes through librdkafka (apt-get install -y kcat; scripts/test.sh does it)")
		}
		t.Skip("kcat not found; install it (apt-get install -y kcat) to test a non-Go producer")
	}
	// kcat stamps records with the wall clock, months after the generator's event
	// times: judge them as a backfill.
	s := newStack(t, 3, map[string]string{"SLUICE_MAX_LATENESS": "0"})
	gen := generator(t, 43, 3000, 1500, 0, 0.01)
	lines := map[string]*bytes.Buffer{"payments": {}, "shipments": {}}
	for {
		r, ok := gen.Next()
		if !ok {
			break
		}
		if bytes.ContainsAny(r.Key, "|\n") || bytes.ContainsRune(r.Value, '\n') {
			t.Fatalf("record %q cannot be written as one kcat line", r.Value)
		}
		b := lines[r.Topic]
		b.Write(r.Key)
		b.WriteByte('|')
		b.Write(r.Value)
		b.WriteByte('\n')
	}
	for topic, b := range lines {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		cmd := exec.CommandContext(ctx, kcat, "-P", "-b", strings.Join(s.kafka.Brokers(), ","), "-t", topic,
			"-K", "|", "-z", "lz4", "-X", "enable.idempotence=true")
		cmd.Stdin = b
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("kcat -P %s: %v\n%s", topic, err, out)
		}
	}
	in := s.start(t, "a")
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	in.stop(t)
	s.checkStored(t, gen.Truth())
}
