// Package pipeline turns the records of one Kafka partition into rows stored in
// ClickHouse: decode → validate → deduplicate → aggregate per window → batch → sink,
// then report the stored offsets back to the consumer for committing.
//
// It owns the per-partition Worker and the batch/offset bookkeeping that makes the
// result exact. It knows nothing of consumer groups (package consumers drives it) or of
// the ClickHouse wire protocol (package pipeline/clickhouse adapts it to Sink, Ledger,
// SeenIDs and Repairer, the small interfaces declared in ports.go).
//
// # Exactly-once effect
//
// A flush stores the valid events of one offset Range [First, Last] of one partition.
// Before storing, the Range is written to the Ledger (while the flush before it may
// still be inserting; flushes are stored and marked in order); then every block (raw rows,
// rollup partials, the admitted event ids of topics without raw rows) is inserted
// with a deduplication token that is a function of the Range alone; only then are
// the offsets marked for commit. After a
// crash, a rebalance or an insert with an unknown outcome, the partition is replayed
// from the last committed offset: the Worker reads the Ledger and cuts its batches at
// exactly the recorded ranges (the rule is in replay.go), so the replayed inserts
// carry the same tokens and ClickHouse drops them. A flush whose outcome was unknown
// at some point (a Store attempt failed, or it replays a recorded range) is then
// checked by Deps.Repair (a Repairer, one server only): a ClickHouse killed
// mid-insert can keep a token while losing its part, and the Repairer stores again
// exactly the rows that are missing; the batches' rollup blocks carry flush markers
// (schemas.FlushMarker) for it. A flush whose first attempt succeeded is never
// checked. docs/exactly-once.md lists the failure cases. Elsewhere a batch may end
// anywhere: it is flushed at Options.FlushInterval, or once it holds MaxRows or
// MaxBytes, and while its partition is catching up (SetBacklog reports queued
// fetches, SetHighWatermark records not fetched yet) a due batch stays open for up to backlogStretch intervals, so that a
// backlog makes fewer parts; the batch that reaches the end of a backlog
// (SetHighWatermark) is flushed at once (Worker.atEnd).
//
// Ranges, tokens and stored event ids are keyed by the topic's incarnation (its Kafka
// topic id, Worker.SetTopicID), so a topic deleted and created again, whose offsets
// start over, is stored as new data. A worker that finds another consumer group's
// ranges at or after its first offset refuses to store them again (OverlapError)
// unless Options.AllowReingest.
//
// Producer duplicates (the same event_id published again) are filtered per partition
// within a horizon measured on the Kafka record timestamps; the filter is rebuilt from
// the stored event ids, up to the replay's first offset, so replays decide alike. A
// topic whose raw rows hold the ids (Options.RawIDs) stores no EventIDsTable rows:
// its filter is rebuilt from the raw rows.
//
// # Dead letters
//
// An invalid record is sent to DeadLetters at once and belongs to its batch: the
// batch's offsets are marked only after each of its dead letters is acknowledged. A
// dead letter that fails is sent again with backoff (RetryMin to RetryMax) for as long
// as it takes; meanwhile the partition is listed by Pipeline.Blocked (reason
// BlockedDeadLetter), logged at most once a minute, and its fetching pauses behind the
// waiting batch while other partitions go on. It resumes by itself.
//
// # Permanent errors
//
// A Sink, Ledger or SeenIDs error that Deps.Permanent recognises (ClickHouse refuses
// for good until an operator fixes the schema or the grants) blocks the partition in
// the same registry (reason BlockedClickHouse; Err says what to do): the call is
// retried with the same arguments, backing off up to Options.ProbeMax, nothing of the
// partition is marked meanwhile, a warning is logged at most once a minute, and the
// partition resumes by itself once a retry succeeds. Such an error is not an outage.
//
// # Concurrency
//
// A Worker belongs to one partition and runs in the goroutine that calls Run, with
// two stage goroutines that Run owns (one writes a flush's ledger range, the other
// inserts the flush before it and marks it); it shares
// no locks with other workers while its stores succeed (the outage tracker they share
// is locked only while a store call fails). CPU-heavy decoding is bounded across all workers by the
// Pipeline's decode slots (Options.Workers). Sink, Ledger, SeenIDs and DeadLetters are
// called concurrently by many workers.
//
// # Logging
//
// Nothing is logged per event. A failing Sink, Ledger or SeenIDs call is retried
// until it succeeds; however many partitions wait, an outage (a transient error) is two lines, a
// warning with the cause when the first call fails and a summary (duration,
// partitions paused, failed attempts) when the last one succeeds. Each attempt is
// logged at debug level.
//
// # Memory
//
// Deps.Memory, when set, is the process's memory budget (memory.go): a batch is
// written once it reaches the size the budget gives the partition (read once per
// fetched slice: its share, which shrinks as more partitions are owned, or more
// while other partitions leave the batch pool unused), counting the event ids it
// keeps for the duplicate filter's table; each worker reports what its batches
// and filter hold, once per slice and per flush, and gives back the memory of a
// batch that grew far beyond what the budget gives it now.
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
