package producers_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
)

// TestDeadLettersTruncateToTopicLimit sends dead letters of 1 MB and 10 MB sources to
// a topic whose max.message.bytes is far below them: each is delivered with the first
// bytes of its value, marked with its original size and hash; a small one is not
// touched.
func TestDeadLettersTruncateToTopicLimit(t *testing.T) {
	const limit = 64 << 10
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.CreateTopic("dlq", 1, map[string]string{"max.message.bytes": strconv.Itoa(limit)}); err != nil {
		t.Fatal(err)
	}
	addrs := c.ListenAddrs()
	cl := newClient(t, addrs, kgo.ProducerBatchMaxBytes(limit))
	dl := producers.NewDeadLetters(cl, "dlq", producers.ConsumerGroup("g"), producers.MaxRecordBytes(limit))

	// Without truncation the broker refuses the big ones: the limit is real.
	big := &kgo.Record{Topic: "dlq", Value: noise(2*limit, 99)}
	if err := newClient(t, addrs).ProduceSync(t.Context(), big).FirstErr(); err == nil {
		t.Fatal("the broker accepted a record over max.message.bytes; the test cannot show truncation")
	}

	sizes := []int{10, 1_000_000, 10_000_000, limit - 600}
	for i, n := range sizes {
		src := &kgo.Record{Topic: "payments", Partition: 1, Offset: int64(i), Key: []byte("m_1"), Value: noise(n, uint64(i)),
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}}}
		errc := make(chan error, 1)
		dl.Send(t.Context(), src, "too_large", "record is 1000000 bytes", func(err error) { errc <- err })
		if err := <-errc; err != nil {
			t.Fatalf("send %d bytes: %v", n, err)
		}
	}
	for _, r := range consume(t.Context(), t, addrs, "dlq", len(sizes)) {
		d, err := producers.ParseDeadLetter(r)
		if err != nil {
			t.Fatal(err)
		}
		n := sizes[d.SourceOffset]
		orig := noise(n, uint64(d.SourceOffset))
		if string(r.Key) != "m_1" || len(d.Headers) != 1 || d.Headers[0].Key != "trace" {
			t.Errorf("source %d: key %q, headers %v: the key and the source headers must be kept", n, r.Key, d.Headers)
		}
		if n < limit {
			if d.Truncated || !bytes.Equal(d.Value, orig) {
				t.Errorf("source of %d bytes: truncated=%v, value of %d bytes; want it unchanged", n, d.Truncated, len(d.Value))
			}
			continue
		}
		sum := sha256.Sum256(orig)
		if !d.Truncated || d.OriginalSize != n || d.OriginalSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("source of %d bytes: truncated=%v original_size=%d sha256=%s", n, d.Truncated, d.OriginalSize, d.OriginalSHA256)
		}
		if !bytes.HasPrefix(orig, d.Value) || len(d.Value) < limit-1024 || len(d.Value) >= limit {
			t.Errorf("source of %d bytes: kept %d bytes, want the first bytes that fit %d", n, len(d.Value), limit)
		}
	}
}

// noise returns n incompressible bytes, the same for the same seed.
func noise(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
