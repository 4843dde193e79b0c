package producers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/producers"
)

func TestDeadLetterRoundTrip(t *testing.T) {
	addrs := newCluster(t, "payments", "dlq")
	cl := newClient(t, addrs)
	ctx := t.Context()
	failedAt := time.Date(2026, 1, 5, 9, 30, 0, 123456789, time.UTC)
	dl := producers.NewDeadLetters(cl, "dlq", producers.ConsumerGroup("sluice-rollups"),
		producers.Clock(func() time.Time { return failedAt }))

	// The source records as a consumer would have read them.
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "payments", Key: []byte("m_1"), Value: []byte(`{"event_id":`)},
		&kgo.Record{Topic: "payments", Key: []byte("m_2"), Value: []byte{0x08, 0xff},
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}, {Key: "sluice.reason", Value: []byte("upstream")}}},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	srcs := consume(ctx, t, addrs, "payments", 2)

	var wg sync.WaitGroup
	errs := make([]error, len(srcs))
	calls := make([]int, len(srcs))
	for i, src := range srcs {
		wg.Add(1)
		dl.Send(ctx, src, "malformed_json", fmt.Sprint("detail ", i), func(err error) {
			errs[i] = err
			calls[i]++
			wg.Done()
		})
	}
	wg.Wait()
	for i := range srcs {
		if errs[i] != nil || calls[i] != 1 {
			t.Fatalf("send %d: err=%v calls=%d", i, errs[i], calls[i])
		}
	}

	got := consume(ctx, t, addrs, "dlq", len(srcs))
	for _, r := range got {
		d, err := producers.ParseDeadLetter(r)
		if err != nil {
			t.Fatal(err)
		}
		var src *kgo.Record
		for _, s := range srcs {
			if s.Partition == d.SourcePartition && s.Offset == d.SourceOffset {
				src = s
			}
		}
		if src == nil {
			t.Fatalf("dead letter points at payments/%d@%d, which was not sent", d.SourcePartition, d.SourceOffset)
		}
		if !bytes.Equal(r.Key, src.Key) || !bytes.Equal(r.Value, src.Value) || !bytes.Equal(d.Value, src.Value) {
			t.Errorf("key/value changed: %q/%q, want %q/%q", r.Key, r.Value, src.Key, src.Value)
		}
		if d.Reason != "malformed_json" || d.SourceTopic != "payments" || d.Group != "sluice-rollups" ||
			!d.FailedAt.Equal(failedAt) || d.Detail[:7] != "detail " || !d.SourceTimestamp.Equal(src.Timestamp.Truncate(time.Millisecond)) ||
			d.SourceTimestamp.IsZero() {
			t.Errorf("parsed %+v", d)
		}
		if len(d.Headers) != len(src.Headers) {
			t.Fatalf("original headers %v, want %v", d.Headers, src.Headers)
		}
		for i, h := range src.Headers {
			if d.Headers[i].Key != h.Key || !bytes.Equal(d.Headers[i].Value, h.Value) {
				t.Errorf("header %d = %v, want %v", i, d.Headers[i], h)
			}
		}
	}
}

func TestDeadLettersConcurrentSenders(t *testing.T) {
	addrs := newCluster(t, producers.DefaultDeadLetterTopic)
	cl := newClient(t, addrs)
	dl := producers.NewDeadLetters(cl, "")
	if dl.Topic() != producers.DefaultDeadLetterTopic {
		t.Fatalf("default topic %q", dl.Topic())
	}
	const workers, per = 8, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures int
	for w := range workers {
		for i := range per {
			wg.Add(1)
			src := &kgo.Record{Topic: "shipments", Partition: int32(w), Offset: int64(i), Value: []byte("x")}
			dl.Send(t.Context(), src, "bad_enum", "", func(err error) {
				if err != nil {
					mu.Lock()
					failures++
					mu.Unlock()
				}
				wg.Done()
			})
		}
	}
	wg.Wait()
	if failures != 0 {
		t.Fatalf("%d sends failed", failures)
	}
	seen := map[[2]int64]bool{}
	for _, r := range consume(t.Context(), t, addrs, producers.DefaultDeadLetterTopic, workers*per) {
		d, err := producers.ParseDeadLetter(r)
		if err != nil {
			t.Fatal(err)
		}
		seen[[2]int64{int64(d.SourcePartition), d.SourceOffset}] = true
	}
	if len(seen) != workers*per {
		t.Fatalf("%d distinct sources, want %d", len(seen), workers*per)
	}
}

func TestParseDeadLetterRejectsOrdinaryRecords(t *testing.T) {
	for _, r := range []*kgo.Record{
		{Value: []byte("x")},
		{Headers: []kgo.RecordHeader{{Key: producers.HeaderReason, Value: []byte("r")}}},
		{Headers: []kgo.RecordHeader{
			{Key: producers.HeaderReason, Value: []byte("r")}, {Key: producers.HeaderSourceTopic, Value: []byte("t")},
			{Key: producers.HeaderSourcePartition, Value: []byte("zero")}, {Key: producers.HeaderSourceOffset, Value: []byte("1")},
		}},
	} {
		if _, err := producers.ParseDeadLetter(r); !errors.Is(err, producers.ErrNotDeadLetter) {
			t.Errorf("%v: got %v, want ErrNotDeadLetter", r.Headers, err)
		}
	}
}

func BenchmarkDeadLettersSend(b *testing.B) {
	addrs := newCluster(b, producers.DefaultDeadLetterTopic)
	cl := newClient(b, addrs)
	dl := producers.NewDeadLetters(cl, "", producers.ConsumerGroup("g"))
	src := &kgo.Record{Topic: "payments", Partition: 2, Offset: 123456, Key: []byte("m_1"), Value: bytes.Repeat([]byte("x"), 360)}
	ctx := context.Background()
	var wg sync.WaitGroup
	done := func(error) { wg.Done() }
	b.ReportAllocs()
	b.SetBytes(int64(len(src.Value)))
	for b.Loop() {
		wg.Add(1)
		dl.Send(ctx, src, "malformed_json", "unexpected end of input", done)
	}
	wg.Wait()
}
