package pipeline

import (
	"context"
	"time"
)

// retry calls fn until it succeeds or ctx is done, backing off exponentially between
// attempts. Each failure is logged: one line per attempt, never per event.
func (w *Worker) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	o := &w.p.opts
	wait := o.RetryMin
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 {
				w.log.InfoContext(ctx, what+" recovered", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.p.stats.StoreRetries.Add(1)
		w.log.WarnContext(ctx, what+" failed; retrying", "attempt", attempt, "backoff", wait, "err", err)
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
