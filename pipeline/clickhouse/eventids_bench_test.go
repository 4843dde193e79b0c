package clickhouse

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// BenchmarkStoreEventIDs is what keeping the producer-duplicate filter's ids costs
// ClickHouse per flush of 10,000 raw payment rows: as sluice_event_ids rows beside a
// raw table without the offsets projection, or as the raw table's
// schemas.OffsetsProjection alone. It reports the server's CPU seconds per million
// events, the rows and the parts it inserted per event and per flush
// (the server's system.events meanwhile: run it alone).
func BenchmarkStoreEventIDs(b *testing.B) {
	const rows = 10000
	raw := benchPaymentsBlock(b, rows)
	col := func(name string) any {
		for i, n := range raw.Names {
			if n == name {
				return schemas.PlainColumn(raw.Columns[i])
			}
		}
		b.Fatalf("raw block has no %s", name)
		return nil
	}
	offsets, ids, ts := col("_offset").([]int64), col("event_id").([]string), col("_timestamp").([]time.Time)
	idRows := EventIDsBlock("g", "payments", "A", 0, offsets, ids, ts)
	pay := schemas.BuiltinEventTypes()[0]
	for _, tc := range []struct {
		name       string
		projection bool
	}{{"event-id rows", false}, {"projection", true}} {
		b.Run(tc.name, func(b *testing.B) {
			c := open(b)
			for _, s := range schemas.TypeDDL(schemas.DDLOptions{Database: c.db}, pay) {
				if i := strings.Index(s, ",\n    PROJECTION "); i >= 0 && !tc.projection {
					s = s[:i] + s[strings.Index(s, "\n)\n"):]
				}
				exec(b, c, s)
			}
			blocks := []schemas.Block{raw}
			if !tc.projection {
				blocks = append(blocks, idRows)
			}
			before := serverEvents(b, c)
			flushes := 0
			for b.Loop() {
				if err := c.Store(b.Context(), fmt.Sprint("flush:", flushes), blocks); err != nil {
					b.Fatal(err)
				}
				flushes++
			}
			after := serverEvents(b, c)
			cpuMicros := after["UserTimeMicroseconds"] + after["SystemTimeMicroseconds"] - before["UserTimeMicroseconds"] - before["SystemTimeMicroseconds"]
			written := after["InsertedRows"] - before["InsertedRows"]
			parts := after["InsertedWideParts"] + after["InsertedCompactParts"] - before["InsertedWideParts"] - before["InsertedCompactParts"]
			events := float64(flushes * rows)
			b.ReportMetric(float64(cpuMicros)/events, "CH-CPU-s/M-events")
			b.ReportMetric(float64(written)/events, "rows/event")
			b.ReportMetric(float64(parts)/float64(flushes), "parts/flush")
		})
	}
}

// serverEvents is the server's system.events, name → value.
func serverEvents(b *testing.B, c *Client) map[string]uint64 {
	b.Helper()
	rows, err := c.conn.Query(b.Context(), "SELECT event, value FROM system.events")
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var name string
		var v uint64
		if err := rows.Scan(&name, &v); err != nil {
			b.Fatal(err)
		}
		out[name] = v
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}
