// Package testenv provides integration tests with a real ClickHouse and a
// Kafka-protocol broker, self-provisioned on the test machine (see
// internal/dev/chlocal and franz-go's kfake): no Docker, no mocks.
//
// It owns the lifetime of what it starts. ClickHouse is one server per test
// process, started lazily on first use and stopped by Main; each call to
// ClickHouse gives the test a fresh database, dropped in t.Cleanup. Set
// SLUICE_TEST_CLICKHOUSE_ADDR (host:port of the native protocol, and
// optionally SLUICE_TEST_CLICKHOUSE_HTTP_ADDR) to use your own server
// instead. PrivateClickHouse starts a server for one test alone, for tests
// that kill and restart it. Kafka is a kfake cluster per test, closed in
// t.Cleanup. When the stack cannot start, the test fails with the reason; it
// is never skipped.
//
// Every package that uses it must run its tests through Main, which lets the
// test binary serve as the ClickHouse child process:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Concurrency: all functions are safe to call from parallel tests; each
// database and each Kafka cluster belongs to the test that asked for it. The
// shared server may be killed (CH.Server().Kill) only by a test that does not
// run in parallel with other ClickHouse tests of its package; the next
// ClickHouse call (or the killing test's cleanup) restarts it if it is down.
// Prefer PrivateClickHouse for outage tests. TableDirs.LostBlocks audits a
// database's files after a server crash: the inserts whose deduplication ids a
// table logged but whose parts it does not hold. Both kinds of server restart
// themselves when the engine aborts on a client's reset connection (see
// chlocal.Options.RestartOnCrash); Server().Crashes() tells how often.
//
// The engine's async_insert default is 1 (a stock server's is 0): tests that
// insert should set it explicitly, as production code does.
//
// Usage:
//
//	func TestSink(t *testing.T) {
//		ch := testenv.ClickHouse(t)
//		kf := testenv.Kafka(t, kfake.SeedTopics(4, "payments"))
//		// ... run the pipeline against kf.Brokers() and ch.Addr()/ch.Database() ...
//		if n := ch.QueryUint64(t, "SELECT count() FROM payments_daily"); n != want { ... }
//	}
package testenv
