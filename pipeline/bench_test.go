package pipeline_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// countSink counts stored rows and keeps nothing, so the benchmark measures the worker.
type countSink struct{ rows atomic.Int64 }

func (s *countSink) Store(_ context.Context, _ string, blocks []schemas.Block) error {
	for _, b := range blocks {
		s.rows.Add(int64(b.Rows))
	}
	return nil
}

// nopLedger records nothing, so every benchmark iteration starts without replay cuts.
type nopLedger struct{}

func (nopLedger) Intend(context.Context, pipeline.Range) error { return nil }
func (nopLedger) Ranges(context.Context, string, string, int32, int64) ([]pipeline.Range, error) {
	return nil, nil
}

type nopSeen struct{}

func (nopSeen) SeenIDs(context.Context, pipeline.IDQuery, func(string, int64)) error {
	return nil
}

func BenchmarkWorkerPayments(b *testing.B) {
	const n, sliceLen = 8192, 512
	recs := make([]*kgo.Record, n)
	var bytes int64
	for i := range recs {
		at := t0.Add(time.Duration(i%3600) * time.Second)
		v := []byte(fmt.Sprintf(`{"event_id":"01J9Z3K7Q4W8X2YF5T6R%06d","event_type":"payment.captured",`+
			`"occurred_at":%q,"merchant_id":"merchant-%04d","customer_id":"cust-0098127",`+
			`"amount_minor":%d,"currency":"INR","method":"upi","status":"success","country":"IN","city":"Bengaluru",`+
			`"risk_score":0.0731,"metadata":{"order_id":"ord-7781-2231-99","channel":"mobile_app"}}`,
			i, at.Format(time.RFC3339Nano), i%200, 1000+i))
		recs[i] = rec(payments, 0, int64(i), t0.Add(time.Duration(i)*time.Millisecond), v)
		bytes += int64(len(v))
	}
	var sl [][]*kgo.Record
	for i := 0; i < n; i += sliceLen {
		sl = append(sl, recs[i:i+sliceLen])
	}
	payment := schemas.BuiltinEventTypes()[0] // what sluice run consumes payments with
	for _, mode := range []struct {
		name   string
		raw    bool
		dedup  time.Duration
		rawIDs bool               // the ids stay in the raw rows: no event-id block
		typed  *schemas.EventType // the event type's batch instead of the hand-written one
	}{
		{"rollup", false, 0, false, nil},
		{"raw", true, 0, false, nil},
		{"raw+dedup", true, time.Hour, false, nil},
		{"raw+dedup-raw-ids", true, time.Hour, true, nil},
		{"type-raw+dedup-raw-ids", true, time.Hour, true, payment},
	} {
		b.Run(mode.name, func(b *testing.B) {
			sink := &countSink{}
			batch := schemas.NewPaymentBatch
			if mode.typed != nil {
				batch = mode.typed.NewBatch
			}
			o := pipeline.Options{
				Group:         testGroup,
				Topics:        map[string]func(schemas.Options) schemas.Batch{payments: batch},
				Batch:         schemas.Options{Raw: mode.raw},
				FlushInterval: time.Hour,
				MaxRows:       2048,
				DedupHorizon:  mode.dedup,
			}
			if mode.rawIDs {
				o.RawIDs = map[string]pipeline.RawIDs{payments: {Table: "payments", Column: "event_id"}}
			}
			p := pipeline.New(o, pipeline.Deps{Sink: sink, Ledger: nopLedger{}, SeenIDs: nopSeen{}, DLQ: &asyncDLQ{}})
			b.SetBytes(bytes)
			b.ReportAllocs()
			ctx := b.Context()
			for b.Loop() {
				w := p.Worker(payments, 0)
				in := make(chan []*kgo.Record, len(sl))
				for _, s := range sl {
					in <- s
				}
				close(in)
				if err := w.Run(ctx, in, func(*kgo.Record) {}); err != nil {
					b.Fatal(err)
				}
			}
			if st := p.Stats(); st.Valid.Load() != int64(b.N)*n || st.Invalid.Load() != 0 {
				b.Fatalf("valid %d invalid %d for %d iterations", st.Valid.Load(), st.Invalid.Load(), b.N)
			}
		})
	}
}
