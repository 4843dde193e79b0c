package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/chlocal"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
	"github.com/sluicehq/sluice/schemas"
)

// clusterName is the remote_servers entry of the two-shard test cluster.
const clusterName = "sluice"

// TestClusterShardedExactlyOnce runs the SLUICE_CLICKHOUSE_CLUSTER migrations on a
// cluster of two local servers, one shard each, and stores flushes through the
// Distributed tables with clickhouse.Client.Store, the pipeline's sink.
//
// What a local cluster can and cannot show (docs/exactly-once.md, "Clusters"): ON
// CLUSTER DDL is refused ("Replicated DDL queries are disabled") and
// ReplicatedMergeTree tables stay read-only without a working Keeper, so the test
// runs the generated statements on each server itself with ON CLUSTER removed and
// every Replicated… engine replaced by its non-replicated twin,
// replicated_deduplication_window becoming non_replicated_deduplication_window
// (localStatements). The Distributed tables,
// their sharding keys and the token forwarded to the shards are the ones production
// gets; replicated deduplication itself (shared by a shard's replicas through Keeper)
// is only unit-tested (schemas and pipeline/clickhouse DDL tests).
func TestClusterShardedExactlyOnce(t *testing.T) {
	t.Parallel()
	servers := startCluster(t, 2)

	db := "cluster_" + fmt.Sprint(time.Now().UnixNano()%1e9)
	cfg, err := config.Load(map[string]string{
		"SLUICE_CLICKHOUSE_ADDR":     servers[0].Addr(),
		"SLUICE_CLICKHOUSE_DATABASE": db,
		"SLUICE_CLICKHOUSE_CLUSTER":  clusterName,
		"SLUICE_WINDOW":              "1m",
	})
	if err != nil {
		t.Fatal(err)
	}
	types, err := app.EventTypes(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stmts := app.Migrations(cfg, types)
	clients := make([]*clickhouse.Client, len(servers))
	for i, srv := range servers {
		c, err := clickhouse.Open(t.Context(), clickhouse.Options{Addrs: []string{srv.Addr()}, Database: db})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Migrate(t.Context(), localStatements(t, stmts)); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		clients[i] = c
	}
	// Sluice writes through one server (the first address); the other is only a shard.
	sink := clients[0]

	const merchants, perMerchant = 40, 5
	batch := schemas.NewPaymentBatch(schemas.Options{Window: time.Minute, Raw: true})
	var offsets []int64
	var ids []string
	var ts []time.Time
	at := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	for i := range merchants * perMerchant {
		id := fmt.Sprintf("evt-%04d", i)
		occurred := at.Add(time.Duration(i) * time.Second)
		rec := fmt.Sprintf(`{"event_id":%q,"event_type":"payment.captured","occurred_at":%q,`+
			`"merchant_id":"m-%02d","customer_id":"c-1","amount_minor":100,"currency":"INR","method":"upi",`+
			`"status":"ok","country":"IN","city":"Pune","risk_score":0.1,"metadata":{}}`,
			id, occurred.Format(time.RFC3339Nano), i%merchants)
		if err := batch.Add([]byte(rec), &schemas.Meta{Topic: "payments", Partition: 3, Offset: int64(i), IngestedAt: at, Timestamp: occurred}); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		offsets, ids, ts = append(offsets, int64(i)), append(ids, id), append(ts, occurred)
	}
	blocks := append(batch.Blocks(), clickhouse.EventIDsBlock("g", "payments", "", 3, offsets, ids, ts))
	rollup := schemas.RollupTable("payments", time.Minute)
	total := merchants * perMerchant

	store := func(token string) {
		t.Helper()
		if err := sink.Store(t.Context(), token, blocks); err != nil {
			t.Fatalf("store %s: %v", token, err)
		}
	}
	store("payments/3/0-199")

	// Every table's rows are split by its sharding key; reads through the
	// Distributed table see both shards.
	rawShards := shardCounts(t, servers, db, "payments")
	if rawShards[0] == 0 || rawShards[1] == 0 || rawShards[0]+rawShards[1] != uint64(total) {
		t.Fatalf("raw payments per shard %v, want %d split over both", rawShards, total)
	}
	rollupShards := shardCounts(t, servers, db, rollup)
	if rollupShards[0] == 0 || rollupShards[1] == 0 {
		t.Fatalf("rollup rows per shard %v, want both shards used", rollupShards)
	}
	idShards := shardCounts(t, servers, db, clickhouse.EventIDsTable)
	if idShards[0]*idShards[1] != 0 || idShards[0]+idShards[1] != uint64(total) {
		t.Fatalf("event ids per shard %v, want all %d on the partition's one shard", idShards, total)
	}
	// A merchant's rows live on one shard only (the exactly-once requirement).
	for i, srv := range servers {
		var both uint64
		q := fmt.Sprintf("SELECT count() FROM `%s`.`payments_local` WHERE merchant_id IN "+
			"(SELECT merchant_id FROM remote('%s', `%s`.`payments_local`))", db, servers[1-i].Addr(), db)
		queryRow(t, srv, q, &both)
		if both != 0 {
			t.Fatalf("server %d holds %d rows of merchants the other shard also holds", i, both)
		}
	}

	want := map[string]uint64{
		"payments": uint64(total), rollup: rollupShards[0] + rollupShards[1], clickhouse.EventIDsTable: uint64(total),
	}
	check := func(when string, times uint64) {
		t.Helper()
		for table, n := range want {
			var got uint64
			queryRow(t, servers[0], fmt.Sprintf("SELECT count() FROM `%s`.`%s`", db, table), &got)
			if got != n*times {
				t.Errorf("%s: %s holds %d rows through Distributed, want %d", when, table, got, n*times)
			}
		}
		var events uint64
		queryRow(t, servers[0], fmt.Sprintf("SELECT sum(events) FROM `%s`.`%s_merged`", db, rollup), &events)
		if events != uint64(total)*times {
			t.Errorf("%s: merged view counts %d events, want %d", when, events, uint64(total)*times)
		}
	}
	check("first store", 1)

	// The replay of the same flush (same token, same rows): each shard receives
	// the rows and the token it received before, and drops them.
	store("payments/3/0-199")
	check("replay with the same token", 1)
	if got := shardCounts(t, servers, db, "payments"); got != rawShards {
		t.Errorf("raw payments per shard after the replay %v, before %v", got, rawShards)
	}

	// Reads through Distributed see the ids stored on the partition's shard,
	// whichever server answers, and the raw rows of every shard (group h stored no
	// event-id rows: its ids come from the raw rows alone).
	for i, c := range clients {
		for _, q := range []pipeline.IDQuery{
			{Group: "g", Topic: "payments", Partition: 3, Before: int64(total), Since: time.Unix(0, 0)},
			{Group: "h", Topic: "payments", Partition: 3, Before: int64(total), Since: time.Unix(0, 0),
				Raw: pipeline.RawIDs{Table: "payments", Column: "event_id"}},
		} {
			n := 0
			err := c.SeenIDs(t.Context(), q, func(string, int64) { n++ })
			if err != nil || n != total {
				t.Errorf("SeenIDs of group %s through server %d: %d ids, %v; want %d", q.Group, i, n, err, total)
			}
		}
	}

	// The ledger through Distributed: Intend on one server, Ranges from both,
	// at once. Intend inserts with distributed_foreground_insert, so the row is on
	// its shard when Intend returns; without it the row would wait in
	// system.distribution_queue and a replay starting meanwhile would not see it.
	r := pipeline.Range{Group: "g", Topic: "payments", TopicID: "A", Partition: 3, First: 0, Last: int64(total - 1)}
	if err := sink.Intend(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		got, err := c.Ranges(t.Context(), "payments", "A", 3, 0)
		if err != nil || len(got) != 1 || got[0] != r {
			t.Errorf("Ranges through server %d = %+v, %v; want [%+v]", i, got, err, r)
		}
	}
	// Ranges recorded at once share inserts, whose rows go to both shards: each is
	// on its shard when its Intend returns.
	var wg sync.WaitGroup
	for p := int32(10); p < 26; p++ {
		wg.Go(func() {
			r := pipeline.Range{Group: "g", Topic: "payments", TopicID: "A", Partition: p, First: 0, Last: 9}
			if err := sink.Intend(t.Context(), r); err != nil {
				t.Error(err)
				return
			}
			for i, c := range clients {
				if got, err := c.Ranges(t.Context(), "payments", "A", p, 0); err != nil || len(got) != 1 || got[0] != r {
					t.Errorf("Ranges through server %d = %+v, %v; want [%+v]", i, got, err, r)
				}
			}
		})
	}
	wg.Wait()

	// Control: another token is another flush, stored again on both shards. This
	// shows the replay above was dropped by the token, not by something else.
	store("payments/3/0-199-again")
	check("another token", 2)
}

// localStatements rewrites the cluster migrations for servers that refuse ON CLUSTER
// and cannot run replicated tables: each statement is to be run on every server.
func localStatements(t *testing.T, stmts []string) []string {
	t.Helper()
	onCluster := regexp.MustCompile("\\s*ON CLUSTER `" + clusterName + "`")
	replicated := regexp.MustCompile(`Replicated(\w*MergeTree)\('` + regexp.QuoteMeta(schemas.ReplicationPath) + `', '\{replica\}'\)`)
	window := regexp.MustCompile(`replicated_deduplication_window = (\d+), replicated_deduplication_window_seconds = \d+`)
	out := make([]string, len(stmts))
	var nCluster, nReplicated int
	for i, s := range stmts {
		if onCluster.MatchString(s) {
			nCluster++
		}
		if replicated.MatchString(s) {
			nReplicated++
		}
		s = onCluster.ReplaceAllString(s, "")
		s = replicated.ReplaceAllString(s, "$1")
		s = window.ReplaceAllString(s, "non_replicated_deduplication_window = $1")
		if strings.Contains(s, "Replicated") || strings.Contains(s, "ON CLUSTER") {
			t.Fatalf("statement %d not made local:\n%s", i, s)
		}
		out[i] = s
	}
	if nCluster != len(stmts) || nReplicated == 0 {
		t.Fatalf("%d of %d statements ON CLUSTER, %d replicated: not cluster migrations", nCluster, len(stmts), nReplicated)
	}
	return out
}

// startCluster starts n servers whose configuration declares clusterName: n shards
// of one replica each, server i being shard i+1.
func startCluster(t *testing.T, n int) []*chlocal.Server {
	t.Helper()
	// remote_servers names every server's port, so pick them all first.
	ports := freeTCPPorts(t, 2*n)
	var shards strings.Builder
	for i := range n {
		fmt.Fprintf(&shards, "      <shard><internal_replication>true</internal_replication>"+
			"<replica><host>127.0.0.1</host><port>%d</port></replica></shard>\n", ports[2*i])
	}
	conf := filepath.Join(t.TempDir(), "cluster.xml")
	xml := "<clickhouse>\n  <remote_servers>\n    <" + clusterName + ">\n" + shards.String() +
		"    </" + clusterName + ">\n  </remote_servers>\n</clickhouse>\n"
	if err := os.WriteFile(conf, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	servers := make([]*chlocal.Server, n)
	for i := range n {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		srv, err := chlocal.Start(ctx, chlocal.Options{
			DataDir:    t.TempDir(),
			TCPPort:    ports[2*i],
			HTTPPort:   ports[2*i+1],
			ConfigFile: conf,
			Log:        os.Stderr,
		})
		cancel()
		if err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := srv.Stop(ctx); err != nil {
				t.Errorf("stop server %d: %v", i, err)
			}
		})
		servers[i] = srv
	}
	return servers
}

// freeTCPPorts returns n distinct ports free on 127.0.0.1 a moment ago.
func freeTCPPorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() // held until all are picked, so they differ
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// shardCounts is the row count of db.table+LocalSuffix on each server.
func shardCounts(t *testing.T, servers []*chlocal.Server, db, table string) [2]uint64 {
	t.Helper()
	var out [2]uint64
	for i, srv := range servers[:2] {
		queryRow(t, srv, fmt.Sprintf("SELECT count() FROM `%s`.`%s%s`", db, table, schemas.LocalSuffix), &out[i])
	}
	return out
}

// execOn runs q on srv.
func execOn(t *testing.T, srv *chlocal.Server, q string) {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{srv.Addr()}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(t.Context(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// queryRow runs q on srv and scans its one row into dest.
func queryRow(t *testing.T, srv *chlocal.Server, q string, dest ...any) {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{srv.Addr()}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.QueryRow(t.Context(), q).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
