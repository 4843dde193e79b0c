package clickhouse

import (
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	chcol "github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// benchPaymentsBlock is the raw payments block of a batch of n loadgen payments.
func benchPaymentsBlock(b testing.TB, n int) schemas.Block {
	b.Helper()
	g, err := loadgen.NewGenerator(loadgen.Config{Seed: 1, Payments: n, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	batch := schemas.NewPaymentBatch(schemas.Options{Raw: true, SkipRollups: true})
	var off int64
	for {
		rec, ok := g.Next()
		if !ok {
			break
		}
		if rec.Kind != loadgen.Valid {
			continue
		}
		off++
		if err := batch.Add(rec.Value, &schemas.Meta{Topic: "payments", Offset: off, IngestedAt: rec.Timestamp, Timestamp: rec.Timestamp}); err != nil {
			b.Fatal(err)
		}
	}
	for _, blk := range batch.Blocks() {
		if blk.Table == "payments" {
			return blk
		}
	}
	b.Fatal("no raw block")
	return schemas.Block{}
}

// paymentTypes are the payments table's column types, as the server announces them.
var paymentTypes = map[string]proto.ColumnType{
	"event_id": "String", "event_type": "LowCardinality(String)", "occurred_at": "DateTime64(3, 'UTC')",
	"merchant_id": "String", "customer_id": "String", "amount_minor": "Int64",
	"currency": "LowCardinality(String)", "method": "LowCardinality(String)", "status": "LowCardinality(String)",
	"country": "LowCardinality(String)", "city": "LowCardinality(String)", "risk_score": "Float64",
	"metadata": "Map(String, String)", "_topic": "LowCardinality(String)", "_topic_id": "LowCardinality(String)",
	"_partition": "Int32", "_offset": "Int64", "_ingested_at": "DateTime64(3, 'UTC')", "_timestamp": "DateTime64(3, 'UTC')",
}

// paymentCols are the native columns of a raw payments block, inferred as the
// payments table's.
func paymentCols(tb testing.TB, blk schemas.Block) []nativeCol {
	tb.Helper()
	cols := make([]nativeCol, len(blk.Columns))
	for i, c := range blk.Columns {
		col, err := newNativeCol(c)
		if err != nil {
			tb.Fatal(err)
		}
		if err := col.Infer(paymentTypes[blk.Names[i]]); err != nil {
			tb.Fatal(err)
		}
		cols[i] = col
	}
	return cols
}

// BenchmarkEncodePayments is the client-side cost of an insert of a batch's raw
// payments block, per row, without I/O: Store's ch-go encoders writing the flat
// columns to the wire buffer, against clickhouse-go's batch columns (Append of
// the same rows as plain slices, then Encode) that Store used before.
func BenchmarkEncodePayments(b *testing.B) {
	const rows = 20000
	blk := benchPaymentsBlock(b, rows)
	b.Run("ch-go", func(b *testing.B) {
		b.ReportAllocs()
		var buf proto.Buffer
		cols := paymentCols(b, blk)
		for b.Loop() {
			buf.Reset()
			for lo := 0; lo < blk.Rows; lo += nativeChunkRows {
				hi := min(lo+nativeChunkRows, blk.Rows)
				for _, c := range cols {
					c.window(lo, hi)
					if p, ok := c.(proto.Preparable); ok {
						if err := p.Prepare(); err != nil {
							b.Fatal(err)
						}
					}
					if s, ok := c.(proto.StateEncoder); ok {
						s.EncodeState(&buf)
					}
					c.EncodeColumn(&buf)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*blk.Rows), "ns/row")
	})
	b.Run("clickhouse-go", func(b *testing.B) {
		b.ReportAllocs()
		plain := make([]any, len(blk.Columns))
		for i, c := range blk.Columns {
			plain[i] = schemas.PlainColumn(c)
		}
		var buf proto.Buffer
		for b.Loop() {
			buf.Buf = buf.Buf[:0]
			for i, name := range blk.Names {
				col, err := chcol.Type(paymentTypes[name]).Column(name, &chcol.ServerContext{Timezone: time.UTC})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := col.Append(plain[i]); err != nil {
					b.Fatal(err)
				}
				if s, ok := col.(chcol.CustomSerialization); ok {
					if err := s.WriteStatePrefix(&buf); err != nil {
						b.Fatal(err)
					}
				}
				col.Encode(&buf)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*blk.Rows), "ns/row")
	})
}
