// Package pipeline turns the records of one Kafka partition into rows stored in
// ClickHouse: decode → validate → deduplicate → aggregate per window → batch → sink,
// then report the stored offsets back to the consumer for committing.
//
// It owns the per-partition Worker and the batch/offset bookkeeping that makes the
// result exact. It knows nothing of consumer groups (package consumers drives it) or of
// the ClickHouse wire protocol (package pipeline/clickhouse adapts it to Sink, Ledger
// and SeenIDs, the small interfaces declared in ports.go).
//
// # Exactly-once effect
//
// A flush stores the valid events of one offset Range [First, Last] of one partition.
// Before storing, the Range is written to the Ledger; then every block (raw rows,
// rollup partials, admitted event ids) is inserted with a deduplication token that is
// a function of the Range alone; only then are the offsets marked for commit. After a
// crash, a rebalance or an insert with an unknown outcome, the partition is replayed
// from the last committed offset: the Worker reads the Ledger and cuts its batches at
// exactly the recorded ranges (the rule is in replay.go), so the replayed inserts
// carry the same tokens and ClickHouse drops them. docs/exactly-once.md lists the
// failure cases.
//
// Producer duplicates (the same event_id published again) are filtered per partition
// within a horizon measured on the Kafka record timestamps; the filter is rebuilt from
// the stored event ids, up to the replay's first offset, so replays decide alike.
//
// # Concurrency
//
// A Worker belongs to one partition and runs in the goroutine that calls Run; it shares
// no locks with other workers. CPU-heavy decoding is bounded across all workers by the
// Pipeline's decode slots (Options.Workers). Sink, Ledger, SeenIDs and DeadLetters are
// called concurrently by many workers.
//
// # Observing
//
// Deps.Observer hears of every stored flush with a sample of its events' Kafka
// timestamps (freshness.go: the freshness metrics); Deps.Tracer makes one span per
// flush with its stages as children, linked to the records' own traces (trace.go).
// Both are per flush; with neither set the per-event work is a mask test.
//
// # Usage
//
//	p := pipeline.New(opts, deps)
//	w := p.Worker("payments", 3)
//	err := w.Run(ctx, records, mark) // returns after records is closed and the rest is flushed
package pipeline
