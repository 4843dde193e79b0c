package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluicehq/sluice/internal/suggest"
)

const (
	// topicCheckInterval is how often the source topics are looked up on the brokers.
	topicCheckInterval = 5 * time.Second
	// topicLogInterval is how often a topic still missing is logged again.
	topicLogInterval = time.Minute
)

// MissingTopic is a source topic the brokers do not have. The instance keeps
// waiting for it (topics may be created after Sluice starts), is not ready
// meanwhile, and logs it once a minute.
type MissingTopic struct {
	// Name is the topic as configured.
	Name string
	// Closest is an existing topic it was perhaps meant to be (a typo); empty when
	// none is near.
	Closest string
	// Since is when it was first found missing.
	Since time.Time
}

// String says what is missing and what to do, in one line.
func (m MissingTopic) String() string {
	s := fmt.Sprintf("source topic %q does not exist", m.Name)
	if m.Closest != "" {
		s += fmt.Sprintf(" (did you mean %q?)", m.Closest)
	}
	return s + "; waiting for it to be created"
}

// missingTopicsError is the readiness error of missing source topics: each one's
// String, joined.
func missingTopicsError(m []MissingTopic) error {
	parts := make([]string, len(m))
	for i, t := range m {
		parts[i] = t.String()
	}
	return errors.New(strings.Join(parts, "; "))
}

// MissingTopics returns the source topics the brokers did not have at the last
// check, in the configured order; none once every topic exists. It is safe for
// concurrent use (the status page and /readyz read it).
func (in *Instance) MissingTopics() []MissingTopic { return in.topicWatch.missingNow() }

// topicWatch remembers which source topics are missing, since when, and when each
// was last logged. It is safe for concurrent use.
type topicWatch struct {
	mu      sync.Mutex
	missing []MissingTopic
	logged  map[string]time.Time
}

func (w *topicWatch) missingNow() []MissingTopic {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.missing)
}

// update records which of want the brokers lack, given the topics they have, at
// now. It returns the missing topics to log now (newly missing, or not logged for
// topicLogInterval) and the ones that exist again.
func (w *topicWatch) update(now time.Time, want, have []string) (log []MissingTopic, appeared []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.logged == nil {
		w.logged = make(map[string]time.Time)
	}
	// Kafka's internal topics (__consumer_offsets) are never what was meant.
	candidates := slices.DeleteFunc(slices.Clone(have), func(t string) bool { return strings.HasPrefix(t, "__") })
	var missing []MissingTopic
	for _, t := range want {
		if slices.Contains(have, t) {
			if _, was := w.logged[t]; was {
				appeared = append(appeared, t)
				delete(w.logged, t)
			}
			continue
		}
		m := MissingTopic{Name: t, Since: now}
		if i := slices.IndexFunc(w.missing, func(p MissingTopic) bool { return p.Name == t }); i >= 0 {
			m.Since = w.missing[i].Since
		}
		m.Closest, _ = suggest.Closest(t, candidates)
		if last, ok := w.logged[t]; !ok || now.Sub(last) >= topicLogInterval {
			w.logged[t] = now
			log = append(log, m)
		}
		missing = append(missing, m)
	}
	w.missing = missing
	return log, appeared
}

// watchTopics looks the source topics up on the brokers every topicCheckInterval
// until ctx is done, logging each missing one at once and then once a minute, and
// each that appears. A failed look-up is skipped: an unreachable broker is the
// consumer's to report.
func (in *Instance) watchTopics(ctx context.Context, topics []string) {
	adm := kadm.NewClient(in.dlqClient)
	t := time.NewTicker(topicCheckInterval)
	defer t.Stop()
	for {
		if details, err := adm.ListTopics(ctx); err == nil {
			log, appeared := in.topicWatch.update(time.Now(), topics, details.Names())
			for _, m := range log {
				in.log.Warn(m.String(), "topic", m.Name, "closest", m.Closest, "missing_for", time.Since(m.Since).Round(time.Second))
			}
			for _, name := range appeared {
				in.log.Info("source topic exists now", "topic", name)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startTopicWatch runs watchTopics for the configured source topics in a goroutine
// and returns the function that stops it and waits for it; Run calls that before
// the client it uses is closed.
func (in *Instance) startTopicWatch() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); in.watchTopics(ctx, topicsOf(in.types)) }()
	return func() { cancel(); <-done }
}
