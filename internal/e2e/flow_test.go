package e2e

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// The flow observer watches how records reach the workers of several members of
// one group while they join and leave: who owns each partition, how often each
// member started a worker for it, and the gaps in its deliveries. TestScaleOut
// uses it to check that rebalances are cooperative and to report their stalls.

// partKey names one source partition.
type partKey struct {
	topic     string
	partition int32
}

func (k partKey) String() string { return fmt.Sprintf("%s/%d", k.topic, k.partition) }

// flowObserver samples the partitions of every member and records, per partition, the
// times records were handed to a worker (whichever member's), at the sampling
// resolution: a gap it reports is at most one sampling interval longer than the real
// one.
type flowObserver struct {
	mu        sync.Mutex
	names     []string
	instances map[string]*instance
	delivered map[partKey][]time.Time
}

func newFlowObserver() *flowObserver {
	return &flowObserver{instances: map[string]*instance{}, delivered: map[partKey][]time.Time{}}
}

func (o *flowObserver) add(name string, i *instance) *instance {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.names = append(o.names, name)
	o.instances[name] = i
	return i
}

// run samples every interval until the returned function is called; that function
// waits for the sampler to end and may be called more than once.
func (o *flowObserver) run(interval time.Duration) func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				o.sample()
			}
		}
	})
	return sync.OnceFunc(func() { close(stop); wg.Wait() })
}

func (o *flowObserver) sample() {
	o.mu.Lock()
	defer o.mu.Unlock()
	latest := map[partKey]time.Time{}
	for _, i := range o.instances {
		for _, p := range i.in.Partitions() {
			k := partKey{p.Topic, p.Partition}
			if p.Delivered.After(latest[k]) {
				latest[k] = p.Delivered
			}
		}
	}
	for k, at := range latest {
		d := o.delivered[k]
		if len(d) == 0 || at.After(d[len(d)-1]) {
			o.delivered[k] = append(d, at)
		}
	}
}

// ownership is who owns what at one moment, and how many workers each member has
// started for each partition so far.
type ownership struct {
	owners map[partKey][]string
	starts map[partKey]map[string]int
	counts map[string]int
}

func (o *flowObserver) ownership() ownership {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := ownership{owners: map[partKey][]string{}, starts: map[partKey]map[string]int{}, counts: map[string]int{}}
	for _, name := range o.names {
		for _, p := range o.instances[name].in.Partitions() {
			k := partKey{p.Topic, p.Partition}
			if w.starts[k] == nil {
				w.starts[k] = map[string]int{}
			}
			w.starts[k][name] = p.Starts
			if p.Owned {
				w.owners[k] = append(w.owners[k], name)
				w.counts[name]++
			}
		}
	}
	return w
}

// settled reports whether every one of all partitions has exactly one owner and the
// members own want partitions each.
func (w ownership) settled(want map[string]int, all int) bool {
	if len(w.owners) != all {
		return false
	}
	for _, os := range w.owners {
		if len(os) != 1 {
			return false
		}
	}
	for name, n := range w.counts {
		if want[name] != n {
			return false
		}
	}
	return len(w.counts) == len(want)
}

func (o *flowObserver) waitOwners(t *testing.T, want map[string]int, all int) ownership {
	t.Helper()
	var w ownership
	// A rebalance waits for the revoked partitions' flushes, for up to the
	// rebalance timeout.
	waitFor(t, 2*time.Minute, fmt.Sprintf("partitions split as %v", want), func() bool {
		w = o.ownership()
		return w.settled(want, all)
	})
	return w
}

// waitFlowingSince waits until records reached a worker for every one of all
// partitions after since.
func (o *flowObserver) waitFlowingSince(t *testing.T, since time.Time, all int) {
	t.Helper()
	waitFor(t, time.Minute, "records flowing on every partition", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		n := 0
		for _, d := range o.delivered {
			if len(d) > 0 && d[len(d)-1].After(since) {
				n++
			}
		}
		return n == all
	})
}

// rebalance is one join or leave: from t0 (the member is started or stopped) to t1
// (the new split is in place).
type rebalance struct {
	name          string
	t0, t1        time.Time
	before, after ownership
	moved         []partKey
	movedStall    stallStats
	unmovedStall  stallStats
	// movedResume and unmovedResume are the medians, after t0, of when the moved
	// and the unmoved partitions' longest gaps ended.
	movedResume, unmovedResume time.Duration
}

func (o *flowObserver) begin(name string) *rebalance {
	return &rebalance{name: name, before: o.ownership(), t0: time.Now()}
}

// finish waits for the split want, then for records to flow again on every
// partition, and measures the stall of moved and unmoved partitions.
func (o *flowObserver) finish(t *testing.T, r *rebalance, want map[string]int, all int) {
	t.Helper()
	r.after = o.waitOwners(t, want, all)
	r.t1 = time.Now()
	o.waitFlowingSince(t, r.t1, all)
	o.mu.Lock()
	defer o.mu.Unlock()
	var moved, unmoved, movedEnd, unmovedEnd []time.Duration
	for k, os := range r.after.owners {
		from, to := longestGap(o.delivered[k], r.t0, r.t1)
		if prev := r.before.owners[k]; len(prev) == 1 && prev[0] == os[0] {
			unmoved = append(unmoved, to.Sub(from))
			unmovedEnd = append(unmovedEnd, to.Sub(r.t0))
		} else {
			moved = append(moved, to.Sub(from))
			movedEnd = append(movedEnd, to.Sub(r.t0))
			r.moved = append(r.moved, k)
		}
	}
	r.movedStall, r.unmovedStall = newStallStats(moved), newStallStats(unmoved)
	r.movedResume, r.unmovedResume = newStallStats(movedEnd).median, newStallStats(unmovedEnd).median
	t.Logf("%s: split %v after %s; moved %d partitions, stall ms %s, resumed at +%s; unmoved stall ms %s, resumed at +%s",
		r.name, r.after.counts, r.t1.Sub(r.t0).Round(time.Millisecond), len(r.moved), r.movedStall,
		r.movedResume.Round(time.Millisecond), r.unmovedStall, r.unmovedResume.Round(time.Millisecond))
}

// checkCooperative asserts that r moved exactly want partitions, started each moved
// one once at its new owner, and restarted none of the others: an eager rebalance
// would revoke and restart every worker.
func (r *rebalance) checkCooperative(t *testing.T, want int) {
	t.Helper()
	if len(r.moved) != want {
		t.Errorf("%s moved %d partitions (%v), want %d", r.name, len(r.moved), r.moved, want)
	}
	for k, os := range r.after.owners {
		owner := os[0]
		movedHere := slices.Contains(r.moved, k)
		for name, n := range r.after.starts[k] {
			started := n - r.before.starts[k][name]
			switch {
			case movedHere && name == owner && started != 1:
				t.Errorf("%s: %s moved to %s, which started %d workers for it, want 1", r.name, k, owner, started)
			case (!movedHere || name != owner) && started != 0:
				t.Errorf("%s: %s (owner %s, moved %v) was restarted %d times by %s: the rebalance was not cooperative", r.name, k, owner, movedHere, started, name)
			}
		}
	}
	// A moved partition flows again only after its old owner's flush and commit, a
	// further round of the group protocol and its new worker's start; an unmoved one
	// waits at most for its owner's revoke callback (which holds the poll loop), so
	// it resumes first. Eagerly, every partition would wait for the whole rebalance
	// and resume with the moved ones.
	// That is a timing, reported rather than asserted (the machines are noisy): the
	// worker-restart check above is what fails an eager rebalance.
	if r.unmovedStall.n > 0 {
		t.Logf("%s: unmoved partitions resumed at +%s (median), moved ones at +%s",
			r.name, r.unmovedResume.Round(time.Millisecond), r.movedResume.Round(time.Millisecond))
	}
}

// steadyGaps is the stall measure over a quiet window, for comparison.
func (o *flowObserver) steadyGaps(from, to time.Time) stallStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	var gaps []time.Duration
	for _, d := range o.delivered {
		a, b := longestGap(d, from, to)
		gaps = append(gaps, b.Sub(a))
	}
	return newStallStats(gaps)
}

// longestGap is the longest interval between consecutive deliveries in d that
// overlaps [from, to], as its first and last delivery.
func longestGap(d []time.Time, from, to time.Time) (start, end time.Time) {
	for i := 1; i < len(d); i++ {
		if d[i].Before(from) || d[i-1].After(to) {
			continue
		}
		if d[i].Sub(d[i-1]) > end.Sub(start) {
			start, end = d[i-1], d[i]
		}
	}
	return start, end
}

// stallStats summarises per-partition stalls.
type stallStats struct {
	n           int
	median, max time.Duration
}

func newStallStats(ds []time.Duration) stallStats {
	if len(ds) == 0 {
		return stallStats{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return stallStats{n: len(ds), median: ds[len(ds)/2], max: ds[len(ds)-1]}
}

func (s stallStats) String() string {
	if s.n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%d/%d (n=%d)", s.median.Milliseconds(), s.max.Milliseconds(), s.n)
}
