package testenv

import (
	"context"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) { Main(m) }

func TestKafkaRoundTrip(t *testing.T) {
	t.Parallel()
	kf := Kafka(t, kfake.NumBrokers(1))
	kf.CreateTopic(t, "payments", 3)
	if got := len(kf.Cluster().PartitionInfos("payments")); got != 3 {
		t.Fatalf("payments has %d partitions, want 3", got)
	}

	prod := kf.Client(t, kgo.DefaultProduceTopic("payments"))
	const n = 100
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "%d", i)})
	}
	if err := prod.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cons := kf.Client(t, kgo.ConsumeTopics("payments"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := make(map[string]bool)
	for len(seen) < n {
		fs := cons.PollFetches(t.Context())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	for i := range n {
		if !seen[fmt.Sprint(i)] {
			t.Fatalf("record %d not consumed", i)
		}
	}
}

func TestKafkaSeededAndAutoCreate(t *testing.T) {
	t.Parallel()
	kf := Kafka(t, kfake.SeedTopics(2, "shipments"), kfake.AllowAutoTopicCreation())
	if got := len(kf.Cluster().PartitionInfos("shipments")); got != 2 {
		t.Fatalf("shipments has %d partitions, want 2", got)
	}
	cl := kf.Client(t, kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "sluice.dlq", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if kf.Cluster().TopicInfo("sluice.dlq") == nil {
		t.Fatal("sluice.dlq was not auto-created")
	}
}

func TestClickHouseQuery(t *testing.T) {
	t.Parallel()
	ch := ClickHouse(t)
	ch.Exec(t, "CREATE TABLE events (id UInt64, amount Int64) ENGINE = MergeTree ORDER BY id")

	conn := ch.Conn(t)
	ctx := clickhouse.Context(t.Context(), clickhouse.WithSettings(clickhouse.Settings{"async_insert": 0}))
	b, err := conn.PrepareBatch(ctx, "INSERT INTO events")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := b.Append(uint64(i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if n := ch.QueryUint64(t, "SELECT count() FROM events"); n != 1000 {
		t.Fatalf("count() = %d, want 1000", n)
	}
	if sum := ch.QueryUint64(t, "SELECT toUInt64(sum(amount)) FROM events WHERE id < ?", 10); sum != 45 {
		t.Fatalf("sum = %d, want 45", sum)
	}
	var db string
	if err := conn.QueryRow(t.Context(), "SELECT currentDatabase()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if db != ch.Database {
		t.Fatalf("Conn's database = %q, want %q", db, ch.Database)
	}
	if ch.Server() == nil || ch.HTTPAddr == "" || ch.Addr != ch.Server().Addr() {
		t.Errorf("local server not exposed: server %v, addr %q, http %q", ch.Server(), ch.Addr, ch.HTTPAddr)
	}
}

func TestClickHouseDatabasesAreIsolatedAndDropped(t *testing.T) {
	t.Parallel()
	var names []string
	for range 2 {
		t.Run("sub/test name with spaces", func(t *testing.T) {
			ch := ClickHouse(t)
			ch.Exec(t, "CREATE TABLE x (n UInt8) ENGINE = Memory")
			names = append(names, ch.Database)
		})
	}
	if names[0] == names[1] {
		t.Fatalf("two calls got the same database %q", names[0])
	}
	ch := ClickHouse(t)
	for _, name := range names {
		if n := ch.QueryUint64(t, "SELECT count() FROM system.databases WHERE name = ?", name); n != 0 {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}

// TestPrivateClickHouseOutage kills a private server and brings it back at
// the same address with the data kept.
func TestPrivateClickHouseOutage(t *testing.T) {
	t.Parallel()
	ch := PrivateClickHouse(t)
	ch.Exec(t, "CREATE TABLE kept (n UInt64) ENGINE = MergeTree ORDER BY n")
	ch.Exec(t, "INSERT INTO kept SETTINGS async_insert = 0 SELECT number FROM numbers(5)")
	conn := ch.Conn(t)
	if err := ch.Server().Kill(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(t.Context()); err == nil {
		t.Fatal("Ping succeeded during the outage")
	}
	if err := ch.Server().Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The same pool reconnects to the same address.
	var n uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM kept").Scan(&n); err != nil || n != 5 {
		t.Fatalf("after restart count() = %d, %v; want 5", n, err)
	}
}

// TestSharedServerComesBack kills the shared server (this test is not
// parallel, as the package doc requires) and checks that the next
// ClickHouse call restarts it.
func TestSharedServerComesBack(t *testing.T) {
	ch := ClickHouse(t)
	if err := ch.Server().Kill(); err != nil {
		t.Fatal(err)
	}
	ch2 := ClickHouse(t)
	if n := ch2.QueryUint64(t, "SELECT 1"); n != 1 {
		t.Fatalf("SELECT 1 = %d", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := ch.Conn(t).Ping(ctx); err != nil {
		t.Fatalf("first database's address not answering after the restart: %v", err)
	}
}

func TestKafkaOffsetsAndGroupLag(t *testing.T) {
	t.Parallel()
	kf := Kafka(t, kfake.NumBrokers(1))
	kf.CreateTopic(t, "payments", 2)
	prod := kf.Client(t, kgo.DefaultProduceTopic("payments"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 5 {
		r := &kgo.Record{Partition: int32(i % 2), Value: []byte("v")}
		if err := prod.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ends, err := kf.EndOffsets(t.Context(), "payments")
	if err != nil {
		t.Fatal(err)
	}
	if ends[TopicPartition{"payments", 0}] != 3 || ends[TopicPartition{"payments", 1}] != 2 {
		t.Fatalf("end offsets = %v, want p0=3 p1=2", ends)
	}
	if _, err := kf.EndOffsets(t.Context(), "nope"); err == nil {
		t.Error("EndOffsets of a missing topic succeeded")
	}

	lag, err := kf.GroupLag(t.Context(), "g", "payments")
	if err != nil || lag != 5 {
		t.Fatalf("lag before consuming = %d, %v; want 5", lag, err)
	}
	cons := kf.Client(t, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("payments"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for n := 0; n < 5; {
		fs := cons.PollFetches(t.Context())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		n += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(t.Context()); err != nil {
		t.Fatal(err)
	}
	lag, err = kf.GroupLag(t.Context(), "g", "payments")
	if err != nil || lag != 0 {
		t.Fatalf("lag after committing = %d, %v; want 0", lag, err)
	}
}
