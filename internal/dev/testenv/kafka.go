package testenv

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaCluster is one test's in-memory Kafka cluster (franz-go's kfake),
// speaking the real wire protocol on loopback ports.
type KafkaCluster struct {
	c *kfake.Cluster
}

// Kafka starts a kfake cluster for this test, configured by opts (for
// example kfake.SeedTopics(4, "payments"), kfake.NumBrokers(1),
// kfake.AllowAutoTopicCreation()), and closes it when the test ends. Topics
// are not created automatically unless opts say so.
func Kafka(t testing.TB, opts ...kfake.Opt) *KafkaCluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("testenv: Kafka: %v", err)
	}
	t.Cleanup(c.Close)
	return &KafkaCluster{c: c}
}

// Brokers returns the cluster's broker addresses, host:port.
func (k *KafkaCluster) Brokers() []string { return k.c.ListenAddrs() }

// Cluster returns the kfake cluster, for fault injection (ControlKey, Fault)
// and inspection.
func (k *KafkaCluster) Cluster() *kfake.Cluster { return k.c }

// Client returns a franz-go client seeded with the cluster's brokers and
// configured by opts, closed when the test ends (before the cluster).
func (k *KafkaCluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers()...)}, opts...)...)
	if err != nil {
		t.Fatalf("testenv: Kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates a topic with the given number of partitions, failing
// the test on error.
func (k *KafkaCluster) CreateTopic(t testing.TB, name string, partitions int32) {
	t.Helper()
	if err := k.c.CreateTopic(name, partitions, nil); err != nil {
		t.Fatalf("testenv: create topic %s: %v", name, err)
	}
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// EndOffsets returns the end offset (high watermark) of every partition of
// the given topics. It fails if a topic does not exist.
func (k *KafkaCluster) EndOffsets(ctx context.Context, topics ...string) (map[TopicPartition]int64, error) {
	adm, done, err := k.admin()
	if err != nil {
		return nil, err
	}
	defer done()
	ends, err := listed(adm.ListEndOffsets(ctx, topics...))
	if err != nil {
		return nil, fmt.Errorf("testenv: end offsets of %v: %w", topics, err)
	}
	return ends, nil
}

// GroupLag returns how many records of the given topics the consumer group
// has not committed yet: the sum over their partitions of the end offset
// minus the committed offset (minus the start offset where the group has
// committed nothing). It is 0 once the group has committed everything.
func (k *KafkaCluster) GroupLag(ctx context.Context, group string, topics ...string) (int64, error) {
	adm, done, err := k.admin()
	if err != nil {
		return 0, err
	}
	defer done()
	ends, err := listed(adm.ListEndOffsets(ctx, topics...))
	if err != nil {
		return 0, fmt.Errorf("testenv: lag of group %s: end offsets: %w", group, err)
	}
	starts, err := listed(adm.ListStartOffsets(ctx, topics...))
	if err != nil {
		return 0, fmt.Errorf("testenv: lag of group %s: start offsets: %w", group, err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) { // the group has committed nothing
		committed, err = nil, nil
	}
	if err != nil {
		return 0, fmt.Errorf("testenv: lag of group %s: committed offsets: %w", group, err)
	}
	var lag int64
	for tp, end := range ends {
		from := starts[tp]
		if c, ok := committed.Lookup(tp.Topic, tp.Partition); ok && c.At >= 0 {
			from = c.At
		}
		lag += max(end-from, 0)
	}
	return lag, nil
}

// admin returns an admin client of the cluster and the function that closes it.
func (k *KafkaCluster) admin() (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: Kafka admin client: %w", err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// listed flattens a kadm offset listing, failing on any partition's error
// (including a missing topic).
func listed(l kadm.ListedOffsets, err error) (map[TopicPartition]int64, error) {
	if err != nil {
		return nil, err
	}
	if err := l.Error(); err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64)
	l.Each(func(o kadm.ListedOffset) { out[TopicPartition{o.Topic, o.Partition}] = o.Offset })
	return out, nil
}
