package pipeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/schemas"
)

// Options configures a Pipeline.
type Options struct {
	// Group is the consumer group; it is part of every ledger entry and token.
	Group string
	// Topics maps a source topic to the constructor of its batches.
	Topics map[string]func(schemas.Options) schemas.Batch
	// RawIDs maps a topic whose batches store raw rows with an event id to where
	// those rows keep it. Its flushes store no EventIDsTable rows, and its
	// producer-duplicate filter is rebuilt from the raw rows (SeenIDs with
	// IDQuery.Raw). A topic's batches must store raw rows if it is here.
	RawIDs map[string]RawIDs
	// Batch configures every batch (window, raw rows, limits). Its Dedup is set per worker.
	Batch schemas.Options
	// FlushInterval bounds how long a valid event waits in a batch.
	FlushInterval time.Duration
	// MaxRows and MaxBytes flush a batch early when it holds that many events or bytes.
	MaxRows  int
	MaxBytes int
	// DedupHorizon is how long an event_id is remembered for producer-duplicate
	// filtering, on the Kafka record timestamps; zero turns the filter off.
	DedupHorizon time.Duration
	// DedupMaxIDs caps the ids the filter remembers per partition (the most recent
	// ones); the horizon is then the shorter of DedupHorizon and the span of the last
	// DedupMaxIDs events. Zero means no cap.
	DedupMaxIDs int
	// Workers bounds how many partitions decode at the same time.
	Workers int
	// AtLeastOnce switches the exactly-once bookkeeping off: no ledger, and a fresh
	// insert token for every attempt, so a replay or a retry after an unknown outcome
	// stores its rows again. It exists to measure what the bookkeeping costs and to
	// show that the chaos test catches its absence.
	AtLeastOnce bool
	// AllowReingest lets a worker store offsets that another group's ledger ranges
	// already cover (a deliberate re-ingest into fresh tables); without it the
	// worker refuses with an *OverlapError.
	AllowReingest bool
	// RetryMin and RetryMax bound the backoff between attempts to store a batch.
	RetryMin, RetryMax time.Duration
	// ProbeMax bounds the backoff between attempts of a partition blocked by a
	// permanent error (Deps.Permanent): it keeps probing that rarely at most, so it
	// resumes by itself within ProbeMax of the fix. Default 30 s.
	ProbeMax time.Duration
}

// DeadLetters publishes records that are not valid events. Send is asynchronous and
// safe for concurrent use; done is called exactly once, when the dead letter is
// acknowledged or has failed for good.
type DeadLetters interface {
	Send(ctx context.Context, src *kgo.Record, reason, detail string, done func(error))
}

// Deps are the outside services a Pipeline talks to.
type Deps struct {
	Sink Sink
	// Repair, when non-nil, checks and completes the flushes whose outcome was
	// unknown (Repairer), and the batches' rollup blocks carry flush markers
	// (schemas.FlushMarker) for it to check them by. Nil (a cluster, whose
	// replicated tables commit a token with its part) costs nothing.
	Repair  Repairer
	Ledger  Ledger
	SeenIDs SeenIDs
	DLQ     DeadLetters
	Logger  *slog.Logger
	// Stats, when non-nil, receives the counters of every worker.
	Stats *Stats
	// Permanent reports the errors of Sink, Ledger and SeenIDs that retrying cannot
	// fix until an operator does (a missing table or column, a refused privilege):
	// the partition is then reported blocked (BlockedClickHouse) and probed with
	// backoff up to Options.ProbeMax instead of being counted as an outage. Nil
	// treats every error as transient.
	Permanent func(error) bool
	// Observer, when non-nil, is told about every stored flush.
	Observer Observer
	// Tracer, when non-nil, traces every flush (trace.go); nil costs nothing.
	Tracer trace.Tracer
	// Memory, when non-nil, is the memory budget: a batch is flushed at the smaller
	// of Options.MaxBytes and Memory.BatchBytes. The duplicate filter's cap is not
	// taken from it here: Options.DedupMaxIDs must be the same on every instance and
	// for the whole life of a partition's worker, or a replay would decide
	// differently from the first attempt (the caller sizes it from the budget once).
	Memory Memory
}

func (o *Options) defaults() {
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 100_000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = 5 * time.Second
	}
	if o.ProbeMax <= 0 {
		o.ProbeMax = 30 * time.Second
	}
	o.ProbeMax = max(o.ProbeMax, o.RetryMax)
}
