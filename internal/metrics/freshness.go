package metrics

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// freshnessBuckets are the upper bounds of both freshness histograms, in seconds:
// fine around the flush interval, coarse out to a day for late events.
var freshnessBuckets = [...]float64{.025, .05, .1, .2, .3, .4, .5, .6, .75, 1, 1.25, 1.5, 2, 3, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400}

var (
	descFreshness = desc("event_freshness_seconds",
		"Time from a stored event's Kafka record timestamp to the end of the insert that stored it, per source topic. "+
			"Counts stored events; each flush places its events by a sample of up to 32 of them spread over the batch.", "topic")
	descTimeLag = desc("event_time_lag_seconds",
		"Time from a stored event's own occurred_at to the end of the insert that stored it, per source topic. "+
			"Counts stored events, placed by a sample of up to 32 raw rows per flush; only flushes with raw rows observe it.", "topic")
)

// weighted is a cumulative-bucket histogram whose observations carry a weight, so a
// sample can stand for the events it was drawn from.
type weighted struct {
	counts [len(freshnessBuckets) + 1]uint64 // the last is +Inf
	count  uint64
	sum    float64
}

func (h *weighted) observe(secs float64, n uint64) {
	i, _ := slices.BinarySearch(freshnessBuckets[:], secs)
	h.counts[i] += n
	h.count += n
	h.sum += secs * float64(n)
}

func (h *weighted) metric(d *prometheus.Desc, topic string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(freshnessBuckets))
	var cum uint64
	for i, ub := range freshnessBuckets {
		cum += h.counts[i]
		buckets[ub] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.count, h.sum, buckets, topic)
}

// topicFreshness are one topic's two histograms.
type topicFreshness struct{ published, occurred weighted }

// recentSpan is how long one slot of the status page's freshness ring covers, and
// recentSlots how many it keeps (the current one included).
const (
	recentSpan  = 10 * time.Second
	recentSlots = 31
)

// fineBuckets resolve the status page's quantiles to 5% between 1 ms and ~12 days.
const (
	fineMin    = 0.001
	fineGrowth = 1.05
	fineN      = 440
)

// recentSlot counts the freshness of the events stored within one recentSpan, in
// fine buckets.
type recentSlot struct {
	epoch  int64 // Unix time / recentSpan; the slot is stale when it is not the current one's
	counts [fineN]uint64
}

// freshness is what Metrics keeps of stored flushes: the per-topic histograms and
// the recent ring. One lock guards it, taken once per flush.
type freshness struct {
	mu     sync.Mutex
	topics map[string]*topicFreshness
	recent [recentSlots]recentSlot
}

// Stored implements pipeline.Observer: it adds a flush's events to the freshness
// histograms of its topic, by the flush's sample of Kafka timestamps and a sample of
// the occurred_at column of its raw rows. Its work is proportional to the samples
// and blocks, never to the events.
func (m *Metrics) Stored(f *pipeline.Flush) {
	fr := &m.fresh
	at := f.Stored
	occ, occRows := occurredAt(f.Blocks)
	fr.mu.Lock()
	defer fr.mu.Unlock()
	t := fr.topics[f.Range.Topic]
	if t == nil {
		if fr.topics == nil {
			fr.topics = make(map[string]*topicFreshness)
		}
		t = new(topicFreshness)
		fr.topics[f.Range.Topic] = t
	}
	slot := fr.slot(at)
	spread(len(f.Published), uint64(f.Events), func(i int, n uint64) {
		secs := at.Sub(time.Unix(0, f.Published[i])).Seconds()
		t.published.observe(secs, n)
		slot.counts[fineBucket(secs)] += n
	})
	if occRows > 0 {
		k := min(occRows, pipeline.SampleSize)
		spread(k, uint64(occRows), func(i int, n uint64) {
			t.occurred.observe(at.Sub(time.UnixMilli(occ[i*occRows/k])).Seconds(), n)
		})
	}
}

// spread calls fn for each of k samples drawn from n events with the number of
// events the sample stands for; the numbers add up to n.
func spread(k int, n uint64, fn func(i int, n uint64)) {
	if k == 0 {
		return
	}
	each, rest := n/uint64(k), n%uint64(k)
	for i := range k {
		w := each
		if uint64(i) < rest {
			w++
		}
		if w > 0 {
			fn(i, w)
		}
	}
}

// occurredAt returns the occurred_at column of the first block that has one (the raw
// rows) and its length.
func occurredAt(blocks []schemas.Block) (schemas.MillisColumn, int) {
	for i := range blocks {
		b := &blocks[i]
		j := slices.Index(b.Names, "occurred_at")
		if j < 0 || j >= len(b.Columns) {
			continue
		}
		if c, ok := b.Columns[j].(schemas.MillisColumn); ok && len(c) > 0 {
			return c, len(c)
		}
	}
	return nil, 0
}

// slot returns the ring slot of time at, emptying it if it held an older span.
func (fr *freshness) slot(at time.Time) *recentSlot {
	e := at.UnixNano() / int64(recentSpan)
	s := &fr.recent[e%recentSlots]
	if s.epoch != e {
		s.epoch = e
		clear(s.counts[:])
	}
	return s
}

func fineBucket(secs float64) int {
	if secs <= fineMin {
		return 0
	}
	return min(int(math.Ceil(math.Log(secs/fineMin)/math.Log(fineGrowth))), fineN-1)
}

func fineUpper(i int) time.Duration {
	return time.Duration(fineMin * math.Pow(fineGrowth, float64(i)) * float64(time.Second))
}

// RecentFreshness returns the median and 99th percentile of the freshness of the
// events stored within about the last window (at most 5 minutes; whole 10-second
// spans), over all topics, and how many events that is. The quantiles are resolved
// to 5%.
func (m *Metrics) RecentFreshness(window time.Duration) (p50, p99 time.Duration, events int64) {
	fr := &m.fresh
	now := time.Now().UnixNano() / int64(recentSpan)
	oldest := now - int64(min(window, (recentSlots-1)*recentSpan)/recentSpan)
	var sum [fineN]uint64
	var n uint64
	fr.mu.Lock()
	for i := range fr.recent {
		s := &fr.recent[i]
		if s.epoch < oldest || s.epoch > now {
			continue
		}
		for j, c := range s.counts {
			sum[j] += c
			n += c
		}
	}
	fr.mu.Unlock()
	if n == 0 {
		return 0, 0, 0
	}
	quantile := func(q float64) time.Duration {
		rank := uint64(math.Ceil(q * float64(n)))
		var cum uint64
		for j, c := range sum {
			cum += c
			if cum >= rank {
				return fineUpper(j)
			}
		}
		return fineUpper(fineN - 1)
	}
	return quantile(0.5), quantile(0.99), int64(n)
}

// freshnessCollector exports the freshness histograms at scrape time.
type freshnessCollector struct{ fr *freshness }

// Describe implements prometheus.Collector.
func (c freshnessCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descFreshness
	ch <- descTimeLag
}

// Collect implements prometheus.Collector.
func (c freshnessCollector) Collect(ch chan<- prometheus.Metric) {
	c.fr.mu.Lock()
	defer c.fr.mu.Unlock()
	for topic, t := range c.fr.topics {
		ch <- t.published.metric(descFreshness, topic)
		if t.occurred.count > 0 {
			ch <- t.occurred.metric(descTimeLag, topic)
		}
	}
}
