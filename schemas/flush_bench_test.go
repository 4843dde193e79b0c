package schemas

import "testing"

// BenchmarkBatchFlush is Add plus the share of Blocks and Reset of a 2048-event
// flush (pipeline's MaxRows in BenchmarkWorkerPayments), per event: unlike
// BenchmarkPaymentBatchAdd it includes the work Blocks does for each row.
func BenchmarkBatchFlush(b *testing.B) {
	b.Run("payment/raw", func(b *testing.B) { benchAdd(b, NewPaymentBatch(Options{Raw: true}), benchPayment, 2048, true) })
	b.Run("payment/rollup", func(b *testing.B) { benchAdd(b, NewPaymentBatch(Options{}), benchPayment, 2048, true) })
	b.Run("shipment/raw", func(b *testing.B) { benchAdd(b, NewShipmentBatch(Options{Raw: true}), benchShipment, 2048, true) })
}
