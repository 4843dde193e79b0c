package schemas

import (
	"testing"
	"time"
)

// BenchmarkBatchFlush is Add plus the share of Blocks and Reset of a 2048-event
// flush (pipeline's MaxRows in BenchmarkWorkerPayments), per event: unlike
// BenchmarkPaymentBatchAdd it includes the work Blocks does for each row.
func BenchmarkBatchFlush(b *testing.B) {
	run := func(b *testing.B, batch Batch, rec []byte) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		m := Meta{Topic: "t", Partition: 1, IngestedAt: time.Unix(1, 0)}
		n := 0
		for b.Loop() {
			if err := batch.Add(rec, m); err != nil {
				b.Fatal(err)
			}
			if n++; n == 2048 {
				batch.Blocks()
				batch.Reset()
				n = 0
			}
		}
	}
	b.Run("payment/raw", func(b *testing.B) { run(b, NewPaymentBatch(Options{Raw: true}), benchPayment) })
	b.Run("payment/rollup", func(b *testing.B) { run(b, NewPaymentBatch(Options{}), benchPayment) })
	b.Run("shipment/raw", func(b *testing.B) { run(b, NewShipmentBatch(Options{Raw: true}), benchShipment) })
}
