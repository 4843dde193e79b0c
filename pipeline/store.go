package pipeline

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/schemas"
)

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
	dl      letters // the batch's dead letters, delivered before its offsets are marked

	// Set when the batch is handed to the stages.
	r      Range
	replay bool
	last   kgo.Record // what mark needs of the batch's last record (markable)
	n      int64

	// Set by the record stage for the store stage: what to insert, the flush's
	// context, mark and span (traceFlush), or why the batch cannot be stored.
	blocks []schemas.Block
	ctx    context.Context
	mark   func(*kgo.Record)
	ft     *flushTrace
	err    error

	fresh  sampler // Kafka timestamps of a spread of the batch's valid events
	report Flush   // what the Observer is told, kept here so telling it allocates nothing

	// When the batch opened (for tracing, trace.go, and how long a catching-up
	// batch may stay open, Worker.catchingUp), and its records' sampled trace
	// contexts.
	opened       time.Time
	links        []trace.Link
	linksDropped int
}

func newSlot(b schemas.Batch) *slot {
	return &slot{batch: b, reasons: make(map[string]int64)}
}

// repair checks what the flush of r left in ClickHouse after an unknown outcome
// and stores what is missing (Deps.Repair), retrying like the store.
func (w *Worker) repair(ctx context.Context, r Range, blocks []schemas.Block) error {
	var lost, unrepaired int
	token := Token(r)
	if err := w.retry(ctx, "verify batch", func(ctx context.Context) (err error) {
		lost, unrepaired, err = w.p.deps.Repair.Repair(ctx, r, blocks)
		return err
	}); err != nil {
		return err
	}
	w.p.stats.Verified.Add(1)
	if lost > 0 {
		w.p.stats.Repaired.Add(int64(lost - unrepaired))
		w.log.WarnContext(ctx, "ClickHouse had dropped rows of a flush while keeping its token (a server crash mid-insert); stored them again",
			"token", token, "rows", lost-unrepaired)
	}
	if unrepaired > 0 {
		w.log.WarnContext(ctx, "rows of a flush are still missing after repeated re-inserts ClickHouse accepted; a TTL or a DELETE on the table removes them",
			"token", token, "rows", unrepaired)
	}
	return nil
}

// record runs in the record stage: it waits for the batch's dead letters, builds
// its blocks and records its range in the ledger, where no earlier attempt did. It
// may run while the batch before is being stored: what must hold is that a range is
// recorded before its own blocks are stored (docs/exactly-once.md, point 2).
func (w *Worker) record(ctx context.Context, s *slot, mark func(*kgo.Record)) error {
	ctx, s.mark, s.ft = w.traceFlush(ctx, s, mark)
	s.ctx = ctx
	// Dead letters are part of the batch: none may be lost when its offsets commit.
	if err := w.deliver(ctx, s); err != nil {
		return err
	}
	if m, ok := s.batch.(schemas.FlushMarker); ok && w.p.deps.Repair != nil {
		m.SetFlush(Token(s.r))
	}
	s.blocks = s.batch.Blocks()
	if s.pending.len() > 0 {
		s.blocks = append(s.blocks, w.dedupBlock(ctx, s))
	}
	if len(s.blocks) > 0 && !s.replay && !w.p.opts.AtLeastOnce {
		return w.retry(ctx, "write ledger", func(ctx context.Context) error {
			return w.p.deps.Ledger.Intend(ctx, s.r)
		})
	}
	return nil
}

// store runs in the store stage, on the batches record prepared, in order: it
// inserts the batch's blocks and marks its last record.
func (w *Worker) store(s *slot) (err error) {
	ctx, mark, blocks := s.ctx, s.mark, s.blocks
	defer func() {
		s.ft.end(err)
		s.blocks, s.ctx, s.mark, s.ft = nil, nil, nil, nil
	}()
	token := Token(s.r)
	if len(blocks) > 0 {
		start := time.Now()
		// A replayed range may have been stored by an owner that died with the
		// outcome unknown; so may a flush whose Store failed once.
		unknown := s.replay
		if err := w.retry(ctx, "store batch", func(ctx context.Context) error {
			if w.p.opts.AtLeastOnce {
				token = Token(s.r) + "@" + strconv.FormatInt(time.Now().UnixNano(), 36)
			}
			err := w.p.deps.Sink.Store(ctx, token, blocks)
			unknown = unknown || err != nil
			return err
		}); err != nil {
			return err
		}
		if unknown && w.p.deps.Repair != nil && !w.p.opts.AtLeastOnce {
			if err := w.repair(ctx, s.r, blocks); err != nil {
				return err
			}
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
		w.observe(s, token, blocks, time.Now())
	}
	s.fresh.reset()
	mark(&s.last)
	w.p.stats.Committable.Add(s.n)
	w.ts.Committable.Add(s.n)
	w.checkInvalid(s)
	if len(s.reasons) > 0 {
		w.ts.addInvalidReasons(s.reasons)
		clear(s.reasons)
	}
	s.last = kgo.Record{}
	return nil
}
