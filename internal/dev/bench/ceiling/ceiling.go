package ceiling

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// DDL returns the CREATE TABLE of database.table, a payments-like raw table (17
// columns, including a Map and LowCardinality strings) whose
// non_replicated_deduplication_window is dedupWindow (0 turns deduplication off).
// The names must be plain identifiers.
func DDL(database, table string, dedupWindow int) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n"+
		"\t`event_id` String,\n"+
		"\t`event_type` LowCardinality(String),\n"+
		"\t`occurred_at` DateTime64(3, 'UTC'),\n"+
		"\t`merchant_id` String,\n"+
		"\t`customer_id` String,\n"+
		"\t`amount_minor` Int64,\n"+
		"\t`currency` LowCardinality(String),\n"+
		"\t`method` LowCardinality(String),\n"+
		"\t`status` LowCardinality(String),\n"+
		"\t`country` LowCardinality(String),\n"+
		"\t`city` String,\n"+
		"\t`risk_score` Float64,\n"+
		"\t`metadata` Map(String, String),\n"+
		"\t`_topic` LowCardinality(String),\n"+
		"\t`_partition` Int32,\n"+
		"\t`_offset` Int64,\n"+
		"\t`_ingested_at` DateTime64(3, 'UTC')\n"+
		") ENGINE = MergeTree\n"+
		"ORDER BY (`merchant_id`, `occurred_at`)\n"+
		"SETTINGS non_replicated_deduplication_window = %d",
		qualified(database, table), dedupWindow)
}

// qualified is `database`.`table`.
func qualified(database, table string) string {
	return "`" + database + "`.`" + table + "`"
}

// Block returns a deterministic block of rows payments-like rows for the table DDL
// creates, its columns plain Go slices; seq makes event ids and offsets distinct
// between blocks.
func Block(table string, rows int, seq int64) schemas.Block {
	var (
		eventID    = make([]string, rows)
		eventType  = make([]string, rows)
		occurredAt = make([]time.Time, rows)
		merchant   = make([]string, rows)
		customer   = make([]string, rows)
		amount     = make([]int64, rows)
		currency   = make([]string, rows)
		method     = make([]string, rows)
		status     = make([]string, rows)
		country    = make([]string, rows)
		city       = make([]string, rows)
		risk       = make([]float64, rows)
		metadata   = make([]map[string]string, rows)
		topic      = make([]string, rows)
		partition  = make([]int32, rows)
		offset     = make([]int64, rows)
		ingestedAt = make([]time.Time, rows)
	)
	types := []string{schemas.PaymentAuthorized, schemas.PaymentCaptured, schemas.PaymentFailed, schemas.PaymentRefunded}
	currencies := []string{"EUR", "USD", "GBP", "JPY"}
	methods := []string{"card", "sepa", "wallet"}
	countries := []string{"DE", "FR", "US", "GB", "JP"}
	cities := []string{"Berlin", "Paris", "New York", "London", "Tokyo"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		n := seq*int64(rows) + int64(i)
		eventID[i] = "evt-" + strconv.FormatInt(n, 36) + "-0000000000000000"
		eventType[i] = types[n%4]
		occurredAt[i] = base.Add(time.Duration(n) * time.Millisecond)
		merchant[i] = "m-" + strconv.FormatInt(n%5000, 10)
		customer[i] = "c-" + strconv.FormatInt(n%200000, 10)
		amount[i] = 100 + n%100000
		currency[i] = currencies[n%4]
		method[i] = methods[n%3]
		status[i] = "ok"
		country[i] = countries[n%5]
		city[i] = cities[n%5]
		risk[i] = float64(n%1000) / 1000
		metadata[i] = map[string]string{"channel": "web", "campaign": "c" + strconv.FormatInt(n%50, 10)}
		topic[i] = "payments"
		partition[i] = int32(n % 12)
		offset[i] = n
		ingestedAt[i] = occurredAt[i].Add(time.Second)
	}
	return schemas.Block{
		Table: table,
		Names: []string{"event_id", "event_type", "occurred_at", "merchant_id", "customer_id", "amount_minor",
			"currency", "method", "status", "country", "city", "risk_score", "metadata",
			"_topic", "_partition", "_offset", "_ingested_at"},
		Columns: []any{eventID, eventType, occurredAt, merchant, customer, amount,
			currency, method, status, country, city, risk, metadata,
			topic, partition, offset, ingestedAt},
		Rows: rows,
	}
}

// Result is what Insert measured.
type Result struct {
	Rows    int           // rows stored
	Inserts int           // Store calls, one block each
	Elapsed time.Duration // wall time of all Store calls
	P50     time.Duration // median Store latency
	P99     time.Duration // 99th percentile Store latency
	Max     time.Duration // slowest Store
}

// RowsPerSec is the insert throughput.
func (r Result) RowsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Rows) / r.Elapsed.Seconds()
}

// String formats the result for a log line or a report.
func (r Result) String() string {
	return fmt.Sprintf("%d rows in %d inserts, %.0f rows/s, latency p50 %v p99 %v max %v",
		r.Rows, r.Inserts, r.RowsPerSec(), r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
}

// Insert stores blk inserts times into database.(blk.Table), a table DDL created,
// with clickhouse-go's batch API (the bare clickhouse-go insert, not the Sluice
// encoder), one after the other, each with a distinct token (so none is
// deduplicated), and measures throughput and per-insert latency. Building the block
// is not timed.
func Insert(ctx context.Context, conn driver.Conn, database string, blk schemas.Block, inserts int) (Result, error) {
	lat := make([]time.Duration, 0, inserts)
	prefix := "ceiling:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	query := insertQuery(database, blk)
	start := time.Now()
	for i := range inserts {
		t0 := time.Now()
		if err := batchInsert(ctx, conn, query, prefix+strconv.Itoa(i), &blk); err != nil {
			return Result{}, fmt.Errorf("ceiling: insert %d rows into %s: %w", blk.Rows, blk.Table, err)
		}
		lat = append(lat, time.Since(t0))
	}
	res := Result{Rows: blk.Rows * inserts, Inserts: inserts, Elapsed: time.Since(start)}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50 = lat[len(lat)/2]
		res.P99 = lat[(len(lat)*99)/100]
		res.Max = lat[len(lat)-1]
	}
	return res, nil
}

// insertQuery is INSERT INTO `database`.`table` (`a`, `b`, …) for b's columns.
func insertQuery(database string, b schemas.Block) string {
	return "INSERT INTO " + qualified(database, b.Table) + " (`" + strings.Join(b.Names, "`, `") + "`)"
}

// batchInsert sends one block as one synchronous INSERT through clickhouse-go's
// batch API, with the settings the pipeline's inserts carry.
func batchInsert(ctx context.Context, conn driver.Conn, query, token string, b *schemas.Block) error {
	ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{
		"insert_deduplicate":            1,
		"insert_deduplication_token":    token,
		"async_insert":                  0,
		"distributed_foreground_insert": 1,
	}))
	batch, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		return err
	}
	for i, col := range b.Columns {
		if err := batch.Column(i).Append(col); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("column %s: %w", b.Names[i], err)
		}
	}
	return batch.Send()
}
