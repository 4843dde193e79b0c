package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPoisonMix publishes 20,000 invalid records (missing fields, deep nesting, bad
// enums, out-of-range values) interleaved with 25,000 valid events on 12 partitions
// and checks that every valid event is stored exactly once and every invalid record is
// dead-lettered. A few of the deeply nested ones are just under the broker's 1 MiB
// limit: their dead letters (the record plus Sluice's headers) exceeded the
// dead-letter producer's default batch limit of 1,000,012 bytes, and each stopped its
// partition.
func TestPoisonMix(t *testing.T) {
	const partitions, rounds, invalidPerRound = 12, 10, 2000
	s := newStack(t, partitions, nil)
	in := s.start(t, "a")
	gen := generator(t, 21, 18_000, 7_000, 0, 0)
	// Batches up to the broker's limit, so the near-limit records can be sent.
	cl := s.kafka.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(1_048_588))
	r := rand.New(rand.NewPCG(21, 1))
	for round := range rounds {
		s.publishSome(t, gen, 2500)
		recs := make([]*kgo.Record, invalidPerRound)
		for i := range recs {
			topic := "payments"
			if i%3 == 2 {
				topic = "shipments"
			}
			recs[i] = &kgo.Record{Topic: topic, Partition: int32(r.IntN(partitions)), Value: poison(r, topic, round*invalidPerRound+i)}
		}
		if round%2 == 0 {
			recs[0].Value = nearLimit(round)
		}
		if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 3*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	in.stop(t)
	truth := gen.Truth()
	s.checkStored(t, truth)
	s.checkDeadLetters(t, s.invalidPositions(t, rounds*invalidPerRound), true)
}

// poison returns an invalid event of topic: a required field missing, a deeply
// nested value, an unknown event type or a value out of range.
func poison(r *rand.Rand, topic string, n int) []byte {
	at := time.Now().UTC().Add(-time.Duration(r.IntN(3600)) * time.Second).Format(time.RFC3339Nano)
	fields := map[string]string{
		"event_id": fmt.Sprintf(`"poison-%d"`, n), "occurred_at": `"` + at + `"`,
	}
	var required []string
	if topic == "payments" {
		fields["event_type"], fields["merchant_id"], fields["amount_minor"], fields["currency"] = `"payment.captured"`, `"m_1"`, "1500", `"INR"`
		fields["method"], fields["risk_score"] = `"upi"`, "0.2"
		required = []string{"event_id", "event_type", "occurred_at", "merchant_id", "currency"}
	} else {
		fields["event_type"], fields["shipment_id"], fields["hub_id"], fields["carrier"] = `"shipment.scanned"`, `"s_1"`, `"h_1"`, `"bluedart"`
		fields["weight_grams"] = "1200"
		required = []string{"event_id", "event_type", "occurred_at", "shipment_id", "hub_id", "carrier"}
	}
	switch r.IntN(4) {
	case 0: // missing field
		delete(fields, required[r.IntN(len(required))])
	case 1: // deep nesting, sometimes deeper than any decoder allows
		depth := 1 + r.IntN(2000)
		if r.IntN(20) == 0 {
			depth = 2000 + r.IntN(20000)
		}
		if r.IntN(2) == 0 {
			fields["event_type"] = strings.Repeat("[", depth) + strings.Repeat("]", depth)
		} else {
			fields["event_type"] = strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
		}
	case 2: // bad enum
		fields["event_type"] = fmt.Sprintf(`"%s.unknown_%d"`, strings.TrimSuffix(topic, "s"), r.IntN(5))
	case 3: // out of range
		if topic == "payments" {
			fields[[]string{"amount_minor", "risk_score"}[r.IntN(2)]] = []string{"-5", "1e300", "7.5"}[r.IntN(3)]
		} else {
			fields["weight_grams"] = []string{"-1", "1e300", "99999999999999999999999"}[r.IntN(3)]
		}
	}
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for k, v := range fields {
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// nearLimit is a deeply nested payment of about 1,040,000 bytes: under the broker's
// default max.message.bytes (1,048,588) with room for little more than its batch.
func nearLimit(n int) []byte {
	depth := (1_040_000 - 200) / 2
	return fmt.Appendf(nil, `{"event_id":"near-limit-%d","event_type":%s%s}`, n, strings.Repeat("[", depth), strings.Repeat("]", depth))
}
