package pipeline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// SetTopicID tells the worker which incarnation of its topic it consumes: the Kafka
// topic id of the fetch that brings its first records (zero when the broker sends
// none). It must be called before Run receives its first slice, and the worker must
// only ever receive records of that incarnation. The ledger ranges, insert tokens and
// stored event ids of the worker are keyed by it, so a topic deleted and created
// again, whose offsets start over, is stored as new data and never matches what the
// earlier incarnation stored.
func (w *Worker) SetTopicID(id [16]byte) { w.topicID = TopicID(id) }

// OverlapError is a worker's refusal to store offsets that another consumer group
// already stored into the same tables (its ledger ranges cover them): consuming them
// again under another group would count every event twice.
type OverlapError struct {
	Group     string // the group that would store them again
	Topic     string
	TopicID   string
	Partition int32
	From      int64 // the first offset the worker was given
	// Others are the other groups' stored spans from From on, one per group, by
	// group name.
	Others []Span
}

// Span is the offsets [First, Last] of one group's ledger ranges of a partition.
type Span struct {
	Group       string
	First, Last int64
}

func (e *OverlapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "group %q would store %s/%d from offset %d again: ", e.Group, e.Topic, e.Partition, e.From)
	for i, s := range e.Others {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "group %q already stored offsets %d-%d", s.Group, s.First, s.Last)
	}
	b.WriteString(" into these tables")
	return b.String()
}

// ownRanges splits the ledger ranges of the worker's partition (every group's, from
// Ledger.Ranges) into the worker's group's, which it returns for the replay-cut rule,
// and other groups' reaching from or beyond, which make it refuse with an
// *OverlapError unless Options.AllowReingest.
func (w *Worker) ownRanges(all []Range, from int64) ([]Range, error) {
	group := w.p.opts.Group
	own := all[:0:0]
	var others []Span
	for _, r := range all {
		if r.Group == group {
			own = append(own, r)
			continue
		}
		if r.Last < from {
			continue
		}
		i := slices.IndexFunc(others, func(s Span) bool { return s.Group == r.Group })
		if i < 0 {
			others = append(others, Span{Group: r.Group, First: max(r.First, from), Last: r.Last})
			continue
		}
		others[i].First, others[i].Last = min(others[i].First, max(r.First, from)), max(others[i].Last, r.Last)
	}
	if len(others) == 0 {
		return own, nil
	}
	slices.SortFunc(others, func(a, b Span) int { return strings.Compare(a.Group, b.Group) })
	err := &OverlapError{Group: group, Topic: w.topic, TopicID: w.topicID, Partition: w.partition, From: from, Others: others}
	if !w.p.opts.AllowReingest {
		w.p.overlaps.add(err)
		return nil, err
	}
	w.log.Warn("re-ingesting offsets another group stored (re-ingest allowed)", "err", err)
	return own, nil
}

// overlaps collects the refusals of a Pipeline's workers.
type overlaps struct {
	mu   sync.Mutex
	errs []*OverlapError
}

func (o *overlaps) add(e *OverlapError) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errs = append(o.errs, e)
}

// Overlaps returns every refusal of the Pipeline's workers to store offsets another
// group stored (OverlapError), ordered by topic and partition, so that a caller can
// report them all at once.
func (p *Pipeline) Overlaps() []*OverlapError {
	p.overlaps.mu.Lock()
	defer p.overlaps.mu.Unlock()
	out := slices.Clone(p.overlaps.errs)
	slices.SortFunc(out, func(a, b *OverlapError) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}
