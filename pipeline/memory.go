package pipeline

import "github.com/sluicehq/sluice/schemas"

// Memory is the process's memory budget that the workers size their batches
// from, shared among the partitions owned now. It is safe for
// concurrent use and cheap: a worker calls it once per fetched slice or per flush,
// never per event.
type Memory interface {
	// BatchBytes is the size at which a batch is flushed now, for a worker whose
	// batches hold own bytes as it last reported with Hold (Options.MaxBytes still
	// caps it). It may follow what the other workers hold.
	BatchBytes(own int64) int
	// Hold adds deltas to the batch bytes and remembered ids the workers hold.
	Hold(batchBytes, ids int64)
}

// memoryHeld is what one worker has reported to Deps.Memory; the worker goroutine
// owns it.
type memoryHeld struct {
	spare int64 // bytes of the other batch, as it was when flushed
	bytes int64 // reported batch bytes
	ids   int64 // reported remembered ids
}

// maxBytes is the size at which the worker's batch is flushed now.
func (w *Worker) maxBytes() int {
	o := &w.p.opts
	if m := w.p.deps.Memory; m != nil {
		return min(o.MaxBytes, m.BatchBytes(w.held.bytes))
	}
	return o.MaxBytes
}

// filled is the size of the batch being filled, for its byte limits and the
// budget: its Bytes and the event ids it keeps for the duplicate filter's table,
// which grow with it (in a rollups-only pipeline as much as its rollups).
func (w *Worker) filled() int {
	n := w.cur.batch.Bytes()
	if w.dd != nil {
		n += w.dd.pending.bytes()
	}
	return n
}

// reuse empties the batch of s, which held was bytes when it was flushed, for
// the worker to fill. A batch keeps the memory its columns grew to, which it does
// not report once empty; so one that grew well beyond the batches the worker
// fills now (it took memory idle partitions left, and they need it back) is
// replaced by a new one instead, and its memory given back.
func (w *Worker) reuse(s *slot, was int64) {
	limit := 2 * int64(w.maxBytes())
	if w.renew != nil && was > limit {
		s.batch = w.renew()
	} else {
		s.batch.Reset()
	}
	// A new batch reserves the columns of the batch flushed last (w.sizes, of
	// w.held.spare bytes), scaled up to the size at which it is flushed but at
	// most doubled, so that it does not grow them from empty (unless that one too
	// grew beyond what the worker fills now).
	z, ok := s.batch.(schemas.Sizer)
	if !ok || w.held.spare <= 0 || w.held.spare > limit {
		return
	}
	if full := min(int64(w.maxBytes()), 2*w.held.spare); full > w.held.spare {
		for i, n := range w.sizes {
			w.sizes[i] = int(int64(n) * full / w.held.spare)
		}
	}
	z.Reserve(w.sizes)
}

// report tells Deps.Memory what the worker's batches and filter hold now.
func (w *Worker) report() {
	m := w.p.deps.Memory
	if m == nil {
		return
	}
	bytes := int64(w.filled()) + w.held.spare
	var ids int64
	if w.dd != nil {
		ids = int64(w.dd.len())
	}
	if db, di := bytes-w.held.bytes, ids-w.held.ids; db != 0 || di != 0 {
		m.Hold(db, di)
		w.held.bytes, w.held.ids = bytes, ids
	}
}

// unreport gives back everything the worker reported, when Run returns.
func (w *Worker) unreport() {
	if m := w.p.deps.Memory; m != nil && (w.held.bytes != 0 || w.held.ids != 0) {
		m.Hold(-w.held.bytes, -w.held.ids)
		w.held.bytes, w.held.ids = 0, 0
	}
}
