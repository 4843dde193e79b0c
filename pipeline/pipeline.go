package pipeline

import (
	"context"
	"log/slog"

	"github.com/sluicehq/sluice/schemas"
)

// Pipeline builds the Workers of one consumer group. It is safe for concurrent use.
type Pipeline struct {
	opts  Options
	deps  Deps
	slots chan struct{} // decode slots shared by all workers
	stats *Stats
	log   *slog.Logger
	// outage tells of failing store calls once for all workers.
	outage *outage

	blocked blockedSet // partitions waiting for something outside Sluice

	overlaps overlaps // refusals of its workers (incarnation.go)
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
	d = traced(d)
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
		ts:        p.stats.Topic(topic),
		topic:     topic,
		partition: partition,
		rawIDs:    p.opts.RawIDs[topic],
		cut:       newCutter(p.opts.Group, topic, partition),
		log:       p.log.With("topic", topic, "partition", partition),
		jobs:      make(chan *slot),
		recorded:  make(chan *slot),
		results:   make(chan error, 2),
		dlBlock:   blockage{reason: BlockedDeadLetter},
		chBlock:   blockage{reason: BlockedClickHouse},
	}
	bo := p.opts.Batch
	bo.Dedup = nil
	if p.opts.DedupHorizon > 0 {
		w.dd = newDedup(p.opts.DedupHorizon, p.opts.DedupMaxIDs, w.rawIDs.Table == "")
		bo.Dedup = w.dd
	}
	w.renew = func() schemas.Batch { return newBatch(bo) }
	w.cur, w.spare = newSlot(w.renew()), newSlot(w.renew())
	return w
}

// acquire takes one of the decode slots that bound how many workers decode at once,
// waiting until one is free or ctx is done.
func (p *Pipeline) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives back a decode slot taken by acquire.
func (p *Pipeline) release() { <-p.slots }
