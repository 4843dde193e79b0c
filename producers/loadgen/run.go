package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Sink publishes one record asynchronously. Produce may block while the sink is full
// (backpressure) and must call done exactly once, from any goroutine, when the record
// is stored or failed; done does not block. key and value are not modified afterwards.
// *producers.Publisher satisfies Sink.
type Sink interface {
	Produce(ctx context.Context, topic string, key, value []byte, done func(error))
}

// TimestampSink is implemented by sinks that can publish with a given record
// timestamp; Run then publishes every record at its Record.Timestamp.
type TimestampSink interface {
	ProduceAt(ctx context.Context, topic string, key, value []byte, ts time.Time, done func(error))
}

// Flusher is implemented by sinks that buffer; Run flushes them before returning.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Source is a stream of records to publish: Next returns the next one, or false at
// the end. *Generator is one; schema-driven generators are others.
type Source interface {
	Next() (Record, bool)
}

// RunOptions bound and pace a Run. Zero values mean "no limit".
type RunOptions struct {
	// Rate is the target records per second; 0 publishes as fast as the sink accepts.
	Rate float64
	// Count stops after this many records; the generator's own end also stops Run.
	Count int64
	// Duration stops after this much wall time.
	Duration time.Duration
	// MaxInFlight bounds records handed to the sink but not yet done (default 8192).
	MaxInFlight int
	// Progress, when set, is called from Run's goroutine about every ProgressEvery
	// (default 1s) and once at the end.
	Progress      func(RunStats)
	ProgressEvery time.Duration
}

// RunStats describes a Run so far.
type RunStats struct {
	Records int64         // handed to the sink
	Bytes   int64         // value bytes handed to the sink
	Acked   int64         // done without error
	Elapsed time.Duration // wall time since Run started
}

// Run publishes gen's records to sink until the generator is exhausted, a limit in opt
// is reached, ctx is done, or the sink fails a record. It returns only after every
// record it handed to the sink is done (it flushes a Flusher sink first), so the
// generator's truth then describes exactly what was published — provided the error is nil. The first
// sink error stops Run and is returned; ctx's error is returned if ctx ended first.
func Run(ctx context.Context, sink Sink, gen Source, opt RunOptions) (RunStats, error) {
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 8192
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = time.Second
	}
	var (
		st       RunStats
		mu       sync.Mutex // guards acked and firstErr
		acked    int64
		firstErr error
		failed   = make(chan struct{})
		sem      = make(chan struct{}, opt.MaxInFlight)
	)
	done := func(err error) {
		mu.Lock()
		if err == nil {
			acked++
		} else if firstErr == nil {
			firstErr = err
			close(failed)
		}
		mu.Unlock()
		<-sem
	}
	start := time.Now()
	nextProgress := start.Add(opt.ProgressEvery)
	var timer *time.Timer
	stats := func() RunStats {
		mu.Lock()
		defer mu.Unlock()
		st.Acked, st.Elapsed = acked, time.Since(start)
		return st
	}

	var stopErr error
loop:
	for opt.Count <= 0 || st.Records < opt.Count {
		now := time.Now()
		if opt.Duration > 0 && now.Sub(start) >= opt.Duration {
			break
		}
		if opt.Progress != nil && !now.Before(nextProgress) {
			opt.Progress(stats())
			nextProgress = now.Add(opt.ProgressEvery)
		}
		if opt.Rate > 0 {
			due := start.Add(time.Duration(float64(st.Records) / opt.Rate * float64(time.Second)))
			if wait := due.Sub(now); wait > time.Millisecond {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					stopErr = ctx.Err()
					break loop
				case <-failed:
					break loop
				}
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			stopErr = ctx.Err()
			break loop
		case <-failed:
			break loop
		}
		rec, ok := gen.Next()
		if !ok {
			<-sem
			break
		}
		st.Records++
		st.Bytes += int64(len(rec.Value))
		if ts, ok := sink.(TimestampSink); ok {
			ts.ProduceAt(ctx, rec.Topic, rec.Key, rec.Value, rec.Timestamp, done)
		} else {
			sink.Produce(ctx, rec.Topic, rec.Key, rec.Value, done)
		}
	}
	if timer != nil {
		timer.Stop()
	}
	if f, ok := sink.(Flusher); ok && stopErr == nil {
		if err := f.Flush(ctx); err != nil {
			stopErr = fmt.Errorf("loadgen: flush: %w", err)
		}
	}
	// Wait for every record handed out: each done releases one slot.
	for range opt.MaxInFlight {
		sem <- struct{}{}
	}
	final := stats()
	if opt.Progress != nil {
		opt.Progress(final)
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return final, fmt.Errorf("loadgen: publish: %w", firstErr)
	}
	return final, stopErr
}
