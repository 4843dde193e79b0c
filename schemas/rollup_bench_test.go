package schemas

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// highCardPayments returns n full payments whose rollup keys almost never repeat:
// 10,000 merchants × 4 currencies × 4 methods × 3 event types over 60 one-minute
// windows, drawn uniformly (about one rollup row per event in a batch of 10,000).
func highCardPayments(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	currencies := []string{"INR", "USD", "EUR", "SGD"}
	methods := []string{"upi", "card", "netbanking", "wallet"}
	types := []string{PaymentCaptured, "payment.failed", "payment.refunded"}
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"event_id":"01J9Z3K7Q4W8X2YF5T%08d","event_type":%q,`+
			`"occurred_at":"2026-03-01T10:%02d:%02d.123Z","merchant_id":"merchant-%06d","customer_id":"cust-%07d",`+
			`"amount_minor":%d,"currency":%q,"method":%q,"status":"success","country":"IN","city":"Bengaluru",`+
			`"risk_score":0.0731,"metadata":{"order_id":"ord-7781-2231-99","channel":"mobile_app"}}`,
			i, types[rng.IntN(len(types))], rng.IntN(60), rng.IntN(60), rng.IntN(10000), rng.IntN(10000000),
			rng.Int64N(1000000), currencies[rng.IntN(len(currencies))], methods[rng.IntN(len(methods))])
	}
	return recs
}

// BenchmarkHighCardFlush is BenchmarkBatchFlush on the runtime payment type with
// records whose rollup keys almost never repeat (highCardPayments), in 10,000-event
// flushes that build their Blocks:
// go test -run '^$' -bench HighCard -benchmem -count 5 ./schemas/
func BenchmarkHighCardFlush(b *testing.B) { benchHighCard(b, 10000, false) }

// BenchmarkColdFlush is BenchmarkHighCardFlush with a new batch for every
// 40,000-event flush, as the first batches of a partition's worker: the columns
// grow from empty.
func BenchmarkColdFlush(b *testing.B) { benchHighCard(b, 40000, true) }

func benchHighCard(b *testing.B, flush int, cold bool) {
	pay := BuiltinType(b, "payment")
	recs := highCardPayments(40000)
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"raw", Options{Raw: true, SkipRollups: true}},
		{"rollup", Options{}},
		{"raw+rollup", Options{Raw: true}},
	} {
		var renew func() Batch
		if cold {
			renew = func() Batch { return pay.NewBatch(c.o) }
		}
		b.Run(c.name, func(b *testing.B) { benchAddAll(b, pay.NewBatch(c.o), recs, flush, true, renew) })
	}
}
