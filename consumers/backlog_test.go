package consumers_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/consumers"
)

// backlogWorker is a testWorker that keeps the backlog function the group gives it.
type backlogWorker struct {
	*testWorker
	mu     *sync.Mutex
	queued *func() int
}

func (w backlogWorker) SetBacklog(queued func() int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	*w.queued = queued
}

// A worker that implements BacklogSetter learns, before its first slice, how many
// fetched slices wait for it: some while it is stuck, none once it has caught up.
func TestGroupTellsWorkersTheirBacklog(t *testing.T) {
	addrs, prod, _ := cluster(t)
	h := newHarness(t)
	gate := make(chan struct{})
	h.block = func(_ string, p int32, recs []*kgo.Record) {
		if p == 0 && recs[0].Offset == 0 {
			<-gate // the worker of partition 0 is stuck on its first slice
		}
	}
	var mu sync.Mutex
	var queued0 func() int
	factory := func(tp string, partition int32) consumers.Worker {
		w := h.factory("a")(tp, partition).(*testWorker)
		if partition != 0 {
			return w
		}
		return backlogWorker{testWorker: w, mu: &mu, queued: &queued0}
	}
	o := options(addrs, "backlog")
	o.QueueDepth = 4
	m := startMember(t, o, factory)
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release) // before the member stops (cleanups run last first), so a failure ends
	backlog := func() int {
		mu.Lock()
		defer mu.Unlock()
		if queued0 == nil {
			return -1
		}
		return queued0()
	}
	// eventually polls for a state the Group exposes no notification for.
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(guard)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; backlog %d\n%s", what, backlog(), h.dump())
			}
			time.Sleep(time.Millisecond)
		}
	}
	// One record per produce request, so that fetches bring separate slices, until
	// slices queue behind the stuck worker.
	sent := 0
	for backlog() <= 0 {
		if sent > 50 {
			t.Fatalf("no slice queued after %d records behind a stuck worker; backlog %d", sent, backlog())
		}
		produce(t, prod, 1, true, 0)
		sent++
		eventually("record fetched", func() bool { return m.g.Fetched() >= int64(sent) || backlog() > 0 })
	}
	release()
	h.wait("partition 0 caught up", func(evs []event) bool { return len(received(evs)[0]) == sent })
	eventually("no backlog once caught up", func() bool { return backlog() == 0 })
	if err := m.stop(t); err != nil {
		t.Fatal(err)
	}
}

// hwmWorker is a testWorker that keeps the high-watermark function the group gives it.
type hwmWorker struct {
	*testWorker
	high *atomic.Pointer[func() int64]
}

func (w hwmWorker) SetHighWatermark(high func() int64) { w.high.Store(&high) }

// A worker that implements HighWatermarkSetter sees, with every slice, a high
// watermark past the slice's last record, and the partition's end once it has
// every record.
func TestGroupTellsWorkersTheHighWatermark(t *testing.T) {
	addrs, prod, _ := cluster(t)
	h := newHarness(t)
	var high atomic.Pointer[func() int64]
	h.block = func(_ string, p int32, recs []*kgo.Record) {
		if p != 0 {
			return
		}
		f := high.Load()
		if f == nil {
			t.Error("slice handed over before SetHighWatermark")
			return
		}
		if hw, last := (*f)(), recs[len(recs)-1].Offset; hw < last+1 {
			t.Errorf("slice ending at %d handed over with high watermark %d", last, hw)
		}
	}
	factory := func(tp string, partition int32) consumers.Worker {
		w := h.factory("a")(tp, partition).(*testWorker)
		if partition != 0 {
			return w
		}
		return hwmWorker{testWorker: w, high: &high}
	}
	m := startMember(t, options(addrs, "hwm"), factory)
	const n = 20
	produce(t, prod, n, true, 0) // one record per request: several fetches
	h.wait("partition 0 received", func(evs []event) bool { return len(received(evs)[0]) == n })
	if hw := (*high.Load())(); hw != n {
		t.Fatalf("high watermark %d once every record was received, want %d", hw, n)
	}
	if err := m.stop(t); err != nil {
		t.Fatal(err)
	}
}
