package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// BenchmarkPaymentBatchAddDedup is schemas' BenchmarkPaymentBatchAdd/raw with the
// worker's producer-duplicate filter in the batch: every event is admitted (ids
// repeat only beyond the horizon), its id copied for the event-ids block, and the
// filter pruned at each 2048-event flush, as the worker does.
func BenchmarkPaymentBatchAddDedup(b *testing.B) {
	const ids, flush = 4096, 2048
	recs := make([][]byte, ids)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"event_id":"01J9Z3K7Q4W8X2YF5T6R%06d","event_type":"payment.captured",`+
			`"occurred_at":"2026-03-01T10:15:30.123Z","merchant_id":"merchant-%04d","customer_id":"cust-0098127",`+
			`"amount_minor":249900,"currency":"INR","method":"upi","status":"success","country":"IN","city":"Bengaluru",`+
			`"risk_score":0.0731,"metadata":{"order_id":"ord-7781-2231-99","channel":"mobile_app"}}`, i, i%200)
	}
	d := newDedup(time.Nanosecond, 0, true)
	batch := schemas.NewPaymentBatch(schemas.Options{Raw: true, Dedup: d})
	b.SetBytes(int64(len(recs[0])))
	b.ReportAllocs()
	m := schemas.Meta{Topic: "payments", Partition: 1, IngestedAt: time.Unix(1, 0)}
	var off int64
	for b.Loop() {
		m.Offset, m.Timestamp = off, time.Unix(off, 0)
		if err := batch.Add(recs[off%ids], m); err != nil {
			b.Fatal(err)
		}
		if off++; off%flush == 0 {
			batch.Blocks()
			batch.Reset()
			d.pending.reset()
			d.prune(m.Timestamp.UnixNano())
		}
	}
}

// BenchmarkDedupAdmit is the producer-duplicate filter alone at the default cap of
// a partition (membudget.MinDedupIDs), full and forgetting an id per admitted one:
// every id new, or every eighth a repeat of the id 1,000 events earlier.
func BenchmarkDedupAdmit(b *testing.B) {
	const n, capIDs = 1 << 18, 50_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("01J9Z3K7Q4W8X2YF5T6R%06d", i)
	}
	for _, every := range []int{0, 8} {
		b.Run(fmt.Sprintf("dup=%d", every), func(b *testing.B) {
			d := newDedup(24*time.Hour, capIDs, false)
			for i := range 2 * capIDs { // fill to the cap, forgetting
				d.Admit(ids[i%n], int64(i), 0)
			}
			b.ReportAllocs()
			i := 2 * capIDs
			for b.Loop() {
				id := ids[i%n]
				if every > 0 && i%every == 0 {
					id = ids[(i-1000)%n]
				}
				d.Admit(id, int64(i), 0)
				i++
			}
		})
	}
}
