package consumers

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TopicIDSetter is implemented by a Worker that keys what it stores by the
// incarnation of its topic. The group calls SetTopicID with the Kafka topic id of the
// fetch that brings the partition's first records (zero when the broker sends no
// topic ids), before Run receives them. A worker only ever receives records of that
// incarnation: when the topic is deleted and created again under the same name, the
// group flushes the workers of the old incarnation without marking anything and
// starts new workers for the new one.
type TopicIDSetter interface {
	SetTopicID(id [16]byte)
}

// restartEvery bounds how often one topic is restarted after UNKNOWN_TOPIC_ID.
const restartEvery = 10 * time.Second

// deliverable reports whether records fetched for p under topic id id may go to p's
// worker: the first fetch tells the worker its incarnation; a fetch of another
// incarnation (which franz-go never hands to a cursor of the old one) is refused, and
// its topic restarted after the poll like one whose fetches fail with
// UNKNOWN_TOPIC_ID. It runs in the poll loop.
func (g *Group) deliverable(p *part, id [16]byte) bool {
	if !p.idSet {
		p.idSet, p.topicID = true, id
		if p.setID != nil {
			p.setID(id)
		}
		return true
	}
	if p.topicID == id || id == [16]byte{} || p.topicID == [16]byte{} {
		return true
	}
	g.gone[p.tp.topic] = errIncarnation
	return false
}

// errIncarnation is why a topic is restarted whose fetches bring records of another
// incarnation than its workers consume.
var errIncarnation = errors.New("fetched records of another incarnation of the topic than its workers consume")

// topicIDs sets g.ids to the topic id of each topic in fetches.
func (g *Group) topicIDs(fetches kgo.Fetches) {
	clear(g.ids)
	for i := range fetches {
		for _, t := range fetches[i].Topics {
			g.ids[t.Topic] = t.TopicID
		}
	}
}

// recreated handles UNKNOWN_TOPIC_ID from a fetch of topic: the topic was deleted (and
// perhaps created again under a new topic id), and franz-go keeps failing its fetches
// until the topic is purged from the client and added back. It flushes the topic's
// workers without marking their offsets (they belong to the deleted incarnation and
// must never be committed for the new one), purges the topic and adds it back, so
// the group assigns it afresh and new workers consume the new incarnation from its
// start (or wait until it exists). It runs in the poll loop after AllowRebalance;
// the lifecycle lock keeps rebalance callbacks out meanwhile.
func (g *Group) recreated(topic string, err error) {
	now := time.Now()
	if last, ok := g.restarted[topic]; ok && now.Sub(last) < restartEvery {
		return
	}
	g.restarted[topic] = now
	g.lifecycle.Lock()
	defer g.lifecycle.Unlock()
	ps := g.takeTopic(topic)
	g.log.Warn("topic deleted or re-created: flushing its partitions without committing, then consuming it again from its new incarnation",
		"topic", topic, "partitions", len(ps), "err", err)
	for _, p := range ps {
		p.noMark.Store(true)
	}
	g.drain(ps, g.o.DrainTimeout)
	g.cl.PurgeTopicsFromConsuming(topic)
	g.cl.AddConsumeTopics(topic)
}

// takeTopic removes and returns every owned partition of topic.
func (g *Group) takeTopic(topic string) []*part {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ps []*part
	for key, p := range g.parts {
		if key.topic == topic {
			ps = append(ps, p)
			delete(g.parts, key)
		}
	}
	return ps
}

// isUnknownTopicID reports whether a fetch error says the topic id the client
// fetches under no longer exists.
func isUnknownTopicID(err error) bool { return errors.Is(err, kerr.UnknownTopicID) }

// fetchErrors rate-limits fetch-error logging to one line per topic per interval,
// with the number of errors since the last line. It belongs to the poll loop.
type fetchErrors struct {
	interval time.Duration
	topics   map[string]*fetchErrorState
}

type fetchErrorState struct {
	logged time.Time
	n      int // errors since the last line
}

// note counts one fetch error of topic/partition and returns whether to log it
// now, with the errors of the topic it stands for.
func (f *fetchErrors) note(topic string, now time.Time) (log bool, n int) {
	if f.topics == nil {
		f.topics = make(map[string]*fetchErrorState)
	}
	s := f.topics[topic]
	if s == nil {
		s = new(fetchErrorState)
		f.topics[topic] = s
	}
	s.n++
	if !s.logged.IsZero() && now.Sub(s.logged) < f.interval {
		return false, 0
	}
	n, s.n, s.logged = s.n, 0, now
	return true, n
}

// pollBackoff is how long the poll loop waits after a poll that brought errors and
// no records, so an error the client returns at once on every poll cannot spin it.
type pollBackoff struct{ wait time.Duration }

const (
	pollBackoffMin = 10 * time.Millisecond
	pollBackoffMax = 500 * time.Millisecond
)

// next returns the wait after a poll with errs errors and recs records.
func (b *pollBackoff) next(errs, recs int) time.Duration {
	if errs == 0 || recs > 0 {
		b.wait = 0
		return 0
	}
	b.wait = min(max(2*b.wait, pollBackoffMin), pollBackoffMax)
	return b.wait
}

// handleFetchErrors logs the errors of a poll, at most one line per topic per
// minute, and returns how many errors there were (cancellations aside). It resets
// g.gone to the topics whose fetches say their topic id is gone, for recreated.
func (g *Group) handleFetchErrors(fetches kgo.Fetches) int {
	n := 0
	now := time.Now()
	clear(g.gone)
	fetches.EachError(func(t string, p int32, err error) {
		if errors.Is(err, context.Canceled) {
			return
		}
		n++
		if isUnknownTopicID(err) {
			g.gone[t] = err
		}
		if log, count := g.fetchErrs.note(t, now); log {
			g.log.Warn("fetch error (logged at most once per topic per minute)", "topic", t, "partition", p,
				"errors", count, "err", err)
		}
	})
	return n
}
