package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
)

// twice publishes every record two times, as a producer retrying every send would.
type twice struct{ *producers.Publisher }

func (p twice) ProduceAt(ctx context.Context, topic string, key, value []byte, ts time.Time, done func(error)) {
	var once sync.Once
	var first error
	var n sync.WaitGroup
	n.Add(2)
	both := func(err error) {
		if err != nil {
			once.Do(func() { first = err })
		}
		n.Done()
	}
	p.Publisher.ProduceAt(ctx, topic, key, value, ts, both)
	p.Publisher.ProduceAt(ctx, topic, key, value, ts, both)
	go func() { n.Wait(); done(first) }()
}

// TestKillStorm runs four `sluice run` processes over 12 partitions per topic with the
// default group timeouts, and for a minute SIGTERMs or SIGKILLs one of them every one
// to three seconds and starts it again, while 300,000 events, each published twice,
// arrive. Once the storm ends the group must converge within the configured timeouts
// (a dead member is noticed at the session timeout, a rebalance ends at the rebalance
// timeout) and ClickHouse must hold every event exactly once.
func TestKillStorm(t *testing.T) {
	const (
		session   = 45 * time.Second // the defaults
		rebalance = 60 * time.Second
	)
	s := newStack(t, 12, map[string]string{
		"SLUICE_KAFKA_SESSION_TIMEOUT":   session.String(),
		"SLUICE_KAFKA_REBALANCE_TIMEOUT": rebalance.String(),
		"SLUICE_FLUSH_INTERVAL":          "300ms",
		"SLUICE_SHUTDOWN_TIMEOUT":        "20s",
		"SLUICE_LOG_LEVEL":               "warn",
	})
	seed := int64(4711)
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	gen := generator(t, seed, 200_000, 100_000, 0.01, 0)
	total := gen.Config().Payments + gen.Config().Shipments

	pub := s.publishInBackground(t, gen, float64(total)/50, func(p *producers.Publisher) loadgen.Sink { return twice{p} })

	procs := make([]*proc, 4)
	for i := range procs {
		procs[i] = s.spawn(t, fmt.Sprintf("sluice%d", i))
	}
	start := time.Now()
	var kills, terms int
	var stopping []*proc // SIGTERMed: each must exit cleanly, in its own time
	for time.Since(start) < time.Minute {
		pause := time.NewTimer(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
		select {
		case <-pause.C:
		case <-t.Context().Done():
			t.Fatal("test context ended")
		}
		i := rng.IntN(len(procs))
		if rng.IntN(2) == 0 {
			procs[i].waitServing(t)
			_ = procs[i].cmd.Process.Signal(syscall.SIGTERM)
			stopping = append(stopping, procs[i])
			terms++
		} else {
			procs[i].kill()
			kills++
		}
		procs[i] = s.spawn(t, fmt.Sprintf("sluice%d", i))
	}
	truth := pub.wait(t)
	stormEnd := time.Now()
	t.Logf("storm over after %s: %d SIGKILLs, %d SIGTERMs", stormEnd.Sub(start).Round(time.Second), kills, terms)

	// A member killed last is noticed after the session timeout; the rebalance that
	// follows ends within the rebalance timeout; then the backlog drains.
	s.waitCommitted(t, session+rebalance+30*time.Second, "the group did not converge after the storm", func() bool { return true }, procs...)
	t.Logf("converged %s after the storm", time.Since(stormEnd).Round(100*time.Millisecond))
	for _, p := range stopping {
		if err := <-p.done; err != nil {
			t.Errorf("%s did not exit cleanly after SIGTERM: %v", p.name, err)
		}
		p.done <- nil
	}
	for _, p := range procs {
		p.term(t)
	}
	s.checkStored(t, truth)
}

// TestStaticMembership restarts a static member (SLUICE_KAFKA_INSTANCE_ID) within the
// session timeout: it takes its own partitions back and the other member never owns
// them, so no partition moved; and the stream stays exact.
func TestStaticMembership(t *testing.T) {
	// b must be back before its session times out: the 3 s it stays down, then a
	// new instance's start (connect, migrate, join), which a loaded machine can
	// stretch past the harness's 6 s.
	s := newStack(t, 4, map[string]string{"SLUICE_KAFKA_SESSION_TIMEOUT": "30s"})
	truth := s.publish(t, generator(t, 53, 4000, 2000, 0.01, 0.01), 0)
	static := func(id string) config.Config {
		c := s.cfg
		c.Kafka.InstanceID = id
		return c
	}
	a := s.startWith(t, "a", static("sluice-a"), io.Discard)
	b := s.startWith(t, "b", static("sluice-b"), io.Discard)
	owned := func(i *instance) map[position]bool {
		m := map[position]bool{}
		for _, p := range i.in.Partitions() {
			if p.Owned {
				m[position{p.Topic, p.Partition, 0}] = true
			}
		}
		return m
	}
	waitFor(t, time.Minute, "both members own partitions", func() bool {
		return len(owned(a))+len(owned(b)) == 8 && len(owned(a)) > 0 && len(owned(b)) > 0
	})
	ofB := owned(b)
	// a owned every partition before b joined: count a's workers per partition.
	starts := func(i *instance) map[position]int {
		m := map[position]int{}
		for _, p := range i.in.Partitions() {
			m[position{p.Topic, p.Partition, 0}] = p.Starts
		}
		return m
	}
	before := starts(a)
	b.stop(t)
	// b stays down for 3 s: long enough for a dynamic member's leave to hand its
	// partitions to a (at a's next heartbeat).
	down := time.NewTimer(3 * time.Second)
	select {
	case <-down.C:
	case <-t.Context().Done():
		t.Fatal("test context ended")
	}
	b = s.startWith(t, "b", static("sluice-b"), io.Discard)
	waitFor(t, time.Minute, "the restarted member owns its partitions again", func() bool {
		o := owned(b)
		for p := range ofB {
			if !o[p] {
				return false
			}
		}
		return true
	})
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	for p, n := range starts(a) {
		if ofB[p] && n != before[p] {
			t.Errorf("%s/%d moved to the other member while its static owner restarted", p.topic, p.partition)
		}
	}
	a.stop(t)
	b.stop(t)
	s.checkStored(t, truth)
}
