package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// deadLetterStall is how long a batch's dead letters may stay unanswered (the
// client retrying an unreachable broker) before the partition is reported blocked.
const deadLetterStall = 10 * time.Second

// letter is one dead letter of a batch, kept until the batch is stored so that a
// failed one can be sent again.
type letter struct {
	rec            *kgo.Record
	reason, detail string
}

// letters are the dead letters of one batch and their acknowledgements. The worker
// appends to list while the batch fills; the record stage reads it once the batch
// is handed over. The client's callbacks touch only the fields under mu.
type letters struct {
	list []letter

	mu     sync.Mutex
	out    int           // sent, not answered yet
	idle   chan struct{} // closed when out drops to 0; nil while nobody waits
	failed []int         // indexes into list of the failed ones
	err    error         // the last failure
}

// closed is a channel that is always ready.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// send publishes list[i] through dlq; its answer is recorded in d.
func (d *letters) send(ctx context.Context, dlq DeadLetters, i int) {
	d.mu.Lock()
	d.out++
	d.mu.Unlock()
	l := &d.list[i]
	dlq.Send(ctx, l.rec, l.reason, l.detail, func(err error) { d.answered(i, err) })
}

func (d *letters) answered(i int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.failed = append(d.failed, i)
		d.err = err
	}
	if d.out--; d.out == 0 && d.idle != nil {
		close(d.idle)
		d.idle = nil
	}
}

// settled returns a channel that is closed once every sent dead letter is answered.
func (d *letters) settled() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.out == 0 {
		return closed
	}
	if d.idle == nil {
		d.idle = make(chan struct{})
	}
	return d.idle
}

// takeFailed returns the failed dead letters (to send again) and the last error.
func (d *letters) takeFailed(buf []int) ([]int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	buf = append(buf[:0], d.failed...)
	d.failed = d.failed[:0]
	return buf, d.err
}

// reset forgets the batch's dead letters once they are all delivered (or abandoned).
func (d *letters) reset() {
	clear(d.list)
	d.list = d.list[:0]
	d.mu.Lock()
	d.failed, d.err = d.failed[:0], nil
	d.mu.Unlock()
}

// sendDeadLetter queues r for the dead-letter topic as part of the current batch.
func (w *Worker) sendDeadLetter(ctx context.Context, r *kgo.Record, reason, detail string) {
	d := &w.cur.dl
	d.list = append(d.list, letter{rec: detached(r), reason: reason, detail: detail})
	d.send(ctx, w.p.deps.DLQ, len(d.list)-1)
}

// detached is a copy of r that owns its key, value and header values, for a dead
// letter kept until its batch is stored, long after r's slice was recycled
// (Worker.recycle). Invalid records are the exception, so the copies cost little.
func detached(r *kgo.Record) *kgo.Record {
	c := *r
	c.Context = nil // r's link to the client's buffers
	c.Key, c.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
	if len(r.Headers) > 0 {
		c.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			c.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)}
		}
	}
	return &c
}

// deliver returns once every dead letter of s is acknowledged, so the batch's offsets
// may be committed. A failed dead letter (topic missing, writes refused, broker down,
// record too large) is sent again with backoff for as long as it takes; meanwhile the
// partition is reported blocked (Pipeline.Blocked) and a warning is logged at most
// once per blockedWarnEvery. It returns an error only when ctx is done, and then
// nothing of the batch is marked.
func (w *Worker) deliver(ctx context.Context, s *slot) error {
	d := &s.dl
	if len(d.list) == 0 {
		return nil
	}
	defer d.reset()
	o := &w.p.opts
	wait := o.RetryMin
	var failed []int
	b := &w.dlBlock
	block := func(err error, fails int) {
		w.block(b, err, fails, "dead letters cannot be written; the partition is not committed past them and retries")
	}
	resumed := false
	defer func() { w.unblock(b, resumed, "dead letters delivered; the partition resumes") }()
	for {
		stall := time.NewTimer(deadLetterStall)
		select {
		case <-d.settled():
			stall.Stop()
		case <-stall.C:
			block(fmt.Errorf("dead letters not acknowledged for %s", deadLetterStall), 0)
			continue
		case <-ctx.Done():
			stall.Stop()
			return ctx.Err()
		}
		var err error
		failed, err = d.takeFailed(failed)
		if len(failed) == 0 {
			resumed = true
			return nil
		}
		block(err, len(failed))
		if err := pause(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, o.RetryMax)
		for _, i := range failed {
			d.send(ctx, w.p.deps.DLQ, i)
		}
	}
}

// pause waits for d, or returns ctx's error if ctx is done first.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
