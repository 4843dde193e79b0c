package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/panics"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/schemas"
)

// firstFlush bounds how long a worker's first batch waits (FlushInterval if shorter).
const firstFlush = 100 * time.Millisecond

// backlogStretch is how many flush intervals a batch may stay open while its
// partition is catching up: fetched records already wait for the worker, so the
// batch goes on filling towards MaxRows or MaxBytes instead of being cut at the
// interval. Each flush is an insert per table and each insert a ClickHouse part,
// whose fixed cost dominates small inserts (docs/benchmarks.md, Partitions and
// parts); a backlog's events are late anyway. Where batches end does not matter
// for exactness: the ledger records each cut, and a replay cuts there.
const backlogStretch = 4

// Worker turns the records of one partition into stored batches. It is driven by one
// goroutine, the caller of Run.
type Worker struct {
	p         *Pipeline
	ts        *TopicStats // the topic's counters, beside p.stats
	topic     string
	partition int32
	topicID   string // the incarnation of topic (SetTopicID); "" when unknown
	rawIDs    RawIDs // where the raw rows keep the event ids; zero: EventIDsTable
	dd        *dedup
	log       *slog.Logger

	// cur is the batch being filled, spare the other one. At most one batch is being
	// stored at a time (inflight), by the goroutine Run starts, which takes slots
	// from jobs and answers each on results.
	cur, spare *slot
	renew      func() schemas.Batch // a new, empty batch for the partition (reuse)
	inflight   bool
	jobs       chan *slot
	results    chan error

	started bool
	cut     cutter     // where batches end: the replay-cut rule and the batch's offsets
	queued  func() int // fetched slices waiting for the worker (SetBacklog); nil: unknown

	n       int64       // records in the batch, valid or not
	lastRec *kgo.Record // the batch's last record, marked after the flush
	maxTS   int64       // newest record timestamp seen, for pruning the dedup filter
	due     time.Time   // when the batch must be flushed
	flushed bool        // a batch was handed to the store goroutine

	invalid invalidWatch // the store goroutine's: warns of an (almost) all-invalid partition

	held memoryHeld // what was reported to Deps.Memory

	// Why the partition may be blocked: its dead letters cannot be written, or
	// ClickHouse refuses its calls for good (see blockage).
	dlBlock, chBlock blockage
}

// Run processes the slices received on in until in is closed, then flushes what is left
// and returns nil. mark is called with the last record of every stored batch: every
// record up to it is stored (or dead-lettered) and its offset may be committed. When
// ctx is done Run returns ctx's error at once, without flushing: nothing unmarked was
// committed, so the records are replayed by the partition's next owner. Any other
// error means the partition cannot make progress.
//
// Storing overlaps decoding: a full batch is handed to a store goroutine that Run
// owns, and the worker goes on filling the other batch; it waits only when that one
// is full too. Batches are stored and marked in order.
func (w *Worker) Run(ctx context.Context, in <-chan []*kgo.Record, mark func(*kgo.Record)) error {
	var stores conc.WaitGroup
	stores.Go(func() {
		for s := range w.jobs {
			// A panic while storing must end Run with an error, not leave the
			// worker waiting for a result forever.
			var pc panics.Catcher
			var err error
			pc.Try(func() { err = w.store(ctx, s, mark) })
			if r := pc.Recovered(); r != nil {
				err = fmt.Errorf("store %s/%d: %w", w.topic, w.partition, r.AsError())
			}
			w.results <- err
		}
	})
	defer func() {
		close(w.jobs)
		stores.Wait()
		w.unreport()
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		// A failed store ends Run at once, not at the partition's next flush, which
		// may never come.
		var stored <-chan error
		if w.inflight {
			stored = w.results
		}
		select {
		case err := <-stored:
			w.inflight = false
			if err != nil {
				return err
			}
		case recs, ok := <-in:
			if !ok {
				if w.cut.drainMayFlush() {
					if err := w.flush(ctx, mark); err != nil {
						return err
					}
				}
				return w.settle(ctx)
			}
			if err := w.process(ctx, recs, mark); err != nil {
				return err
			}
			if w.cut.open() {
				timer.Reset(time.Until(w.due))
			} else {
				timer.Stop()
			}
		case <-timer.C:
			if w.cut.timerMayFlush() && !w.catchingUp(time.Now()) {
				if err := w.flush(ctx, mark); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SetBacklog gives the worker the length of its partition's fetch queue, before
// Run (consumers.BacklogSetter): while slices wait there, a due batch stays open
// (see backlogStretch).
func (w *Worker) SetBacklog(queued func() int) { w.queued = queued }

// catchingUp reports whether the batch, due now, may stay open because fetched
// slices wait for the worker (see backlogStretch). A worker's first batch is never
// held: its rows show that the partition flows.
func (w *Worker) catchingUp(now time.Time) bool {
	return w.queued != nil && w.flushed && w.queued() > 0 &&
		now.Before(w.cur.opened.Add(backlogStretch*w.p.opts.FlushInterval))
}

// process adds a fetched slice to the batch, flushing where the ledger or the limits say.
func (w *Worker) process(ctx context.Context, recs []*kgo.Record, mark func(*kgo.Record)) error {
	if len(recs) == 0 {
		return nil
	}
	if !w.started {
		if err := w.start(ctx, recs[0]); err != nil {
			return err
		}
	}
	if err := w.p.acquire(ctx); err != nil {
		return err
	}
	held := true
	defer func() {
		if held {
			w.p.release()
		}
	}()
	// flushHere stores the batch without holding a decode slot.
	flushHere := func() error {
		w.p.release()
		held = false
		if err := w.flush(ctx, mark); err != nil {
			return err
		}
		if err := w.p.acquire(ctx); err != nil {
			return err
		}
		held = true
		return nil
	}
	o := &w.p.opts
	maxBytes := w.maxBytes()
	defer w.report()
	var valid, invalid, dups int64
	now := time.Now()
	for _, r := range recs {
		if w.cut.before(r.Offset) {
			if err := flushHere(); err != nil {
				return err
			}
		}
		if !w.cut.open() {
			w.cur.opened = now
			w.due = now.Add(o.FlushInterval)
			if !w.flushed {
				// A worker's first batch is stored sooner, so rows appear within
				// a fraction of a second of a start or a rebalance.
				w.due = now.Add(min(o.FlushInterval, firstFlush))
			}
		}
		end, limits := w.cut.add(r.Offset)
		w.lastRec = r
		w.n++
		ts := r.Timestamp.UnixNano()
		if ts > w.maxTS {
			w.maxTS = ts
		}
		err := w.cur.batch.Add(r.Value, schemas.Meta{Topic: r.Topic, TopicID: w.topicID, Partition: r.Partition, Offset: r.Offset, IngestedAt: now, Timestamp: r.Timestamp})
		switch {
		case err == nil:
			valid++
			w.cur.fresh.add(ts)
			if w.p.deps.Tracer != nil && len(r.Headers) > 0 {
				w.cur.link(r)
			}
		case errors.Is(err, schemas.ErrDuplicate):
			dups++
		default:
			invalid++
			w.deadLetter(ctx, r, err)
		}
		if end || limits && (w.cur.batch.Events() >= o.MaxRows || w.filled() >= maxBytes) {
			if err := flushHere(); err != nil {
				return err
			}
		}
	}
	s := w.p.stats
	s.Records.Add(int64(len(recs)))
	s.Valid.Add(valid)
	s.Invalid.Add(invalid)
	s.Duplicates.Add(dups)
	ts := w.ts
	ts.Records.Add(int64(len(recs)))
	ts.Valid.Add(valid)
	ts.Invalid.Add(invalid)
	ts.Duplicates.Add(dups)
	return nil
}

func (w *Worker) deadLetter(ctx context.Context, r *kgo.Record, err error) {
	reason, detail := "invalid", err.Error()
	var inv *schemas.Invalid
	if errors.As(err, &inv) {
		reason, detail = inv.Reason, inv.Detail
		if inv.Field != "" {
			detail = inv.Field + ": " + detail
		}
	}
	w.cur.reasons[reason]++
	w.sendDeadLetter(ctx, r, reason, detail)
}

// start loads what earlier owners of the partition left: the ledger ranges to replay
// from the first offset on, and the event ids stored before it.
func (w *Worker) start(ctx context.Context, first *kgo.Record) error {
	o := &w.p.opts
	w.cut.part.TopicID = w.topicID
	if !o.AtLeastOnce {
		var ranges []Range
		err := w.retry(ctx, "read ledger", func(ctx context.Context) error {
			var err error
			ranges, err = w.p.deps.Ledger.Ranges(ctx, w.topic, w.topicID, w.partition, first.Offset)
			return err
		})
		if err != nil {
			return err
		}
		if ranges, err = w.ownRanges(ranges, first.Offset); err != nil {
			return err
		}
		if d, ok := w.cut.load(ranges, first.Offset); ok {
			w.log.Warn("replay starts inside a stored range; its remainder is stored under a new token",
				"first", first.Offset, "range_first", d.First, "range_last", d.Last)
		}
		if a := w.cut.ahead(); len(a) > 0 {
			w.log.Info("replaying ledger ranges", "ranges", len(a), "from", a[0].First, "to", a[len(a)-1].Last)
		}
	}
	w.started = true
	return w.startDedup(ctx, first)
}

// startDedup rebuilds the producer-duplicate filter from the ids stored before first.
func (w *Worker) startDedup(ctx context.Context, first *kgo.Record) error {
	o := &w.p.opts
	if w.dd != nil {
		q := IDQuery{Group: o.Group, Topic: w.topic, TopicID: w.topicID, Partition: w.partition,
			Before: first.Offset, Since: first.Timestamp.Add(-o.DedupHorizon - dedupSlack), Limit: o.DedupMaxIDs, Raw: w.rawIDs}
		n := 0
		err := w.retry(ctx, "load event ids", func(ctx context.Context) error {
			w.dd.reset()
			n = 0
			return w.p.deps.SeenIDs.SeenIDs(ctx, q, func(id string, ts int64) {
				w.dd.load(id, ts)
				n++
			})
		})
		if err != nil {
			return err
		}
		w.log.Debug("dedup filter loaded", "ids", n)
	}
	return nil
}

// flush hands the current batch to the store goroutine and switches to the other
// batch, first waiting for the previous store if it is still running. A batch cut at
// a ledger range takes that range (its records and token are the first attempt's);
// any other batch is recorded in the ledger first (by store).
func (w *Worker) flush(ctx context.Context, mark func(*kgo.Record)) error {
	r, replay := w.cut.take()
	if err := w.settle(ctx); err != nil {
		return err
	}
	s := w.cur
	s.r, s.replay, s.lastRec, s.n = r, replay, w.lastRec, w.n
	was := w.held.spare
	w.held.spare = int64(w.filled())
	next := w.spare
	if w.dd != nil {
		next.pending.reset()
		s.pending, w.dd.pending = w.dd.pending, next.pending
	}
	select {
	case w.jobs <- s:
		w.inflight, w.flushed = true, true
	case <-ctx.Done():
		return ctx.Err()
	}
	w.reuse(next, was)
	w.cur, w.spare = next, s
	w.n = 0
	w.lastRec, w.due = nil, time.Time{}
	if w.dd != nil {
		w.dd.prune(w.maxTS)
	}
	w.report()
	return nil
}

// settle waits for the batch being stored, if any, and returns its error.
func (w *Worker) settle(ctx context.Context) error {
	if !w.inflight {
		return nil
	}
	select {
	case err := <-w.results:
		w.inflight = false
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
