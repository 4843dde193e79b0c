package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/bench/ceiling"
	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// open returns a Client on a fresh database of the shared test server, with the
// internal tables migrated.
func open(t testing.TB) *Client {
	t.Helper()
	env := testenv.ClickHouse(t)
	c, err := Open(t.Context(), Options{Addrs: []string{env.Addr}, Database: env.Database, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Migrate(t.Context(), internalDDL(c)); err != nil {
		t.Fatal(err)
	}
	return c
}

// openOn returns a new Client on env's server and database, closed when the test
// ends.
func openOn(t testing.TB, env *testenv.CH) *Client {
	t.Helper()
	c, err := Open(t.Context(), Options{Addrs: []string{env.Addr}, Database: env.Database})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// internalDDL is DDL for c's database on one server, with a one-hour horizon.
func internalDDL(c *Client) []string {
	return DDL(DDLOptions{Database: c.db, Horizon: time.Hour})
}

// exec runs statements on c's server.
func exec(t testing.TB, c *Client, stmts ...string) {
	t.Helper()
	if err := c.Migrate(t.Context(), stmts); err != nil {
		t.Fatal(err)
	}
}

// count returns SELECT count() FROM db.table.
func count(t testing.TB, c *Client, table string) uint64 {
	t.Helper()
	var n uint64
	if err := c.conn.QueryRow(t.Context(), "SELECT count() FROM "+qualified(c.db, table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// aggDDL creates an AggregatingMergeTree table of per-key sums.
func aggDDL(db, table string) string {
	return "CREATE TABLE " + qualified(db, table) + " (`k` String, `n` SimpleAggregateFunction(sum, UInt64))" +
		" ENGINE = AggregatingMergeTree ORDER BY `k` SETTINGS non_replicated_deduplication_window = 100"
}

func aggBlock(table string, keys []string, n []uint64) schemas.Block {
	return schemas.Block{Table: table, Names: []string{"k", "n"}, Columns: []any{keys, n}, Rows: len(keys)}
}

// aggSum returns the total of n over the table, merged or not.
func aggSum(t testing.TB, c *Client, table string) uint64 {
	t.Helper()
	var s uint64
	if err := c.conn.QueryRow(t.Context(), "SELECT sum(`n`) FROM "+qualified(c.db, table)).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreThenCount(t *testing.T) {
	c := open(t)
	exec(t, c, ceiling.DDL(c.db, "pay", 100))
	blk := ceiling.Block("pay", 1000, 0)
	empty := schemas.Block{Table: "pay"}
	if err := c.Store(t.Context(), "g:payments:0:0-999", []schemas.Block{blk, empty}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "pay"); n != 1000 {
		t.Fatalf("count = %d, want 1000", n)
	}
	// The values arrive intact: spot-check a Map, a DateTime64 and a LowCardinality.
	var (
		campaign string
		occurred time.Time
		currency string
	)
	row := c.conn.QueryRow(t.Context(), "SELECT `metadata`['campaign'], `occurred_at`, `currency` FROM "+
		qualified(c.db, "pay")+" WHERE `_offset` = ?", int64(7))
	if err := row.Scan(&campaign, &occurred, &currency); err != nil {
		t.Fatal(err)
	}
	want := blk.Columns[2].([]time.Time)[7]
	if campaign != "c7" || !occurred.Equal(want) || currency != "JPY" {
		t.Fatalf("row 7 = %q %v %q, want c7 %v JPY", campaign, occurred, currency, want)
	}
}

func TestStoreSameTokenStoresOnce(t *testing.T) {
	c := open(t)
	exec(t, c, ceiling.DDL(c.db, "raw", 100), aggDDL(c.db, "agg"))
	blocks := []schemas.Block{
		ceiling.Block("raw", 500, 0),
		aggBlock("agg", []string{"a", "b", "a"}, []uint64{1, 2, 3}),
	}
	for range 3 {
		if err := c.Store(t.Context(), "g:p:0:0-499", blocks); err != nil {
			t.Fatal(err)
		}
	}
	if n, s := count(t, c, "raw"), aggSum(t, c, "agg"); n != 500 || s != 6 {
		t.Fatalf("after the same token thrice: raw %d rows, agg sum %d; want 500, 6", n, s)
	}
	// A different token stores the same data again.
	if err := c.Store(t.Context(), "g:p:0:500-999", blocks); err != nil {
		t.Fatal(err)
	}
	if n, s := count(t, c, "raw"), aggSum(t, c, "agg"); n != 1000 || s != 12 {
		t.Fatalf("after a second token: raw %d rows, agg sum %d; want 1000, 12", n, s)
	}
}

// A flush that failed after its first block was stored is retried whole: the first
// block is dropped as a duplicate and the rest is stored.
func TestStoreRetryAfterPartialFailure(t *testing.T) {
	c := open(t)
	exec(t, c, ceiling.DDL(c.db, "raw", 100))
	raw := ceiling.Block("raw", 100, 0)
	agg := aggBlock("agg", []string{"a"}, []uint64{5})
	err := c.Store(t.Context(), "tok", []schemas.Block{raw, agg})
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "insert 1 rows into agg") {
		t.Fatalf("Store into a missing table = %v, want a permanent error naming it", err)
	}
	exec(t, c, aggDDL(c.db, "agg"))
	if err := c.Store(t.Context(), "tok", []schemas.Block{raw, agg}); err != nil {
		t.Fatal(err)
	}
	if n, s := count(t, c, "raw"), aggSum(t, c, "agg"); n != 100 || s != 5 {
		t.Fatalf("raw %d rows, agg sum %d; want 100, 5", n, s)
	}
}

func TestStorePermanentErrors(t *testing.T) {
	c := open(t)
	exec(t, c, aggDDL(c.db, "agg"))
	for name, b := range map[string]schemas.Block{
		"unknown column": {Table: "agg", Names: []string{"k", "nope"}, Columns: []any{[]string{"a"}, []uint64{1}}, Rows: 1},
		"wrong type":     {Table: "agg", Names: []string{"k", "n"}, Columns: []any{[]string{"a"}, []string{"x"}}, Rows: 1},
		"invalid block":  {Table: "agg", Names: []string{"k"}, Columns: []any{[]string{"a", "b"}}, Rows: 1},
	} {
		err := c.Store(t.Context(), "tok-"+name, []schemas.Block{b})
		if err == nil || !IsPermanent(err) {
			t.Errorf("%s: Store = %v, want a permanent error", name, err)
		}
	}
	// The pool is still usable after failed inserts.
	if err := c.Store(t.Context(), "ok", []schemas.Block{aggBlock("agg", []string{"a"}, []uint64{1})}); err != nil {
		t.Fatal(err)
	}
}

func TestStoreConcurrent(t *testing.T) {
	c := open(t)
	exec(t, c, ceiling.DDL(c.db, "raw", 1000))
	const (
		workers = 8
		each    = 5
		rows    = 500
	)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for g := range workers {
		wg.Go(func() {
			for j := range each {
				// Own tokens, and tokens every worker races to store.
				own := ceiling.Block("raw", rows, int64(g*each+j))
				shared := ceiling.Block("raw", rows, int64(1000+j))
				errs <- c.Store(t.Context(), fmt.Sprintf("own:%d:%d", g, j), []schemas.Block{own})
				errs <- c.Store(t.Context(), fmt.Sprintf("shared:%d", j), []schemas.Block{shared})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := uint64((workers*each + each) * rows)
	if n := count(t, c, "raw"); n != want {
		t.Fatalf("count = %d, want %d", n, want)
	}
	var distinct uint64
	if err := c.conn.QueryRow(t.Context(), "SELECT uniqExact(`event_id`) FROM "+qualified(c.db, "raw")).Scan(&distinct); err != nil {
		t.Fatal(err)
	}
	if distinct != want {
		t.Fatalf("distinct event ids = %d, want %d", distinct, want)
	}
}

func TestStoreCancelledContext(t *testing.T) {
	c := open(t)
	exec(t, c, aggDDL(c.db, "agg"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := c.Store(ctx, "tok", []schemas.Block{aggBlock("agg", []string{"a"}, []uint64{1})})
	if err == nil {
		t.Fatal("Store with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error does not wrap context.Canceled: %v", err)
	}
	if IsPermanent(err) {
		t.Fatalf("a cancelled Store is permanent: %v", err)
	}
	if n := count(t, c, "agg"); n != 0 {
		t.Fatalf("count = %d after a cancelled Store", n)
	}
}

// A failed authentication makes chDB's server abort (at once for the default user, at
// shutdown otherwise), so this test runs on a private server and kills it when done.
func TestOpenWrongPasswordHidesIt(t *testing.T) {
	env := testenv.PrivateClickHouse(t)
	t.Cleanup(func() {
		if err := env.Server().Kill(); err != nil {
			t.Error(err)
		}
	})
	const secret = "Sup3r-s3cret-pa55word"
	c, err := Open(t.Context(), Options{Addrs: []string{env.Addr}, Database: env.Database, Password: secret})
	if err == nil {
		_ = c.Close()
		t.Fatal("Open with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
		t.Fatalf("error shows the password: %v", err)
	}
	if !IsPermanent(err) {
		t.Errorf("authentication failure is not permanent: %v", err)
	}
	t.Logf("error: %.100s…", err)
}

func TestOpenUnreachable(t *testing.T) {
	_, err := Open(t.Context(), Options{Addrs: []string{"127.0.0.1:1"}, Database: "x", DialTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Open of a closed port = %v", err)
	}
}

func TestLedger(t *testing.T) {
	c := open(t)
	var l pipeline.Ledger = c
	r := func(p int32, first, last int64) pipeline.Range {
		return pipeline.Range{Group: "g", Topic: "payments", Partition: p, First: first, Last: last}
	}
	// Recorded out of order and some twice (a retried Intend).
	for _, x := range []pipeline.Range{r(0, 200, 299), r(0, 0, 99), r(0, 100, 199), r(0, 100, 199), r(1, 0, 50), r(0, 300, 399), r(0, 300, 399), r(2, 7, 8)} {
		if err := l.Intend(t.Context(), x); err != nil {
			t.Fatal(err)
		}
	}
	other := pipeline.Range{Group: "h", Topic: "payments", Partition: 1, First: 0, Last: 1000}
	if err := l.Intend(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	// Another incarnation of the topic is never returned.
	if err := l.Intend(t.Context(), pipeline.Range{Group: "g", Topic: "payments", TopicID: "B", First: 0, Last: 1000}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    int32
		from int64
		want []pipeline.Range
	}{
		{0, 0, []pipeline.Range{r(0, 0, 99), r(0, 100, 199), r(0, 200, 299), r(0, 300, 399)}},
		{0, 150, []pipeline.Range{r(0, 100, 199), r(0, 200, 299), r(0, 300, 399)}},
		{0, 199, []pipeline.Range{r(0, 100, 199), r(0, 200, 299), r(0, 300, 399)}},
		{0, 400, nil},
		{1, 0, []pipeline.Range{r(1, 0, 50), other}},
		{2, 8, []pipeline.Range{r(2, 7, 8)}},
		{3, 0, nil},
	} {
		got, err := l.Ranges(t.Context(), "payments", "", tc.p, tc.from)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Ranges(p%d, from %d) = %v, want %v", tc.p, tc.from, got, tc.want)
		}
	}
	if err := l.Intend(t.Context(), r(0, 5, 4)); err == nil {
		t.Error("Intend accepted first > last")
	}
}

func TestSeenIDs(t *testing.T) {
	c := open(t)
	// Recent: rows older than the table's TTL (horizon + 1 day) are dropped on insert.
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	var (
		offsets []int64
		ids     []string
		ts      []time.Time
	)
	for i := range 10 {
		offsets = append(offsets, int64(100+i))
		ids = append(ids, fmt.Sprintf("e%d", i))
		ts = append(ts, base.Add(time.Duration(i)*time.Second+time.Duration(i)*time.Millisecond))
	}
	blocks := []schemas.Block{
		EventIDsBlock("g", "payments", "", 0, offsets, ids, ts),
		EventIDsBlock("g", "payments", "", 1, []int64{100}, []string{"other-partition"}, ts[:1]),
		EventIDsBlock("h", "payments", "", 0, []int64{100}, []string{"other-group"}, ts[:1]),
		EventIDsBlock("g", "payments", "B", 0, []int64{100}, []string{"other-incarnation"}, ts[:1]),
	}
	for i, b := range blocks {
		if err := c.Store(t.Context(), fmt.Sprint("ids:", i), []schemas.Block{b}); err != nil {
			t.Fatal(err)
		}
	}
	var s pipeline.SeenIDs = c
	collect := func(before int64, since time.Time) map[string]int64 {
		got := map[string]int64{}
		err := s.SeenIDs(t.Context(), pipeline.IDQuery{Group: "g", Topic: "payments", Before: before, Since: since}, func(id string, at int64) { got[id] = at })
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// With a limit: the ids with the highest offsets, in offset order.
	var order []string
	if err := s.SeenIDs(t.Context(), pipeline.IDQuery{Group: "g", Topic: "payments", Before: 108, Limit: 3}, func(id string, _ int64) { order = append(order, id) }); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(order); got != "[e5 e6 e7]" {
		t.Fatalf("before 108, limit 3: %s, want [e5 e6 e7]", got)
	}
	order = order[:0]
	if err := s.SeenIDs(t.Context(), pipeline.IDQuery{Group: "g", Topic: "payments", Before: 1000}, func(id string, _ int64) { order = append(order, id) }); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(order); got != "[e0 e1 e2 e3 e4 e5 e6 e7 e8 e9]" {
		t.Fatalf("no limit: %s, want offset order", got)
	}
	all := collect(1000, time.Time{})
	if len(all) != 10 {
		t.Fatalf("all: %d ids, want 10: %v", len(all), all)
	}
	if all["e3"] != ts[3].UnixNano() {
		t.Fatalf("e3 at %d, want %d", all["e3"], ts[3].UnixNano())
	}
	// offset < before: 100..104.
	if got := collect(105, time.Time{}); len(got) != 5 || got["e4"] == 0 || got["e5"] != 0 {
		t.Fatalf("before 105: %v", got)
	}
	// ts >= since, to the millisecond: e3 (base+3.003s) and later.
	if got := collect(1000, ts[3]); len(got) != 7 || got["e3"] == 0 || got["e2"] != 0 {
		t.Fatalf("since e3: %v", got)
	}
	if got := collect(1000, ts[3].Add(time.Millisecond)); len(got) != 6 || got["e3"] != 0 {
		t.Fatalf("since e3+1ms: %v", got)
	}
	if got := collect(107, ts[5]); len(got) != 2 || got["e5"] == 0 || got["e6"] == 0 {
		t.Fatalf("before 107 since e5: %v", got)
	}
}

func TestMigrate(t *testing.T) {
	c := open(t)
	stmts := append(internalDDL(c), schemas.DDL(schemas.DDLOptions{
		Database: c.db, RawPayments: true, RawShipments: true,
	})...)
	// Twice in a row, then from three goroutines at once.
	for range 2 {
		if err := c.Migrate(t.Context(), stmts); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = c.Migrate(t.Context(), stmts) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var tables uint64
	if err := c.conn.QueryRow(t.Context(), "SELECT count() FROM system.tables WHERE database = ?", c.db).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables < 3 {
		t.Fatalf("%d tables in %s after Migrate", tables, c.db)
	}
	err := c.Migrate(t.Context(), []string{stmts[1], "CREATE TABLE broken ("})
	if err == nil || !strings.Contains(err.Error(), "statement 2 of 2 (CREATE TABLE broken ()") || !IsPermanent(err) {
		t.Fatalf("Migrate of a broken statement = %v", err)
	}
}

// A fresh database migrated concurrently by three clients, as three instances of
// Sluice starting together do.
func TestMigrateConcurrentFreshDatabase(t *testing.T) {
	env := testenv.ClickHouse(t)
	db := env.Database + "_fresh"
	admin := env.Conn(t)
	t.Cleanup(func() {
		// t.Context() is done by now.
		if err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+quote(db)); err != nil {
			t.Error(err)
		}
	})
	stmts := append(DDL(DDLOptions{Database: db}), schemas.DDL(schemas.DDLOptions{Database: db, RawPayments: true, RawShipments: true})...)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			c, err := Open(t.Context(), Options{Addrs: []string{env.Addr}, Database: db})
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			errs[i] = c.Migrate(t.Context(), stmts)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	c, err := Open(t.Context(), Options{Addrs: []string{env.Addr}, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Migrate(t.Context(), stmts); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkStoreCeiling is Store's insert ceiling: one pre-built 100k-row block of a
// payments-like table per Store, nothing else in the way.
func BenchmarkStoreCeiling(b *testing.B) {
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("lz4=%v", compress), func(b *testing.B) {
			env := testenv.ClickHouse(b)
			c, err := Open(b.Context(), Options{Addrs: []string{env.Addr}, Database: env.Database, Compress: compress})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			benchStore(b, c, 100_000)
		})
	}
}

// benchStore times Store of one rows-row block of a payments-like table per
// iteration, each under its own token.
func benchStore(b *testing.B, c *Client, rows int) {
	exec(b, c, ceiling.DDL(c.db, "pay", 0))
	blocks := []schemas.Block{ceiling.Block("pay", rows, 0)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := c.Store(b.Context(), "bench:"+strconv.Itoa(i), blocks); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(rows*i)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkIntend is the latency of one synchronous ledger insert, paid once per flush.
func BenchmarkIntend(b *testing.B) {
	c := open(b)
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		r := pipeline.Range{Group: "g", Topic: "payments", Partition: 1, First: i * 100, Last: i*100 + 99}
		if err := c.Intend(b.Context(), r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStoreSmall is the latency of a flush of 1000 rows, for the fixed cost of
// an INSERT (two round trips, a part written and fsynced by the server).
func BenchmarkStoreSmall(b *testing.B) { benchStore(b, open(b), 1000) }
