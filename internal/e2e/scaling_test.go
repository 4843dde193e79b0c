package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluicehq/sluice/consumers"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
)

// TestScaleOut runs one Sluice while events flow at a steady rate, adds a second and
// a third member to its group, then makes one leave gracefully, and checks that:
//
//   - the members split the 24 partitions evenly (24, 12/12, 8/8/8, then 12/12), each
//     partition owned by exactly one member, moving no more partitions than needed;
//   - the rebalances are cooperative: a partition that stays with its owner keeps its
//     worker (it is not restarted), a moved one is started once, at its new owner;
//   - a revoked partition is flushed and committed before it is given up: right after
//     the leave, the group's committed offset of every partition the leaver owned is
//     past the last record handed to it, and no member ever replays a ledger range;
//   - nothing is lost or counted twice (ClickHouse equals the ground truth exactly,
//     each invalid record is dead-lettered once).
//
// It measures how long partitions stop flowing during each join and leave: per
// partition, the longest gap between two hand-overs of records to a worker (at any
// member) that overlaps the rebalance, for moved and for unmoved partitions, and
// reports median and max in one summary line.
func TestScaleOut(t *testing.T) {
	const (
		partitions = 12
		all        = 2 * partitions // payments and shipments
		rate       = 2000           // records per second over both topics
	)
	// The production flush interval: a worker then takes records continuously
	// between flushes, so gaps in delivery are the rebalance's, not backpressure's.
	// No admin listener: three instances share this process. A revoked partition's
	// flush is cancelled (and replayed by its next owner, which this test counts as
	// a failure) after the rebalance timeout less two seconds; the harness's 10 s
	// is too short for a loaded machine to flush twelve partitions, and with every
	// member alive a longer one costs no time.
	s := newStack(t, partitions, map[string]string{"SLUICE_FLUSH_INTERVAL": "1s", "SLUICE_HTTP_ADDR": "",
		"SLUICE_KAFKA_REBALANCE_TIMEOUT": "60s"})
	gen, err := loadgen.NewGenerator(loadgen.Config{
		Seed: 61, Payments: 10_000_000, Shipments: 5_000_000,
		InvalidRate: 0.01, DuplicateRate: 0.01, LateRate: 0.03, EventRate: rate,
	})
	if err != nil {
		t.Fatal(err)
	}

	// Publish at a steady rate until told to stop.
	stopPub := make(chan struct{})
	var pubErr error
	var published int64
	var pubWG sync.WaitGroup
	pubWG.Go(func() { published, pubErr = s.publishUntil(t, gen, rate, stopPub) })
	stopPublishing := sync.OnceFunc(func() { close(stopPub); pubWG.Wait() })
	defer stopPublishing()

	obs := newFlowObserver()
	stopObs := obs.run(10 * time.Millisecond)
	defer stopObs()

	// One member takes everything.
	a := obs.add("a", s.start(t, "a"))
	obs.waitOwners(t, map[string]int{"a": all}, all)
	flowing := time.Now()
	obs.waitFlowingSince(t, flowing, all)
	baseFrom := time.Now()
	// A steady-state window to compare the rebalances with.
	waitFor(t, 10*time.Second, "a steady-state window", func() bool { return time.Since(baseFrom) > 1500*time.Millisecond })
	baseline := obs.steadyGaps(baseFrom, time.Now())

	// Joins: b, then c.
	var phases []*rebalance
	ph := obs.begin("join b")
	b := obs.add("b", s.start(t, "b"))
	obs.finish(t, ph, map[string]int{"a": 12, "b": 12}, all)
	phases = append(phases, ph)

	ph = obs.begin("join c")
	c := obs.add("c", s.start(t, "c"))
	obs.finish(t, ph, map[string]int{"a": 8, "b": 8, "c": 8}, all)
	phases = append(phases, ph)

	// Leave: b shuts down gracefully (drain, flush, commit, leave).
	ph = obs.begin("leave b")
	b.stop(t)
	s.checkCommittedPast(t, "b", b.in.Partitions())
	obs.finish(t, ph, map[string]int{"a": 12, "c": 12}, all)
	phases = append(phases, ph)

	// Each rebalance moved only what it had to, restarted nothing else, and the
	// partitions it did not move kept flowing while the moved ones waited.
	for i, want := range []int{12, 8, 8} {
		phases[i].checkCooperative(t, want)
	}

	stopPublishing()
	if pubErr != nil {
		t.Fatalf("publish: %v", pubErr)
	}
	truth := gen.Truth()
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	stopObs()
	a.stop(t)
	c.stop(t)

	for name, i := range map[string]*instance{"a": a, "b": b, "c": c} {
		if n := i.in.Stats().Replays.Load(); n != 0 {
			t.Errorf("%s: %d flushes were replays of ledger ranges: a revoked partition was given up before its flush was committed", name, n)
		}
		// Every move was graceful: whatever reached a worker was stored and marked.
		s.checkCommittedPast(t, name, i.in.Partitions())
	}
	s.checkStored(t, truth)
	invalid := s.invalidPositions(t, truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid)
	s.checkDeadLetters(t, invalid, true)

	var sum strings.Builder
	fmt.Fprintf(&sum, "scale-out stall (longest gap between deliveries, ms, median/max over partitions; %d events at %d/s, %d partitions, sampled every 10ms): steady %s",
		published, rate, all, baseline)
	for _, ph := range phases {
		fmt.Fprintf(&sum, "; %s (%s to settle): moved %s, unmoved %s, resumed at +%dms vs +%dms", ph.name, ph.t1.Sub(ph.t0).Round(time.Millisecond),
			ph.movedStall, ph.unmovedStall, ph.movedResume.Milliseconds(), ph.unmovedResume.Milliseconds())
	}
	t.Log(sum.String())
}

// publishUntil publishes gen at rate records per second until stop is closed, and
// returns how many records were acknowledged. gen's truth then describes exactly what
// was published, provided the error is nil.
func (s *stack) publishUntil(t *testing.T, gen *loadgen.Generator, rate float64, stop <-chan struct{}) (int64, error) {
	pub, err := producers.NewPublisher(producers.Brokers(s.kafka.Brokers()...))
	if err != nil {
		return 0, err
	}
	defer pub.Close()
	var acked int64
	for {
		select {
		case <-stop:
			return acked, nil
		default:
		}
		// Short paced runs, so that a stop is noticed within one of them.
		st, err := loadgen.Run(t.Context(), pub, gen, loadgen.RunOptions{Rate: rate, Duration: 250 * time.Millisecond})
		acked += st.Acked
		if err != nil {
			return acked, err
		}
	}
}

// checkCommittedPast asserts that the group's committed offset of every partition
// name handed records to is past the last of them: a member that has stopped (or been
// revoked) flushed and committed what it read before giving its partitions up.
func (s *stack) checkCommittedPast(t *testing.T, name string, parts []consumers.PartitionState) {
	t.Helper()
	offs, err := kadm.NewClient(s.kafka.Client(t)).FetchOffsets(t.Context(), s.cfg.Kafka.Group)
	if err != nil {
		t.Fatalf("fetch committed offsets: %v", err)
	}
	checked := 0
	for _, p := range parts {
		if p.LastOffset < 0 {
			continue
		}
		checked++
		if p.Marked != p.LastOffset {
			t.Errorf("%s left %s/%d with its last record at %d marked only up to %d", name, p.Topic, p.Partition, p.LastOffset, p.Marked)
		}
		o, ok := offs.Lookup(p.Topic, p.Partition)
		if !ok || o.Err != nil || o.At <= p.LastOffset {
			t.Errorf("%s left %s/%d after reading up to offset %d, but the group's commit is %+v", name, p.Topic, p.Partition, p.LastOffset, o)
		}
	}
	if checked == 0 {
		t.Errorf("%s never read a record", name)
	}
}
