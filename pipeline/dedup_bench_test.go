package pipeline

import (
	"fmt"
	"strconv"
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
		if err := batch.Add(recs[off%ids], &m); err != nil {
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
// every id new, or every eighth a repeat of the id 1,000 events earlier; with one
// partition (the filter fits in the CPU's caches) or eight taking turns (the
// defaults' 18 MB of filters, mostly not).
func BenchmarkDedupAdmit(b *testing.B) {
	const capIDs = 50_000
	ids := make([]string, 1<<19) // more than 8 filters' caps
	for i := range ids {
		ids[i] = "01J9Z3K7Q4W8X2YF5T6R" + strconv.Itoa(i)
	}
	for _, parts := range []int{1, 8} {
		for _, every := range []int{0, 8} {
			b.Run(fmt.Sprintf("partitions=%d/dup=%d", parts, every), func(b *testing.B) {
				ds := make([]*dedup, parts)
				for k := range ds {
					ds[k] = newDedup(24*time.Hour, capIDs, false)
				}
				admit := func(i int) {
					id := ids[i%len(ids)]
					if every > 0 && i%every == 0 {
						id = ids[(i+len(ids)-1000*parts)%len(ids)]
					}
					ds[i%parts].Admit(id, int64(i), 0)
				}
				i := 0
				for ; i < 2*capIDs*parts; i++ { // fill to the cap, forgetting
					admit(i)
				}
				b.ReportAllocs()
				for b.Loop() {
					admit(i)
					i++
				}
			})
		}
	}
}

// BenchmarkTypeBatchAddDedupFull is the builtin payment type's raw batch with
// eight full producer-duplicate filters (the default cap each) taking turns, as
// eight partitions' workers do: every id new, so each admit probes an index
// mostly not in the CPU's caches.
func BenchmarkTypeBatchAddDedupFull(b *testing.B) {
	const capIDs, parts, flush = 50_000, 8, 2048
	var pay *schemas.EventType
	for _, t := range schemas.BuiltinEventTypes() {
		if t.Name() == "payment" {
			pay = t
		}
	}
	recs := make([][]byte, 1<<12)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"event_id":"01J9Z3K7Q4W8X2YF5T6R%06d","event_type":"payment.captured",`+
			`"occurred_at":"2026-03-01T10:15:30.123Z","merchant_id":"merchant-%04d","customer_id":"cust-0098127",`+
			`"amount_minor":249900,"currency":"INR","method":"upi","status":"success","country":"IN","city":"Bengaluru",`+
			`"risk_score":0.0731,"metadata":{"order_id":"ord-7781-2231-99","channel":"mobile_app"}}`, i, i%200)
	}
	ds := make([]*dedup, parts)
	batches := make([]schemas.Batch, parts)
	for k := range ds {
		ds[k] = newDedup(24*time.Hour, capIDs, false)
		for i := range 2 * capIDs { // full, forgetting
			ds[k].Admit("fill-"+strconv.Itoa(k)+"-"+strconv.Itoa(i), 0, 0)
		}
		batches[k] = pay.NewBatch(schemas.Options{Raw: true, SkipRollups: true, Dedup: ds[k]})
	}
	ts := time.Date(2026, 3, 1, 10, 15, 31, 0, time.UTC)
	b.SetBytes(int64(len(recs[0])))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		k := n % parts
		rec := recs[(n/parts)%len(recs)]
		for j, v := len(`{"event_id":"01J9Z3K7Q4W8X2YF5T6R`)+5, n; j >= len(`{"event_id":"01J9Z3K7Q4W8X2YF5T6R`); j, v = j-1, v/10 {
			rec[j] = byte('0' + v%10) // a new id: n's last six digits
		}
		m := schemas.Meta{Topic: "payments", Partition: int32(k), Offset: int64(n), Timestamp: ts}
		if err := batches[k].Add(rec, &m); err != nil {
			b.Fatal(err)
		}
		if n++; n%(flush*parts) == 0 {
			for _, bt := range batches {
				bt.Blocks()
				bt.Reset()
			}
		}
	}
}
