package schemas

import "testing"

// BenchmarkBatchFlush is Add plus the share of Blocks and Reset of a 2048-event
// flush (pipeline's MaxRows in BenchmarkWorkerPayments), per event: unlike
// BenchmarkPaymentBatchAdd it includes the work Blocks does for each row. The
// type/…/marked runs give the runtime batch a flush token, as the pipeline does
// on one server (FlushMarker), against the same batch unmarked:
// go test -run '^$' -bench 'BatchFlush/type' -count 5 ./schemas/
func BenchmarkBatchFlush(b *testing.B) {
	b.Run("payment/raw", func(b *testing.B) { benchAdd(b, NewPaymentBatch(Options{Raw: true}), benchPayment, 2048, true) })
	b.Run("payment/rollup", func(b *testing.B) { benchAdd(b, NewPaymentBatch(Options{}), benchPayment, 2048, true) })
	b.Run("shipment/raw", func(b *testing.B) { benchAdd(b, NewShipmentBatch(Options{Raw: true}), benchShipment, 2048, true) })
	pay := BuiltinType(b, "payment")
	b.Run("type/payment/rollup", func(b *testing.B) { benchAdd(b, pay.NewBatch(Options{}), benchPayment, 2048, true) })
	b.Run("type/payment/rollup/marked", func(b *testing.B) { benchAdd(b, markedBatch{pay.NewBatch(Options{})}, benchPayment, 2048, true) })
}

// markedBatch marks every Blocks call with a flush token.
type markedBatch struct{ Batch }

func (m markedBatch) Blocks() []Block {
	m.Batch.(FlushMarker).SetFlush("sluice:payments@Zm9vYmFyYmF6cXV4:0:1000000-1002047")
	return m.Batch.Blocks()
}
