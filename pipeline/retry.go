package pipeline

import "context"

// retry calls fn until it succeeds or ctx is done, backing off exponentially between
// attempts. A transient failure is told by the Pipeline's outage (one line when the
// outage starts, one when it ends) and backs off up to RetryMax. A permanent one
// (Deps.Permanent: nothing changes until an operator fixes the schema or the
// grants) reports the partition blocked (BlockedClickHouse, logged at most once a
// minute with the error, which says what to do) and backs off up to ProbeMax, so
// the partition resumes by itself once fixed. Each attempt is logged at debug
// level, never per event.
func (w *Worker) retry(ctx context.Context, what string, fn func(context.Context) error) (result error) {
	o := &w.p.opts
	wait := o.RetryMin
	inOutage := false
	defer func() {
		if inOutage {
			w.p.outage.end(result == nil)
		}
		w.unblock(&w.chBlock, result == nil, "ClickHouse accepts the partition's calls again; it resumes")
	}()
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 {
				w.log.DebugContext(ctx, what+" recovered", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.p.stats.StoreRetries.Add(1)
		limit := o.RetryMax
		if p := w.p.deps.Permanent; p != nil && p(err) {
			w.block(&w.chBlock, err, 1, "ClickHouse refuses the partition's "+what+" until it is fixed; nothing of it is committed meanwhile and it is retried")
			limit = o.ProbeMax
		} else {
			w.p.outage.fail(partitionKey{w.topic, w.partition}, !inOutage, err)
			inOutage = true
		}
		w.log.DebugContext(ctx, what+" failed; retrying", "attempt", attempt, "backoff", wait, "err", err)
		if err := pause(ctx, wait); err != nil {
			return err
		}
		wait = min(wait*2, limit)
	}
}
