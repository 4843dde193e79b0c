package schemas

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// benchPayment is a realistic ~360-byte payment with metadata.
var benchPayment = []byte(`{"event_id":"01J9Z3K7Q4W8X2YF5T6R0M1N2P","event_type":"payment.captured",` +
	`"occurred_at":"2026-03-01T10:15:30.123+05:30","merchant_id":"merchant-000421","customer_id":"cust-0098127",` +
	`"amount_minor":249900,"currency":"INR","method":"upi","status":"success","country":"IN","city":"Bengaluru",` +
	`"risk_score":0.0731,"metadata":{"order_id":"ord-7781-2231-99","channel":"mobile_app"}}`)

var benchShipment = []byte(`{"event_id":"01J9Z3K7Q4W8X2YF5T6R0M1N2Q","event_type":"shipment.scanned",` +
	`"occurred_at":"2026-03-01T10:15:30.123Z","shipment_id":"SHP-000918273","hub_id":"BLR-HUB-04",` +
	`"carrier":"bluedart","route":"BLR-DEL","weight_grams":1450,"lat":12.9716,"lon":77.5946,"eta_minutes":185}`)

func BenchmarkDecodePayment(b *testing.B) {
	var p Payment
	b.SetBytes(int64(len(benchPayment)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodePayment(benchPayment, &p, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeShipment(b *testing.B) {
	var s Shipment
	b.SetBytes(int64(len(benchShipment)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeShipment(benchShipment, &s, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchAdd adds rec to batch b.N times, emptying it every flush events; with
// blocks, each flush also builds its Blocks, as a real flush does.
// It also reports cpu-ns/op, the benchmark thread's CPU time per add, which a
// loaded machine disturbs much less than ns/op.
func benchAdd(b *testing.B, batch Batch, rec []byte, flush int, blocks bool) {
	benchAddAll(b, batch, [][]byte{rec}, flush, blocks, nil)
}

// benchAddAll is benchAdd cycling through recs; renew, if not nil, replaces the
// batch after every flush instead of resetting it.
func benchAddAll(b *testing.B, batch Batch, recs [][]byte, flush int, blocks bool, renew func() Batch) {
	size := 0
	for _, r := range recs {
		size += len(r)
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu := threadCPU()
	defer func() {
		if used := threadCPU() - cpu; used > 0 {
			b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
		}
	}()
	m := Meta{Topic: "t", Partition: 1, IngestedAt: time.Unix(1, 0)}
	n, i := 0, 0
	for b.Loop() {
		if err := batch.Add(recs[i], &m); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(recs) {
			i = 0
		}
		if n++; n == flush {
			if blocks {
				batch.Blocks()
			}
			if renew != nil {
				batch = renew()
			} else {
				batch.Reset()
			}
			n = 0
		}
	}
}

func BenchmarkPaymentBatchAdd(b *testing.B) {
	b.Run("raw", func(b *testing.B) { benchAdd(b, NewPaymentBatch(Options{Raw: true}), benchPayment, 10000, false) })
	b.Run("rollup", func(b *testing.B) { benchAdd(b, NewPaymentBatch(Options{}), benchPayment, 10000, false) })
}

// BenchmarkTypeBatchAdd is BenchmarkPaymentBatchAdd (and Shipment) with the
// runtime-compiled built-in types.
func BenchmarkTypeBatchAdd(b *testing.B) {
	pay, ship := BuiltinType(b, "payment"), BuiltinType(b, "shipment")
	b.Run("payments/raw", func(b *testing.B) { benchAdd(b, pay.NewBatch(Options{Raw: true}), benchPayment, 10000, false) })
	b.Run("payments/rollup", func(b *testing.B) { benchAdd(b, pay.NewBatch(Options{}), benchPayment, 10000, false) })
	b.Run("shipments/raw", func(b *testing.B) { benchAdd(b, ship.NewBatch(Options{Raw: true}), benchShipment, 10000, false) })
	b.Run("shipments/rollup", func(b *testing.B) { benchAdd(b, ship.NewBatch(Options{}), benchShipment, 10000, false) })
}

// BenchmarkBatchAddSideBySide alternates the hand-written and the runtime batches
// in one run, so that on a shared machine both see the same load:
// go test -run '^$' -bench SideBySide -count 5 ./schemas/
func BenchmarkBatchAddSideBySide(b *testing.B) {
	pay, ship := BuiltinType(b, "payment"), BuiltinType(b, "shipment")
	for _, c := range []struct {
		name      string
		hand, typ func(Options) Batch
		rec       []byte
		o         Options
	}{
		{"payments/raw", NewPaymentBatch, pay.NewBatch, benchPayment, Options{Raw: true}},
		{"payments/rollup", NewPaymentBatch, pay.NewBatch, benchPayment, Options{}},
		{"shipments/raw", NewShipmentBatch, ship.NewBatch, benchShipment, Options{Raw: true}},
		{"shipments/rollup", NewShipmentBatch, ship.NewBatch, benchShipment, Options{}},
	} {
		b.Run(c.name+"/hand", func(b *testing.B) { benchAdd(b, c.hand(c.o), c.rec, 10000, false) })
		b.Run(c.name+"/type", func(b *testing.B) { benchAdd(b, c.typ(c.o), c.rec, 10000, false) })
	}
}

func BenchmarkShipmentBatchAdd(b *testing.B) {
	b.Run("raw", func(b *testing.B) { benchAdd(b, NewShipmentBatch(Options{Raw: true}), benchShipment, 10000, false) })
	b.Run("rollup", func(b *testing.B) { benchAdd(b, NewShipmentBatch(Options{}), benchShipment, 10000, false) })
}

// BenchmarkPaymentBlocks builds the blocks of a 10000-event batch with 1000 rollup keys.
func BenchmarkPaymentBlocks(b *testing.B) {
	batch := NewPaymentBatch(Options{Raw: true})
	for i := range 10000 {
		rec := payRec(fmt.Sprint(i), fmt.Sprintf("2026-03-01T10:%02d:00Z", i%10), fmt.Sprintf("m%d", i%100), "INR", "upi", PaymentCaptured, int64(i))
		if err := batch.Add(rec, &Meta{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		batch.Blocks()
	}
}

// variedPayments are n payments shaped like the load generator's: distinct ids,
// a few hundred merchants, skewed currencies and methods, dozens of cities, event
// times a few hundred milliseconds apart on one day, two metadata entries.
func variedPayments(n int) [][]byte {
	types := []string{"payment.authorized", "payment.captured", "payment.failed", "payment.refunded"}
	currencies := []string{"INR", "INR", "INR", "INR", "USD", "EUR", "GBP", "SGD"}
	methods := []string{"upi", "upi", "card", "netbanking", "wallet"}
	statuses := []string{"authorized", "captured", "failed", "refunded"}
	cities := []string{"Bengaluru", "Mumbai", "Delhi", "Chennai", "Hyderabad", "Pune", "Kolkata", "Ahmedabad", "Jaipur",
		"Lucknow", "Nagpur", "Bhubaneswar", "Indore", "Kochi", "Surat", "Patna", "London", "Singapore", "Berlin", "New York"}
	t := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		m := i * i % 487
		t = t.Add(time.Duration(100+i*7919%900) * time.Millisecond)
		out[i] = fmt.Appendf(nil, `{"event_id":"%016x%016x","event_type":%q,"occurred_at":%q,"merchant_id":"m_%05d",`+
			`"customer_id":"c_%07d","amount_minor":%d,"currency":%q,"method":%q,"status":%q,"country":"IN","city":%q,`+
			`"risk_score":0.%03d,"metadata":{"channel":"app","order_id":"ord_%05d_%010d"}}`,
			uint64(i)*0x9e3779b97f4a7c15, uint64(i)^0x5bd1e995, types[i%len(types)], t.Format("2006-01-02T15:04:05.000Z07:00"), m,
			i*7919%10_000_000, 100+i*31%100_000, currencies[i%len(currencies)], methods[i%len(methods)], statuses[i%len(statuses)],
			cities[m%len(cities)], i%1000, m, i*104729%10_000_000_000)
	}
	return out
}

// BenchmarkTypeBatchAddVaried is BenchmarkTypeBatchAdd/payments on a varied
// stream (variedPayments), as Sluice's modes build batches: raw only, rollups
// only, both.
func BenchmarkTypeBatchAddVaried(b *testing.B) {
	pay, recs := BuiltinType(b, "payment"), variedPayments(4096)
	b.Run("raw", func(b *testing.B) {
		benchAddAll(b, pay.NewBatch(Options{Raw: true, SkipRollups: true}), recs, 10000, false, nil)
	})
	b.Run("rollups", func(b *testing.B) { benchAddAll(b, pay.NewBatch(Options{}), recs, 10000, false, nil) })
	b.Run("raw+rollups", func(b *testing.B) { benchAddAll(b, pay.NewBatch(Options{Raw: true}), recs, 10000, false, nil) })
}

// BenchmarkRecordVaried decodes and validates variedPayments as a batch's
// decoder does (transient strings), without the columns, the duplicate filter
// or the rollups: the cost of recordDecoder.record alone.
func BenchmarkRecordVaried(b *testing.B) {
	recs := variedPayments(4096)
	r := BuiltinType(b, "payment").newRecordDecoder(Limits{}, arenaChunk)
	r.d.transient = true
	size := 0
	for _, rec := range recs {
		size += len(rec)
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if inv := r.record(recs[i]); inv != nil {
			b.Fatal(inv)
		}
		if i++; i == len(recs) {
			i = 0
		}
	}
}
