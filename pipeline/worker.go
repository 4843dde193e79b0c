package pipeline

import (
	"cmp"
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

	// cur is the batch being filled, spare the other one. A flushed batch goes
	// through two stages, goroutines that Run starts: the first takes it from jobs,
	// delivers its dead letters, builds its blocks and records its range in the
	// ledger (record), and hands it on recorded; the second stores it, marks its last
	// record (store) and answers it on results. So one batch's ledger write overlaps
	// the insert of the batch before it, while batches are still stored and marked
	// in order. At most two batches are in flight (inflight): the one just flushed
	// and the one before it, whose slot the worker fills next once it is stored.
	cur, spare *slot
	renew      func() schemas.Batch // a new, empty batch for the partition (reuse)
	inflight   int
	jobs       chan *slot
	recorded   chan *slot
	results    chan error // as deep as the batches in flight, so the store stage never waits on it

	started bool
	cut     cutter       // where batches end: the replay-cut rule and the batch's offsets
	queued  func() int   // fetched slices waiting for the worker (SetBacklog); nil: unknown
	high    func() int64 // the partition's high watermark at the latest fetch (SetHighWatermark); nil: unknown
	// backlog is set when a batch was flushed at its size limits while the
	// partition was catching up, and cleared by any other flush (see atEnd).
	backlog bool

	n       int64       // records in the batch, valid or not
	lastRec *kgo.Record // the batch's last record, marked after the flush
	last    kgo.Record  // lastRec's markable copy, once its slice is recycled
	maxTS   int64       // newest record timestamp seen, for pruning the dedup filter
	due     time.Time   // when the batch must be flushed
	flushed bool        // a batch was handed to the stages

	meta schemas.Meta // what process tells the batch of each record (reuse)

	invalid invalidWatch // the store stage's: warns of an (almost) all-invalid partition

	held  memoryHeld // what was reported to Deps.Memory
	sizes []int      // the columns of the batch flushed last, for the next to reserve (reuse)

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
// Storing overlaps decoding: a full batch is handed to the stages that Run owns
// (see Worker.cur), and the worker goes on filling the other batch; it waits only
// when that one is full too. Batches are stored and marked in order.
func (w *Worker) Run(ctx context.Context, in <-chan []*kgo.Record, mark func(*kgo.Record)) error {
	// The stages end with Run: a stage still retrying when Run fails is cancelled.
	sctx, stop := context.WithCancel(ctx)
	var stages conc.WaitGroup
	stages.Go(func() {
		defer close(w.recorded)
		for s := range w.jobs {
			s.err = w.guard(func() error { return w.record(sctx, s, mark) })
			w.recorded <- s
		}
	})
	stages.Go(func() {
		// After a batch failed, no later one is stored or marked: its mark would
		// commit the failed batch's offsets too.
		var failed error
		for s := range w.recorded {
			err := cmp.Or(failed, s.err)
			if err == nil {
				err = w.guard(func() error { return w.store(s) })
			} else {
				s.ft.end(err)
			}
			failed = err
			w.results <- err
		}
	})
	defer func() {
		stop()
		close(w.jobs)
		stages.Wait()
		w.unreport()
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		// A failed store ends Run at once, not at the partition's next flush, which
		// may never come.
		var stored <-chan error
		if w.inflight > 0 {
			stored = w.results
		}
		select {
		case err := <-stored:
			w.inflight--
			if err != nil {
				return err
			}
		case recs, ok := <-in:
			if !ok {
				if w.cut.drainMayFlush() {
					if err := w.flush(ctx); err != nil {
						return err
					}
				}
				return w.settle(ctx, 0)
			}
			if err := w.process(ctx, recs); err != nil {
				return err
			}
			w.recycle(recs)
			if w.backlog && w.cut.timerMayFlush() && w.atEnd() {
				if err := w.flush(ctx); err != nil {
					return err
				}
			}
			if w.cut.open() {
				timer.Reset(time.Until(w.due))
			} else {
				timer.Stop()
			}
		case <-timer.C:
			if w.cut.timerMayFlush() && !w.catchingUp(time.Now()) {
				if err := w.flush(ctx); err != nil {
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

// SetHighWatermark gives the worker its partition's high watermark as of the latest
// fetch, before Run (consumers.HighWatermarkSetter): see atEnd.
func (w *Worker) SetHighWatermark(high func() int64) { w.high = high }

// atEnd reports whether the batch's last record is the last one its partition held
// at the latest fetch. A batch that reaches the end of a backlog (the batch before
// was flushed at its size limits while the partition was catching up, see
// catchUp) is flushed then, not at its interval: its events are late already. A
// partition that keeps up is never catching up, so it still flushes at its
// interval, and a backlog adds at most one part.
func (w *Worker) atEnd() bool {
	return w.high != nil && w.lastRec != nil && w.lastRec.Offset+1 >= w.high()
}

// catchUp reports whether a batch flushed at its size limits at the record at off,
// in a slice whose last record is at last, leaves the partition catching up: more
// than that slice waits (queued for the worker, or not fetched yet), or the
// partition was catching up before and records follow off.
func (w *Worker) catchUp(off, last int64) bool {
	if w.high == nil {
		return false
	}
	high := w.high()
	return w.queued != nil && w.queued() > 0 || last+1 < high || w.backlog && off+1 < high
}

// catchingUp reports whether the batch, due now, may stay open because its
// partition holds more records than the worker has: fetched slices wait for it, or
// the latest fetch's high watermark is beyond the batch's last record (see
// backlogStretch). A worker's first batch is never held: its rows show that the
// partition flows.
func (w *Worker) catchingUp(now time.Time) bool {
	if !w.flushed || !now.Before(w.cur.opened.Add(backlogStretch*w.p.opts.FlushInterval)) {
		return false
	}
	return w.queued != nil && w.queued() > 0 ||
		w.high != nil && w.lastRec != nil && w.lastRec.Offset+1 < w.high()
}

// process adds a fetched slice to the batch, flushing where the ledger or the limits say.
func (w *Worker) process(ctx context.Context, recs []*kgo.Record) error {
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
	// last is the batch's last record while the loop runs; w.lastRec is set from it
	// only to flush and at the end, since a pointer stored into the Worker per
	// record costs a GC write barrier while the collector marks.
	var last *kgo.Record
	// flushHere stores the batch without holding a decode slot.
	flushHere := func() error {
		if last != nil {
			w.lastRec, last = last, nil
		}
		w.p.release()
		held = false
		if err := w.flush(ctx); err != nil {
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
	// m is what Add learns of each record: the partition's part is set once per
	// slice, the record's own part per record.
	m := &w.meta
	m.Topic, m.TopicID, m.Partition, m.IngestedAt = w.topic, w.topicID, w.partition, now
	for i, r := range recs {
		if j := i + recordAhead; j < len(recs) {
			prefetchRecord(recs[j], &recs[min(i+pointersAhead, len(recs)-1)])
		}
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
		last = r
		w.n++
		ts := r.Timestamp.UnixNano()
		if ts > w.maxTS {
			w.maxTS = ts
		}
		m.Offset, m.Timestamp = r.Offset, r.Timestamp
		err := w.cur.batch.Add(r.Value, m)
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
			backlog := limits && w.catchUp(r.Offset, recs[len(recs)-1].Offset)
			if err := flushHere(); err != nil {
				return err
			}
			w.backlog = backlog
		}
	}
	if last != nil {
		w.lastRec = last
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

// recycle gives the records of a processed slice back to the client's buffers
// (consumers.Worker): the batch copied what it keeps, a dead letter holds a copy
// of its record, and the batch's last record is kept as the copy mark needs.
func (w *Worker) recycle(recs []*kgo.Record) {
	if w.lastRec != nil {
		w.last = markable(w.lastRec)
		w.lastRec = &w.last
	}
	for _, r := range recs {
		r.Recycle()
	}
}

// markable is what mark needs of r (the client's MarkCommitRecords: topic,
// partition, leader epoch and offset), as a copy that outlives r.
func markable(r *kgo.Record) kgo.Record {
	return kgo.Record{Topic: r.Topic, Partition: r.Partition, LeaderEpoch: r.LeaderEpoch, Offset: r.Offset, Timestamp: r.Timestamp}
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
// from the first offset on, and the event ids stored before it. The two reads
// run at the same time (neither depends on the other's result), so a new owner's
// first records wait for the slower of them, not for both in turn.
func (w *Worker) start(ctx context.Context, first *kgo.Record) error {
	o := &w.p.opts
	w.cut.part.TopicID = w.topicID
	var (
		ranges    []Range
		rangesErr error
		read      conc.WaitGroup
	)
	if !o.AtLeastOnce {
		read.Go(func() {
			rangesErr = w.retry(ctx, "read ledger", func(ctx context.Context) error {
				var err error
				ranges, err = w.p.deps.Ledger.Ranges(ctx, w.topic, w.topicID, w.partition, first.Offset)
				return err
			})
		})
	}
	idsErr := w.startDedup(ctx, first)
	read.Wait()
	if err := cmp.Or(rangesErr, idsErr); err != nil {
		return err
	}
	if !o.AtLeastOnce {
		ranges, err := w.ownRanges(ranges, first.Offset)
		if err != nil {
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
	return nil
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

// flush hands the current batch to the stages and switches to the other batch,
// waiting until the batch before it is stored. A batch cut at a ledger range takes
// that range (its records and token are the first attempt's); any other batch is
// recorded in the ledger first (by record).
func (w *Worker) flush(ctx context.Context) error {
	r, replay := w.cut.take()
	s := w.cur
	s.r, s.replay, s.last, s.n = r, replay, markable(w.lastRec), w.n
	bytes := int64(w.filled())
	w.sizes = w.sizes[:0]
	if z, ok := s.batch.(schemas.Sizer); ok {
		w.sizes = z.Sizes(w.sizes) // now: the stages own s once it is sent
	}
	if w.dd != nil {
		// The filter admits into the next batch's ids only after settle below.
		s.pending = w.dd.pending
	}
	select {
	case w.jobs <- s:
		w.inflight++
		w.flushed = true
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := w.settle(ctx, 1); err != nil {
		return err
	}
	next := w.spare
	if w.dd != nil {
		next.pending.reset()
		w.dd.pending = next.pending
	}
	was := w.held.spare // next's bytes when it was flushed
	w.held.spare = bytes
	w.reuse(next, was)
	w.cur, w.spare = next, s
	w.backlog = false
	w.n = 0
	w.lastRec, w.due = nil, time.Time{}
	if w.dd != nil {
		w.dd.prune(w.maxTS)
	}
	w.report()
	return nil
}

// settle waits until at most upTo batches are in flight and returns the first
// error of those it waited for.
func (w *Worker) settle(ctx context.Context, upTo int) error {
	for w.inflight > upTo {
		select {
		case err := <-w.results:
			w.inflight--
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// guard runs a stage's fn, turning a panic into its error: a panic while storing
// must end Run with an error, not leave the worker waiting for an answer forever.
func (w *Worker) guard(fn func() error) (err error) {
	var pc panics.Catcher
	pc.Try(func() { err = fn() })
	if r := pc.Recovered(); r != nil {
		err = fmt.Errorf("store %s/%d: %w", w.topic, w.partition, r.AsError())
	}
	return err
}
