package consumers_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/consumers"
)

// idWorker is a testWorker that records the topic id the group tells it.
type idWorker struct {
	*testWorker
	mu *sync.Mutex
	id *[16]byte
}

func (w idWorker) SetTopicID(id [16]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	*w.id = id
}

// A topic deleted and created again while the group runs: the group restarts it by
// itself, new workers learn the new topic id, every record of both incarnations is
// delivered once, and the committed offsets are the new incarnation's.
func TestGroupRecreatedTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	client := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	topicID := func() [16]byte {
		ds, err := kadm.NewClient(client()).ListTopics(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		return ds[topic].ID
	}
	h := newHarness(t)
	var mu sync.Mutex
	var ids []*[16]byte // one per worker started, in order
	factory := func(tp string, partition int32) consumers.Worker {
		w := h.factory("a")(tp, partition).(*testWorker)
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, new([16]byte))
		return idWorker{testWorker: w, mu: &mu, id: ids[len(ids)-1]}
	}
	first := topicID()
	produce(t, client(), 10, false, allParts()...)
	startMember(t, options(addrs, "recreate"), factory)
	adm := kadm.NewClient(client())
	h.wait("the first incarnation", func(evs []event) bool {
		for _, p := range allParts() {
			if len(received(evs)[p]) < 10 {
				return false
			}
		}
		return true
	})
	if err := c.DeleteTopic(topic); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(topic, partitions, nil); err != nil {
		t.Fatal(err)
	}
	second := topicID()
	produce(t, client(), 5, false, allParts()...)
	h.wait("the second incarnation, from offset 0", func(evs []event) bool {
		for _, p := range allParts() {
			if len(received(evs)[p]) < 15 {
				return false
			}
		}
		return true
	})
	h.wait("new workers", func(evs []event) bool { return count(evs, "start") == 2*partitions })
	want := append([]int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, 1, 2, 3, 4)
	for p, got := range received(h.snapshot()) {
		if !slices.Equal(got, want) {
			t.Errorf("partition %d received %v, want %v", p, got, want)
		}
	}
	mu.Lock()
	for i, id := range ids {
		if want := map[bool][16]byte{true: first, false: second}[i < partitions]; *id != want {
			t.Errorf("worker %d was told topic id %x, want %x", i, *id, want)
		}
	}
	mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(guard)
	for _, p := range allParts() {
		for {
			got := committed(t, adm, "recreate")[p]
			if got == 5 {
				break
			}
			if got > 5 {
				t.Fatalf("partition %d committed at %d: the old incarnation's offset", p, got)
			}
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("partition %d committed at %d, want 5", p, got)
			}
		}
	}
}
