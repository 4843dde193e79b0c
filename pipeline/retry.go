package pipeline

import (
	"context"
	"time"
)

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
