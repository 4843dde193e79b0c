package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/panics"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/schemas"
)

// EventIDsTable is the table the admitted event ids of every flush go to, so that the
// producer-duplicate filter can be rebuilt after a restart. EventIDsColumns are its
// columns, in the order of the Block the pipeline builds: []string, []string, []int32,
// []int64, []string, []time.Time.
const EventIDsTable = "sluice_event_ids"

// EventIDsColumns lists the columns of EventIDsTable in Block order.
var EventIDsColumns = []string{"group", "topic", "partition", "offset", "event_id", "ts"}

// firstFlush bounds how long a worker's first batch waits (FlushInterval if shorter).
const firstFlush = 100 * time.Millisecond

// Pipeline builds the Workers of one consumer group. It is safe for concurrent use.
type Pipeline struct {
	opts  Options
	deps  Deps
	slots chan struct{} // decode slots shared by all workers
	stats *Stats
	log   *slog.Logger
	// outage tells of failing store calls once for all workers.
	outage *outage
}

// New returns a Pipeline. Options are defaulted where zero.
func New(o Options, d Deps) *Pipeline {
	o.defaults()
	if d.Stats == nil {
		d.Stats = new(Stats)
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{opts: o, deps: d, slots: make(chan struct{}, o.Workers), stats: d.Stats, log: d.Logger,
		outage: newOutage(d.Logger)}
}

// Stats returns the counters all workers add to.
func (p *Pipeline) Stats() *Stats { return p.stats }

// Worker returns the worker for one partition of a configured topic, or nil when the
// topic is not one of Options.Topics.
func (p *Pipeline) Worker(topic string, partition int32) *Worker {
	newBatch, ok := p.opts.Topics[topic]
	if !ok {
		return nil
	}
	w := &Worker{
		p:         p,
		topic:     topic,
		partition: partition,
		first:     -1,
		log:       p.log.With("topic", topic, "partition", partition),
		jobs:      make(chan *slot),
		results:   make(chan error, 1),
	}
	bo := p.opts.Batch
	bo.Dedup = nil
	if p.opts.DedupHorizon > 0 {
		w.dd = newDedup(p.opts.DedupHorizon, p.opts.DedupMaxIDs)
		bo.Dedup = w.dd
	}
	w.cur, w.spare = newSlot(newBatch(bo)), newSlot(newBatch(bo))
	return w
}

// slot is one of a worker's two batches: while one is being stored, the worker
// decodes into the other. Everything a flush needs travels in its slot.
type slot struct {
	batch   schemas.Batch
	pending pendingIDs // ids the dedup filter admitted into this batch
	ids     idColumns
	// reasons counts the batch's dead letters by reason; it is added to Stats when
	// the batch is stored, so counting costs no lock and, once a reason was seen, no
	// allocation.
	reasons map[string]int64
	dlq     sync.WaitGroup // dead letters of this batch not yet acknowledged
	dlqErr  atomic.Pointer[error]
	dlqDone func(error)

	// Set when the batch is handed to the store goroutine.
	r       Range
	replay  bool
	lastRec *kgo.Record
	n       int64
}

func newSlot(b schemas.Batch) *slot {
	s := &slot{batch: b, reasons: make(map[string]int64)}
	s.dlqDone = func(err error) {
		if err != nil {
			s.dlqErr.CompareAndSwap(nil, &err)
		}
		s.dlq.Done()
	}
	return s
}

// Worker turns the records of one partition into stored batches. It is driven by one
// goroutine, the caller of Run.
type Worker struct {
	p         *Pipeline
	topic     string
	partition int32
	dd        *dedup
	log       *slog.Logger

	// cur is the batch being filled, spare the other one. At most one batch is being
	// stored at a time (inflight), by the goroutine Run starts, which takes slots
	// from jobs and answers each on results.
	cur, spare *slot
	inflight   bool
	jobs       chan *slot
	results    chan error

	started bool
	cuts    []Range // ledger ranges still to replay, ordered by First

	first, last int64       // offsets of the batch's first and last records; first < 0 when empty
	n           int64       // records in the batch, valid or not
	lastRec     *kgo.Record // the batch's last record, marked after the flush
	maxTS       int64       // newest record timestamp seen, for pruning the dedup filter
	due         time.Time   // when the batch must be flushed
	flushed     bool        // a batch was handed to the store goroutine

	invalid invalidWatch // the store goroutine's: warns of an (almost) all-invalid partition
}

// idColumns holds the event-ids block's columns that the pending ids do not
// have, reused across flushes.
type idColumns struct {
	group, topic schemas.DictColumn
	partition    []int32
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
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case recs, ok := <-in:
			if !ok {
				if w.first < 0 {
					return w.settle(ctx)
				}
				if len(w.cuts) > 0 && w.first == w.cuts[0].First && w.last < w.cuts[0].Last {
					// Revoked in the middle of replaying a recorded range: a partial
					// flush under the range's token would be dropped by ClickHouse,
					// yet mark its records done. Leave the whole range to the next
					// owner instead.
					return w.settle(ctx)
				}
				if err := w.flush(ctx, mark); err != nil {
					return err
				}
				return w.settle(ctx)
			}
			if err := w.process(ctx, recs, mark); err != nil {
				return err
			}
			if w.first >= 0 {
				timer.Reset(time.Until(w.due))
			} else {
				timer.Stop()
			}
		case <-timer.C:
			if w.first >= 0 && len(w.cuts) == 0 {
				if err := w.flush(ctx, mark); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *Worker) acquire(ctx context.Context) error {
	select {
	case w.p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Worker) release() { <-w.p.slots }

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
	if err := w.acquire(ctx); err != nil {
		return err
	}
	held := true
	defer func() {
		if held {
			w.release()
		}
	}()
	// flushHere stores the batch without holding a decode slot.
	flushHere := func() error {
		w.release()
		held = false
		if err := w.flush(ctx, mark); err != nil {
			return err
		}
		if err := w.acquire(ctx); err != nil {
			return err
		}
		held = true
		return nil
	}
	o := &w.p.opts
	var valid, invalid, dups int64
	now := time.Now()
	for _, r := range recs {
		// A replay must cut where the first attempt cut: close a batch that would
		// otherwise run into or past a recorded range.
		if len(w.cuts) > 0 && w.first >= 0 {
			c := w.cuts[0]
			if (w.first < c.First && r.Offset >= c.First) || r.Offset > c.Last {
				if err := flushHere(); err != nil {
					return err
				}
			}
		}
		for len(w.cuts) > 0 && w.first < 0 && w.cuts[0].Last < r.Offset {
			w.cuts = w.cuts[1:]
		}
		if w.first < 0 {
			w.first = r.Offset
			w.due = now.Add(o.FlushInterval)
			if !w.flushed {
				// A worker's first batch is stored sooner, so rows appear within
				// a fraction of a second of a start or a rebalance.
				w.due = now.Add(min(o.FlushInterval, firstFlush))
			}
		}
		w.last = r.Offset
		w.lastRec = r
		w.n++
		ts := r.Timestamp.UnixNano()
		if ts > w.maxTS {
			w.maxTS = ts
		}
		if w.dd != nil {
			w.dd.ts, w.dd.offset = ts, r.Offset
		}
		err := w.cur.batch.Add(r.Value, schemas.Meta{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, IngestedAt: now, Timestamp: r.Timestamp})
		switch {
		case err == nil:
			valid++
		case errors.Is(err, schemas.ErrDuplicate):
			dups++
		default:
			invalid++
			w.deadLetter(ctx, r, err)
		}
		if len(w.cuts) > 0 && w.first >= w.cuts[0].First {
			if r.Offset >= w.cuts[0].Last {
				if err := flushHere(); err != nil {
					return err
				}
			}
			continue
		}
		if w.cur.batch.Events() >= o.MaxRows || w.cur.batch.Bytes() >= o.MaxBytes {
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
	s := w.cur
	s.reasons[reason]++
	s.dlq.Add(1)
	w.p.deps.DLQ.Send(ctx, r, reason, detail, s.dlqDone)
}

// start loads what earlier owners of the partition left: the ledger ranges to replay
// from the first offset on, and the event ids stored before it.
func (w *Worker) start(ctx context.Context, first *kgo.Record) error {
	o := &w.p.opts
	if o.AtLeastOnce {
		w.started = true
		return w.startDedup(ctx, first)
	}
	err := w.retry(ctx, "read ledger", func(ctx context.Context) error {
		cuts, err := w.p.deps.Ledger.Ranges(ctx, o.Group, w.topic, w.partition, first.Offset)
		w.cuts = cuts
		return err
	})
	if err != nil {
		return err
	}
	if len(w.cuts) > 0 {
		if w.cuts[0].First < first.Offset {
			// Only an operator's offset reset starts inside a stored range; its rows
			// before first.Offset are stored already and those after are stored again.
			w.log.Warn("replay starts inside a stored range; its remainder is stored under a new token",
				"first", first.Offset, "range_first", w.cuts[0].First, "range_last", w.cuts[0].Last)
			w.cuts = w.cuts[1:]
		}
		if len(w.cuts) > 0 {
			w.log.Info("replaying ledger ranges", "ranges", len(w.cuts), "from", w.cuts[0].First, "to", w.cuts[len(w.cuts)-1].Last)
		}
	}
	w.started = true
	return w.startDedup(ctx, first)
}

// startDedup rebuilds the producer-duplicate filter from the ids stored before first.
func (w *Worker) startDedup(ctx context.Context, first *kgo.Record) error {
	o := &w.p.opts
	if w.dd != nil {
		since := first.Timestamp.Add(-o.DedupHorizon - dedupSlack)
		n := 0
		err := w.retry(ctx, "load event ids", func(ctx context.Context) error {
			w.dd.reset()
			n = 0
			return w.p.deps.SeenIDs.SeenIDs(ctx, o.Group, w.topic, w.partition, first.Offset, since, o.DedupMaxIDs, func(id string, ts int64) {
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

// Token is the deduplication token of the flush of r.
func Token(r Range) string {
	b := make([]byte, 0, len(r.Group)+len(r.Topic)+48)
	b = append(b, r.Group...)
	b = append(b, ':')
	b = append(b, r.Topic...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, r.First, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.Last, 10)
	return string(b)
}

// flush hands the current batch to the store goroutine and switches to the other
// batch, first waiting for the previous store if it is still running. A batch cut at
// a ledger range takes that range (its records and token are the first attempt's);
// any other batch is recorded in the ledger first (by store).
func (w *Worker) flush(ctx context.Context, mark func(*kgo.Record)) error {
	r := Range{Group: w.p.opts.Group, Topic: w.topic, Partition: w.partition, First: w.first, Last: w.last}
	replay := false
	if len(w.cuts) > 0 && w.cuts[0].First == w.first {
		r, replay = w.cuts[0], true
		w.cuts = w.cuts[1:]
	}
	if err := w.settle(ctx); err != nil {
		return err
	}
	s := w.cur
	s.r, s.replay, s.lastRec, s.n = r, replay, w.lastRec, w.n
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
	next.batch.Reset()
	w.cur, w.spare = next, s
	w.n = 0
	w.first, w.lastRec, w.due = -1, nil, time.Time{}
	if w.dd != nil {
		w.dd.prune(w.maxTS)
	}
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

// store runs in the store goroutine: it waits for the batch's dead letters, records
// its range in the ledger, inserts its blocks, and marks its last record.
func (w *Worker) store(ctx context.Context, s *slot, mark func(*kgo.Record)) error {
	// Dead letters are part of the batch: none may be lost when its offsets commit.
	s.dlq.Wait()
	if p := s.dlqErr.Load(); p != nil {
		return fmt.Errorf("dead-letter %s/%d: %w", w.topic, w.partition, *p)
	}
	blocks := s.batch.Blocks()
	if s.pending.len() > 0 {
		blocks = append(blocks, w.idsBlock(s))
	}
	if len(blocks) > 0 {
		if !s.replay && !w.p.opts.AtLeastOnce {
			if err := w.retry(ctx, "write ledger", func(ctx context.Context) error {
				return w.p.deps.Ledger.Intend(ctx, s.r)
			}); err != nil {
				return err
			}
		}
		token := Token(s.r)
		start := time.Now()
		if err := w.retry(ctx, "store batch", func(ctx context.Context) error {
			if w.p.opts.AtLeastOnce {
				token = Token(s.r) + "@" + strconv.FormatInt(time.Now().UnixNano(), 36)
			}
			return w.p.deps.Sink.Store(ctx, token, blocks)
		}); err != nil {
			return err
		}
		st := w.p.stats
		st.StoreNanos.Add(int64(time.Since(start)))
		st.Flushes.Add(1)
		rows := 0
		for _, b := range blocks {
			rows += b.Rows
		}
		st.Rows.Add(int64(rows))
		if s.replay {
			st.Replays.Add(1)
		}
	}
	mark(s.lastRec)
	w.p.stats.Committable.Add(s.n)
	w.checkInvalid(s)
	if len(s.reasons) > 0 {
		w.p.stats.addInvalidReasons(s.reasons)
		clear(s.reasons)
	}
	s.lastRec = nil
	return nil
}

func (w *Worker) idsBlock(s *slot) schemas.Block {
	c := &s.ids
	c.group.Reset()
	c.topic.Reset()
	c.partition = c.partition[:0]
	c.group.AppendN(w.p.opts.Group, s.pending.len())
	c.topic.AppendN(w.topic, s.pending.len())
	for range s.pending.len() {
		c.partition = append(c.partition, w.partition)
	}
	return schemas.Block{
		Table:   EventIDsTable,
		Names:   EventIDsColumns,
		Columns: []any{c.group, c.topic, c.partition, s.pending.offset, s.pending.ids, s.pending.ts},
		Rows:    s.pending.len(),
	}
}

// retry calls fn until it succeeds or ctx is done, backing off exponentially between
// attempts. Failures are told by the Pipeline's outage (one line when the outage
// starts, one when it ends); each attempt is logged at debug level, never per event.
func (w *Worker) retry(ctx context.Context, what string, fn func(context.Context) error) (result error) {
	o := &w.p.opts
	wait := o.RetryMin
	failed := false
	defer func() {
		if failed {
			w.p.outage.end(result == nil)
		}
	}()
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 {
				w.log.Debug(what+" recovered", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.p.stats.StoreRetries.Add(1)
		w.p.outage.fail(partitionKey{w.topic, w.partition}, !failed, err)
		failed = true
		w.log.Debug(what+" failed; retrying", "attempt", attempt, "backoff", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(wait*2, o.RetryMax)
	}
}
