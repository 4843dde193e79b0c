package consumers_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/consumers"
	"github.com/sluicehq/sluice/internal/membudget"
)

const (
	topic      = "t"
	partitions = 4
	// guard bounds every wait for something that must happen; reaching it fails.
	guard = 30 * time.Second
)

// cluster starts an in-process Kafka with topic t (4 partitions) and returns its
// addresses, a producer and an admin client.
func cluster(t *testing.T) ([]string, *kgo.Client, *kadm.Client) {
	t.Helper()
	_, addrs, prod, adm := kafka(t)
	return addrs, prod, adm
}

// kafka is cluster, with the cluster itself.
func kafka(t *testing.T) (*kfake.Cluster, []string, *kgo.Client, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	adm, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	return c, addrs, prod, kadm.NewClient(adm)
}

// produce writes n records to each listed partition, one produce request per record
// when single is set (so that they arrive as separate batches).
func produce(t *testing.T, cl *kgo.Client, n int, single bool, parts ...int32) {
	t.Helper()
	var rs []*kgo.Record
	for _, p := range parts {
		for i := range n {
			rs = append(rs, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, i)})
		}
	}
	if single {
		for _, r := range rs {
			if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func allParts() []int32 { return []int32{0, 1, 2, 3} }

// clientOpts keeps group timings short for tests.
func clientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(100 * time.Millisecond),
		kgo.RebalanceTimeout(10 * time.Second),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}
}

// event is something a test worker did, in the order the harness saw it.
type event struct {
	member    string
	kind      string // "start", "recv", "return"
	partition int32
	offsets   []int64 // recv
	err       error   // return
	closed    bool    // return: in was closed
	lastMark  int64   // return
}

// harness records what the workers of every member did and lets tests wait for
// conditions on it.
type harness struct {
	t       *testing.T
	mu      sync.Mutex
	events  []event
	changed chan struct{} // closed and replaced on every event
	// block, when non-nil, is called by a worker before it handles each slice; it may
	// block.
	block func(member string, partition int32, recs []*kgo.Record)
	// fail, when non-nil, makes a worker return the error it returns for a slice.
	fail func(member string, partition int32, recs []*kgo.Record) error
}

func newHarness(t *testing.T) *harness { return &harness{t: t, changed: make(chan struct{})} }

func (h *harness) add(e event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
	close(h.changed)
	h.changed = make(chan struct{})
}

// wait blocks until cond holds on the events seen so far.
func (h *harness) wait(what string, cond func([]event) bool) {
	h.t.Helper()
	deadline := time.NewTimer(guard)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		ok, ch := cond(h.events), h.changed
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			h.t.Fatalf("timed out waiting for %s; events:\n%s", what, h.dump())
		}
	}
}

func (h *harness) snapshot() []event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

func (h *harness) dump() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, e := range h.events {
		switch e.kind {
		case "recv":
			fmt.Fprintf(&b, "  %s recv p%d %d..%d\n", e.member, e.partition, e.offsets[0], e.offsets[len(e.offsets)-1])
		default:
			fmt.Fprintf(&b, "  %s %s p%d err=%v closed=%v lastMark=%d\n", e.member, e.kind, e.partition, e.err, e.closed, e.lastMark)
		}
	}
	return b.String()
}

// received returns, per partition, every offset any worker received, in order of
// arrival.
func received(evs []event) map[int32][]int64 {
	out := make(map[int32][]int64)
	for _, e := range evs {
		if e.kind == "recv" {
			out[e.partition] = append(out[e.partition], e.offsets...)
		}
	}
	return out
}

func count(evs []event, kind string) int {
	n := 0
	for _, e := range evs {
		if e.kind == kind {
			n++
		}
	}
	return n
}

func (h *harness) factory(member string) consumers.Factory {
	return func(tp string, partition int32) consumers.Worker {
		if tp != topic {
			h.t.Errorf("factory called for topic %q", tp)
			return nil
		}
		return &testWorker{h: h, member: member, partition: partition}
	}
}

// testWorker records its start (once the group counts its partition as owned,
// unlike the factory call) and every slice, marks each slice's last record at once
// and recycles the slice's records.
type testWorker struct {
	h         *harness
	member    string
	partition int32
}

func (w *testWorker) Run(ctx context.Context, in <-chan []*kgo.Record, mark func(*kgo.Record)) error {
	w.h.add(event{member: w.member, kind: "start", partition: w.partition})
	last := int64(-1)
	ret := func(err error, closed bool) error {
		w.h.add(event{member: w.member, kind: "return", partition: w.partition, err: err, closed: closed, lastMark: last})
		return err
	}
	for {
		select {
		case recs, ok := <-in:
			if !ok {
				return ret(nil, true)
			}
			if w.h.block != nil {
				w.h.block(w.member, w.partition, recs)
			}
			offs := make([]int64, len(recs))
			for i, r := range recs {
				if r.Topic != topic || r.Partition != w.partition {
					w.h.t.Errorf("worker %s/p%d got a record of %s/%d", w.member, w.partition, r.Topic, r.Partition)
				}
				offs[i] = r.Offset
			}
			w.h.add(event{member: w.member, kind: "recv", partition: w.partition, offsets: offs})
			if w.h.fail != nil {
				if err := w.h.fail(w.member, w.partition, recs); err != nil {
					return ret(err, false)
				}
			}
			mark(recs[len(recs)-1])
			last = recs[len(recs)-1].Offset
			for _, r := range recs { // done with them, as the pipeline's worker is
				r.Recycle()
			}
		case <-ctx.Done():
			return ret(ctx.Err(), false)
		}
	}
}

type member struct {
	g      *consumers.Group
	cancel context.CancelFunc
	done   chan error
}

func startMember(t *testing.T, o consumers.Options, f consumers.Factory) *member {
	t.Helper()
	g, err := consumers.New(o, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	m := &member{g: g, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-m.done
	})
	return m
}

// stop cancels the member and returns Run's result.
func (m *member) stop(t *testing.T) error {
	t.Helper()
	m.cancel()
	return m.result(t)
}

func (m *member) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-m.done:
		m.done <- err // for the cleanup
		return err
	case <-time.After(guard):
		t.Fatal("Group.Run did not return")
		return nil
	}
}

func committed(t *testing.T, adm *kadm.Client, group string) map[int32]int64 {
	t.Helper()
	out, err := committedErr(t, adm, group)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// committedErr is committed, returning the error: before a member has joined,
// the broker does not know the group yet (GROUP_ID_NOT_FOUND).
func committedErr(t *testing.T, adm *kadm.Client, group string) (map[int32]int64, error) {
	resp, err := adm.FetchOffsets(t.Context(), group)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64)
	if err := resp.Error(); err != nil {
		return nil, err
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

func checkExactlyOnceInOrder(t *testing.T, got map[int32][]int64, n int) {
	t.Helper()
	for p := range int32(partitions) {
		want := make([]int64, n)
		for i := range want {
			want[i] = int64(i)
		}
		if !slices.Equal(got[p], want) {
			t.Errorf("partition %d: received %v, want 0..%d once each in order", p, got[p], n-1)
		}
	}
}

func options(addrs []string, group string) consumers.Options {
	return consumers.Options{
		Brokers:        addrs,
		Group:          group,
		Topics:         []string{topic},
		CommitInterval: 100 * time.Millisecond,
		DrainTimeout:   10 * time.Second,
		ClientOpts:     clientOpts(),
	}
}

func TestGroupDeliversEveryRecordOnceInOrder(t *testing.T) {
	addrs, prod, adm := cluster(t)
	h := newHarness(t)
	const n = 60
	produce(t, prod, n/2, false, allParts()...)
	m := startMember(t, options(addrs, "deliver"), h.factory("a"))
	h.wait("first half", func(evs []event) bool { return len(received(evs)[3]) >= n/2 && count(evs, "start") == partitions })
	produce(t, prod, n/2, true, allParts()...)
	h.wait("every record", func(evs []event) bool {
		tot := 0
		for _, offs := range received(evs) {
			tot += len(offs)
		}
		return tot >= n*partitions
	})
	if err := m.stop(t); err != nil {
		t.Fatalf("Run = %v after ctx cancel", err)
	}
	evs := h.snapshot()
	checkExactlyOnceInOrder(t, received(evs), n)
	if got := m.g.Fetched(); got != n*partitions {
		t.Errorf("Fetched %d, want %d", got, n*partitions)
	}
	// Shutdown drained every worker (in closed, Run returned nil).
	for _, e := range evs {
		if e.kind == "return" && (e.err != nil || !e.closed) {
			t.Errorf("worker p%d returned %v (in closed: %v) on shutdown", e.partition, e.err, e.closed)
		}
	}
	if r := count(evs, "return"); r != partitions {
		t.Errorf("%d workers returned, want %d", r, partitions)
	}
	if a := m.g.Assigned(); a != 0 {
		t.Errorf("Assigned %d after Run returned", a)
	}
	for p, at := range committed(t, adm, "deliver") {
		if at != n {
			t.Errorf("partition %d committed at %d, want %d", p, at, n)
		}
	}
	// Run left the group.
	groups, err := adm.DescribeGroups(t.Context(), "deliver")
	if err != nil {
		t.Fatal(err)
	}
	if g := groups["deliver"]; len(g.Members) != 0 {
		t.Errorf("group still has members %v after Run returned", g.Members)
	}
}

func TestGroupCooperativeRebalanceDrainsAndCommitsBeforeHandOff(t *testing.T) {
	addrs, prod, adm := cluster(t)
	h := newHarness(t)
	const n = 40
	produce(t, prod, n, false, allParts()...)
	o := options(addrs, "rebalance")
	o.CommitInterval = time.Hour // only the revoke and the shutdown commit
	a := startMember(t, o, h.factory("a"))
	h.wait("a consumed everything", func(evs []event) bool {
		got := received(evs)
		for p := range int32(partitions) {
			if len(got[p]) < n {
				return false
			}
		}
		return true
	})

	// When b is handed a partition, a's worker for it must already have returned after
	// a closed input, and a's marks must be committed.
	var mu sync.Mutex
	var handOff []string
	var checkErrs []string
	bf := h.factory("b")
	b := startMember(t, o, func(tp string, p int32) consumers.Worker {
		evs := h.snapshot()
		returned := false
		for _, e := range evs {
			if e.member == "a" && e.kind == "return" && e.partition == p {
				returned = e.err == nil && e.closed && e.lastMark == n-1
			}
		}
		c := committed(t, adm, "rebalance")
		mu.Lock()
		handOff = append(handOff, fmt.Sprint(p))
		if !returned {
			checkErrs = append(checkErrs, fmt.Sprintf("p%d handed to b before a's worker drained", p))
		}
		if c[p] != n {
			checkErrs = append(checkErrs, fmt.Sprintf("p%d handed to b with committed offset %d, want %d", p, c[p], n))
		}
		mu.Unlock()
		return bf(tp, p)
	})
	h.wait("b owns two partitions", func(evs []event) bool {
		bs, ar := 0, 0
		for _, e := range evs {
			if e.member == "b" && e.kind == "start" {
				bs++
			}
			if e.member == "a" && e.kind == "return" {
				ar++
			}
		}
		return bs == 2 && ar == 2
	})
	if a.g.Assigned() != 2 || b.g.Assigned() != 2 {
		t.Fatalf("assigned a=%d b=%d, want 2 and 2", a.g.Assigned(), b.g.Assigned())
	}
	mu.Lock()
	if len(checkErrs) > 0 {
		t.Errorf("hand-off %v:\n%s\nevents:\n%s", handOff, strings.Join(checkErrs, "\n"), h.dump())
	}
	mu.Unlock()

	// New records go to the new owners, from the committed offsets: nothing twice.
	produce(t, prod, n, false, allParts()...)
	h.wait("second round", func(evs []event) bool {
		got := received(evs)
		for p := range int32(partitions) {
			if len(got[p]) < 2*n {
				return false
			}
		}
		return true
	})
	if err := b.stop(t); err != nil {
		t.Fatalf("b: Run = %v", err)
	}
	if err := a.stop(t); err != nil {
		t.Fatalf("a: Run = %v", err)
	}
	checkExactlyOnceInOrder(t, received(h.snapshot()), 2*n)
	for p, at := range committed(t, adm, "rebalance") {
		if at != 2*n {
			t.Errorf("partition %d committed at %d, want %d", p, at, 2*n)
		}
	}
}

func TestGroupPausesBehindWorkerAndResumes(t *testing.T) {
	addrs, prod, _ := cluster(t)
	h := newHarness(t)
	gate := h.blockFirstSlice()
	o := options(addrs, "pause")
	o.QueueDepth = 1
	m := startMember(t, o, h.factory("a"))
	paused := func() bool { return slices.Contains(m.g.Client().PauseFetchPartitions(nil)[topic], 0) }
	// One record per produce request, so that fetches keep bringing separate slices
	// until the partition is paused.
	produce(t, prod, 1, true, 0)
	sent := 1
	eventually := func(what string, cond func() bool) {
		t.Helper()
		waitFor(t, what, cond, func() string { return fmt.Sprintf("fetched %d, produced %d to p0\n%s", m.g.Fetched(), sent, h.dump()) })
	}
	sent = produceUntilPaused(t, m, prod, paused, sent, 50)
	// With QueueDepth 1, fetching pauses with at most three slices taken: one in the
	// worker, one in the feeder, one queued. Fewer when the poll loop finds a slice
	// still queued because the feeder had not yet come back for it.
	if f := m.g.Fetched(); f > 3 || f > int64(sent) {
		t.Errorf("paused after %d fetched records (%d produced); want at most 3", f, sent)
	}
	// Other partitions keep flowing while partition 0 is paused.
	produce(t, prod, 5, false, 1, 2, 3)
	h.wait("partitions 1-3", func(evs []event) bool {
		got := received(evs)
		return len(got[1]) == 5 && len(got[2]) == 5 && len(got[3]) == 5
	})
	produce(t, prod, 10, false, 0)
	sent += 10
	close(gate)
	h.wait("partition 0 after resume", func(evs []event) bool { return len(received(evs)[0]) == sent })
	eventually("partition 0 resumed", func() bool { return !paused() })
	if err := m.stop(t); err != nil {
		t.Fatal(err)
	}
	checkInOrder(t, received(h.snapshot()))
}

// blockFirstSlice makes the workers of the listed partitions (partition 0 when
// none) stuck on their first slice until the returned channel is closed, or the
// test ends (a test that failed before it closed the channel still stops).
func (h *harness) blockFirstSlice(parts ...int32) chan struct{} {
	if len(parts) == 0 {
		parts = []int32{0}
	}
	gate := make(chan struct{})
	ended := h.t.Context().Done()
	h.block = func(_ string, p int32, recs []*kgo.Record) {
		if slices.Contains(parts, p) && recs[0].Offset == 0 {
			select {
			case <-gate:
			case <-ended:
			}
		}
	}
	return gate
}

// waitFor polls for a state the Group exposes no notification for; state says what
// it was when the wait times out.
func waitFor(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; %s", what, state())
		}
		time.Sleep(time.Millisecond)
	}
}

// produceUntilPaused produces one record at a time to partition 0, each once the
// previous one was fetched, until paused says its fetching is paused; it fails after
// limit records and returns how many were produced in all (sent before).
func produceUntilPaused(t *testing.T, m *member, prod *kgo.Client, paused func() bool, sent, limit int) int {
	t.Helper()
	return produceUntilPausedTo(t, m, prod, 0, func() bool { return paused() }, sent, limit)
}

// pausedPartition returns whether m's fetching of partition p is paused.
func pausedPartition(m *member, p int32) func() bool {
	return func() bool { return slices.Contains(m.g.Client().PauseFetchPartitions(nil)[topic], p) }
}

// produceUntilPausedTo is produceUntilPaused for partition p; sent counts the
// records fetched from every partition.
func produceUntilPausedTo(t *testing.T, m *member, prod *kgo.Client, p int32, paused func() bool, sent, limit int) int {
	t.Helper()
	for !paused() {
		if sent > limit {
			t.Fatalf("partition %d not paused after %d records behind a blocked worker; fetched %d", p, sent, m.g.Fetched())
		}
		waitFor(t, "record fetched", func() bool { return m.g.Fetched() >= int64(sent) || paused() },
			func() string { return fmt.Sprintf("fetched %d, produced %d", m.g.Fetched(), sent) })
		if !paused() {
			produce(t, prod, 1, true, p)
			sent++
		}
	}
	return sent
}

// The partitions' fetch shares are one pool: a lone busy partition goes on fetching
// into what the idle ones leave, far beyond its share, and pauses once it holds the
// pool; another partition then still holds its share before it pauses. Both
// resume when their workers catch up; the budget learns every assignment and
// revoke, and what is held goes back to zero.
func TestGroupFetchPoolSharedByNeed(t *testing.T) {
	addrs, prod, _ := cluster(t)
	h := newHarness(t)
	gate := h.blockFirstSlice(0, 1)
	// 10% of a quarter of 320,000 bytes (the partitions' overhead would take more)
	// over 4 partitions: 2,000 bytes each, about seven of the test's records
	// (RecordOverhead and a few bytes of value); 8,000 bytes in the pool.
	budget := membudget.New(320_000)
	o := options(addrs, "memory")
	o.QueueDepth = 64
	o.Memory = budget
	m := startMember(t, o, h.factory("a"))
	const share, pool, record = 2000, 8000, consumers.RecordOverhead + 6
	if got := budget.FetchBytes(0); got != pool {
		t.Errorf("fetch limit with nothing held, 4 partitions owned = %d, want the pool %d", got, pool)
	}
	// Partition 1 alone: past its share, up to the pool (one record beyond it,
	// one in the feeder, one in the worker).
	produce(t, prod, 1, true, 1)
	sent := produceUntilPausedTo(t, m, prod, 1, pausedPartition(m, 1), 1, 100)
	busy := m.g.Fetched()
	if least, most := int64(share/record+3), int64(pool/record+3); busy <= least || busy > most {
		t.Errorf("a lone busy partition paused after %d fetched records; want more than its share (%d) and at most the pool (%d)", busy, least, most)
	}
	if u := budget.Usage(); u.Partitions != partitions || u.Fetched < pool-2*record || u.Fetched > pool+record {
		t.Errorf("budget with partition 1 paused: %d partitions, %d fetched bytes held; want %d, about %d", u.Partitions, u.Fetched, partitions, pool)
	}
	// The pool is full: partition 0 pauses at its share.
	produce(t, prod, 1, true, 0)
	sent = produceUntilPausedTo(t, m, prod, 0, pausedPartition(m, 0), sent+1, 150)
	if f, least, most := m.g.Fetched()-busy, int64(share/record), int64(share/record+3); f < least || f > most {
		t.Errorf("partition 0 paused after %d fetched records with the pool full; want its share (%d to %d)", f, least, most)
	}
	close(gate)
	h.wait("partitions 0 and 1 after resume", func(evs []event) bool {
		got := received(evs)
		return len(got[0])+len(got[1]) == sent
	})
	for _, p := range []int32{0, 1} {
		waitFor(t, fmt.Sprintf("partition %d resumed", p), func() bool { return !pausedPartition(m, p)() }, func() string { return fmt.Sprint(budget.Usage()) })
	}
	if err := m.stop(t); err != nil {
		t.Fatal(err)
	}
	if u := budget.Usage(); u.Partitions != 0 || u.Fetched != 0 {
		t.Errorf("budget after stop: %d partitions, %d fetched bytes held; want 0, 0", u.Partitions, u.Fetched)
	}
}

// A partition with records left to fetch that pauses behind its worker while the
// others have caught up does not wait, once resumed, behind a fetch the broker
// holds for them: the caught-up partitions pause beside it and resume with it.
// FetchMaxWait is beyond the test's guard, so a resumed partition that waited for
// a held fetch would time the test out; and once it has caught up too, the others
// are fetched again at once.
func TestGroupResumedPartitionSkipsHeldFetch(t *testing.T) {
	c, addrs, prod, _ := kafka(t)
	// The client makes each partition fetchable as its start offset is known, one
	// by one, and may send its first fetch before partition 0's is: the broker
	// would hold that fetch of empty partitions for FetchMaxWait, and partition 0
	// wait behind it. Until a fetch asks for partition 0, none is held.
	c.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.FetchRequest)
		for _, tp := range req.Topics {
			for _, p := range tp.Partitions {
				if p.Partition == 0 {
					c.DropControl()
					return nil, nil, false
				}
			}
		}
		req.MaxWaitMillis = 0
		return nil, nil, false
	})
	h := newHarness(t)
	gate := h.blockFirstSlice()
	const n = 40
	produce(t, prod, n, true, 0) // one batch per record, and one batch per fetch (below)
	o := options(addrs, "copause")
	o.QueueDepth = 1
	o.ClientOpts = append(clientOpts(), kgo.FetchMaxWait(2*guard), kgo.FetchMaxPartitionBytes(1))
	m := startMember(t, o, h.factory("a"))
	waitFor(t, "partition 0 paused behind its worker, and the caught-up partitions beside it",
		func() bool { return len(m.g.Client().PauseFetchPartitions(nil)[topic]) == partitions },
		func() string {
			return fmt.Sprintf("paused %v, fetched %d", m.g.Client().PauseFetchPartitions(nil), m.g.Fetched())
		})
	close(gate)
	h.wait("partition 0's records", func(evs []event) bool { return len(received(evs)[0]) == n })
	produce(t, prod, 5, false, 1, 2, 3)
	h.wait("partitions 1-3 after partition 0 caught up", func(evs []event) bool {
		got := received(evs)
		return len(got[1]) == 5 && len(got[2]) == 5 && len(got[3]) == 5
	})
	if err := m.stop(t); err != nil {
		t.Fatal(err)
	}
	checkInOrder(t, received(h.snapshot()))
}

// checkInOrder fails unless every partition's records arrived once each, in
// offset order from 0.
func checkInOrder(t *testing.T, got map[int32][]int64) {
	t.Helper()
	for p, offs := range got {
		for i, o := range offs {
			if o != int64(i) {
				t.Fatalf("partition %d: received %v, want 0..n in order", p, offs)
			}
		}
	}
}

// With a share of a few records, nearly every fetch pauses its partition, often
// after the feeder already handed the slice on; no partition may stay paused with
// nothing queued: every record arrives.
func TestGroupMemorySharePausesNeverStick(t *testing.T) {
	addrs, prod, _ := cluster(t)
	h := newHarness(t)
	o := options(addrs, "memory-churn")
	o.Memory = membudget.New(160_000) // 1,000 bytes per partition, as above
	startMember(t, o, h.factory("a"))
	const rounds, per = 400, 5
	for range rounds {
		produce(t, prod, per, false, allParts()...)
	}
	h.wait("every record", func(evs []event) bool {
		got := received(evs)
		for p := range int32(partitions) {
			if len(got[p]) < rounds*per {
				return false
			}
		}
		return true
	})
}

func TestGroupWorkerErrorEndsRun(t *testing.T) {
	addrs, prod, adm := cluster(t)
	h := newHarness(t)
	boom := errors.New("sink is gone")
	h.fail = func(_ string, p int32, recs []*kgo.Record) error {
		if p == 2 && recs[len(recs)-1].Offset >= 9 {
			return boom
		}
		return nil
	}
	produce(t, prod, 5, false, allParts()...)
	m := startMember(t, options(addrs, "fail"), h.factory("a"))
	h.wait("first records", func(evs []event) bool { return len(received(evs)[2]) >= 5 })
	produce(t, prod, 5, false, allParts()...)
	err := m.result(t) // no cancel: the failure alone ends Run
	if !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
	if !strings.Contains(err.Error(), "t/2") {
		t.Errorf("error %q does not name the partition", err)
	}
	evs := h.snapshot()
	for _, e := range evs {
		if e.kind == "return" && e.partition != 2 && (e.err != nil || !e.closed) {
			t.Errorf("healthy worker p%d returned %v (in closed: %v); want a drain", e.partition, e.err, e.closed)
		}
	}
	// The failed partition's last good mark is committed, not the failed slice.
	if c := committed(t, adm, "fail"); c[2] != 5 {
		t.Errorf("partition 2 committed at %d, want 5", c[2])
	}
}

func TestGroupRunReturnsNilOnCancel(t *testing.T) {
	addrs, prod, adm := cluster(t)
	h := newHarness(t)
	m := startMember(t, options(addrs, "cancel"), h.factory("a"))
	h.wait("assignment", func(evs []event) bool { return count(evs, "start") == partitions })
	produce(t, prod, 3, false, allParts()...)
	h.wait("records", func(evs []event) bool {
		tot := 0
		for _, offs := range received(evs) {
			tot += len(offs)
		}
		return tot == 3*partitions
	})
	if err := m.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	evs := h.snapshot()
	if r := count(evs, "return"); r != partitions {
		t.Fatalf("%d workers returned, want %d:\n%s", r, partitions, h.dump())
	}
	for _, e := range evs {
		if e.kind == "return" && (e.err != nil || !e.closed) {
			t.Errorf("worker p%d returned %v, closed %v", e.partition, e.err, e.closed)
		}
	}
	for p := range int32(partitions) {
		if c := committed(t, adm, "cancel"); c[p] != 3 {
			t.Errorf("partition %d committed at %d, want 3", p, c[p])
		}
	}
}

// stuckWorker takes its first slice and then never finishes flushing it, like a
// worker whose store waits on an unreachable ClickHouse, until its context ends
// or the test releases it.
type stuckWorker struct {
	p        int32
	release  <-chan struct{}
	got      chan struct{} // closed on the first slice
	returned chan struct{} // closed when Run returns
}

func newStuckWorker(p int32, release <-chan struct{}) *stuckWorker {
	return &stuckWorker{p: p, release: release, got: make(chan struct{}), returned: make(chan struct{})}
}

func (w *stuckWorker) Run(ctx context.Context, in <-chan []*kgo.Record, _ func(*kgo.Record)) error {
	defer close(w.returned)
	select {
	case <-in:
		close(w.got)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-w.release:
		return nil
	}
}

// A revoked partition whose flush cannot finish is cancelled after RevokeTimeout,
// not DrainTimeout, and handed on once its worker returned.
func TestGroupRevokeTimeoutCancelsStuckWorkers(t *testing.T) {
	addrs, prod, _ := cluster(t)
	produce(t, prod, 5, false, allParts()...)
	o := options(addrs, "revoke-stuck")
	o.DrainTimeout = time.Hour
	o.RevokeTimeout = 300 * time.Millisecond
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	started := make(chan *stuckWorker, partitions)
	startMember(t, o, func(_ string, p int32) consumers.Worker {
		w := newStuckWorker(p, release)
		started <- w
		return w
	})
	t.Cleanup(free) // before a stops
	var mu sync.Mutex
	a := map[int32]*stuckWorker{}
	for range partitions {
		w := <-started
		<-w.got
		mu.Lock()
		a[w.p] = w
		mu.Unlock()
	}
	handed := make(chan int32, partitions)
	startMember(t, options(addrs, "revoke-stuck"), func(_ string, p int32) consumers.Worker {
		mu.Lock()
		w := a[p]
		mu.Unlock()
		select {
		case <-w.returned:
		default:
			t.Errorf("partition %d handed to b while a's worker still runs", p)
		}
		handed <- p
		return newStuckWorker(p, release)
	})
	t.Cleanup(free) // before b stops
	select {
	case <-handed:
	case <-time.After(guard):
		t.Fatal("no partition was handed to b: the revoke did not cancel a's stuck workers")
	}
}

// decodedBytes observes the fetched batches as the group's expansion does: the
// bytes fetched and the memory their records take decoded.
type decodedBytes struct {
	mu               sync.Mutex
	fetched, decoded int64
}

func (d *decodedBytes) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fetched += int64(m.CompressedBytes)
	d.decoded += int64(m.UncompressedBytes) + int64(m.NumRecords)*consumers.RecordOverhead
}

// Fetches are sized by the memory their records take decoded: with records that
// compress about twentyfold, the sizes the broker is asked for follow the
// expansion the group observed, far below the assumed one it starts with.
func TestGroupFetchSizesFollowExpansion(t *testing.T) {
	c, addrs, prod, _ := kafka(t)
	type asked struct{ response, partition int32 }
	var mu sync.Mutex
	var seen []asked
	c.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.FetchRequest)
		for _, tp := range req.Topics {
			if len(tp.Partitions) > 0 {
				mu.Lock()
				seen = append(seen, asked{req.MaxBytes, tp.Partitions[0].PartitionMaxBytes})
				mu.Unlock()
				break
			}
		}
		return nil, nil, false
	})
	const n = 6000 // per partition: about 7 MiB decoded, 0.3 MiB fetched
	var rs []*kgo.Record
	for _, p := range allParts() {
		for i := range n {
			v := fmt.Appendf(nil, `{"partition":%d,"seq":%d,"note":"%s"}`, p, i, strings.Repeat("compressible ", 70))
			rs = append(rs, &kgo.Record{Partition: p, Value: v})
		}
	}
	if err := prod.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sizes := consumers.FetchSizes{Response: 2 << 20, Partition: 512 << 10}
	var obs decodedBytes
	o := options(addrs, "fetch-sizes")
	o.Fetch = sizes
	o.ClientOpts = append(clientOpts(), kgo.WithHooks(&obs))
	h := newHarness(t)
	m := startMember(t, o, h.factory("a"))
	h.wait("every record", func(evs []event) bool {
		got := received(evs)
		for _, p := range allParts() {
			if len(got[p]) != n {
				return false
			}
		}
		return true
	})
	if err := m.stop(t); err != nil {
		t.Fatal(err)
	}
	checkInOrder(t, received(h.snapshot()))

	obs.mu.Lock()
	expansion := float64(obs.decoded) / float64(obs.fetched)
	obs.mu.Unlock()
	mu.Lock()
	asks := slices.Clone(seen)
	mu.Unlock()
	if len(asks) == 0 {
		t.Fatal("the broker saw no fetch that asked for a partition")
	}
	first, last := asks[0], asks[len(asks)-1]
	t.Logf("observed expansion %.1f; first fetch asked %+v, last %+v, of %d fetches", expansion, first, last, len(asks))
	if expansion < 12 {
		t.Fatalf("the records expand %.1f-fold; the test needs far more than the assumed 6", expansion)
	}
	want := float64(sizes.Partition) / expansion
	if got := float64(last.partition); math.Abs(got-want) > 0.15*want {
		t.Errorf("the last fetch asked %d bytes of a partition; want about %.0f (%d of memory at an expansion of %.1f)", last.partition, want, sizes.Partition, expansion)
	}
	if got, want := float64(last.response), float64(sizes.Response)/expansion; math.Abs(got-want) > 0.15*want {
		t.Errorf("the last fetch asked %d bytes in all; want about %.0f", last.response, want)
	}
	if first.partition <= last.partition*3/2 {
		t.Errorf("the first fetch asked %d bytes of a partition, the last %d; want the first sized by the assumed expansion, well above", first.partition, last.partition)
	}
}
