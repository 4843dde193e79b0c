package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
)

// crashKills is how many times TestClickHouseCrashLoop SIGKILLs ClickHouse at least,
// unless SLUICE_CRASH_KILLS says otherwise.
const crashKills = 24

// TestClickHouseCrashLoop SIGKILLs the ClickHouse server again and again while
// inserts are in flight and restarts it each time, while two `sluice run` processes
// over 48 partitions per topic, flushing every 100 ms, ingest 300,000 events (with
// invalid records and producer duplicates). A non-replicated table can keep a killed
// insert's deduplication id without its part (docs/exactly-once.md, "ClickHouse
// crashes"); the test counts those blocks from the server's own files after each
// kill (testenv.TableDirs.LostBlocks), and afterwards the raw tables, the rollups,
// the event ids and the dead letters must still be exact.
//
// The kill schedule is drawn from a seed, printed at the start; set
// SLUICE_CRASH_SEED to replay one; SLUICE_CRASH_KILLS=N kills at least N times
// instead of 24. The loop goes on while events are being published, and then, up to
// twice that many kills, until a kill hit the window.
func TestClickHouseCrashLoop(t *testing.T) {
	began := time.Now()
	seed := seedFromEnv(t, "crash loop", "SLUICE_CRASH_SEED")
	rng := rand.New(rand.NewPCG(uint64(seed), 3))
	s := newStackOn(t, testenv.PrivateClickHouse(t), 48, map[string]string{
		"SLUICE_FLUSH_INTERVAL":   "100ms",
		"SLUICE_SHUTDOWN_TIMEOUT": "20s",
		"SLUICE_LOG_LEVEL":        "warn",
	})
	srv := s.ch.Server()
	conn := s.ch.Conn(t)
	audit := newCrashAudit(t, s.ch)
	minKills := crashKills
	if v := os.Getenv("SLUICE_CRASH_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SLUICE_CRASH_KILLS=%q: must be an integer ≥ 1", v)
		}
		minKills = n
	}

	gen := generator(t, seed, 200_000, 100_000, 0.01, 0.01)
	total := gen.Config().Payments + gen.Config().Shipments
	pub := s.publishInBackground(t, gen, float64(total)/35, nil)
	procs := []*proc{s.spawn(t, "sluice0"), s.spawn(t, "sluice1")}
	// Start-up is not under test here: the loop begins once both instances are ready.
	for _, p := range procs {
		waitFor(t, time.Minute, p.name+" ready", func() bool { code, _ := get(t, "http://"+p.admin+"/readyz"); return code == http.StatusOK })
	}

	start := time.Now()
	kills := 0
	var inFlight []int // inserts running at each kill
	bound := time.Minute + time.Duration(minKills)*8*time.Second
	// Until minKills kills and the whole stream published; then on, up to twice as
	// many kills, until one hit the window, so that most runs exercise the repair.
	for kills < minKills || !pub.over() || len(audit.hits) == 0 && kills < 2*minKills {
		if time.Since(start) > bound {
			s.diagnose(t, srv.Running(), procs...)
			t.Fatalf("crash loop did not finish within %s (%d kills, seed %d); diagnostics above", bound, kills, seed)
		}
		// Kill while inserts run: wait for one, then a random moment later.
		extra := kills >= minKills && pub.over()
		wait := 30 * time.Second
		if extra {
			wait = 3 * time.Second
		}
		n, ok := awaitInserts(t, conn, wait)
		if !ok && extra {
			break // everything stored: nothing left to kill during
		}
		if !ok {
			s.diagnose(t, srv.Running(), procs...)
			t.Fatalf("no insert ran for 30 s after %d kills (seed %d); diagnostics above", kills, seed)
		}
		if !sleep(t, time.Duration(rng.IntN(50))*time.Millisecond) {
			return
		}
		if err := srv.Kill(); err != nil {
			t.Fatal(err)
		}
		kills++
		inFlight = append(inFlight, n)
		audit.afterKill(t, fmt.Sprintf("kill %d (%d inserts running)", kills, n))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		err := srv.Restart(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		// Let the retries and the backlog reach the new server.
		if !sleep(t, time.Duration(200+rng.IntN(600))*time.Millisecond) {
			return
		}
	}
	truth := pub.wait(t)
	killed := time.Since(start)
	s.waitCommitted(t, 3*time.Minute, fmt.Sprintf("seed %d", seed), srv.Running, procs...)
	drained := time.Since(start) - killed
	// What the instances say they checked and repaired (counters of the processes,
	// which ran throughout).
	var verified, repaired float64
	for _, p := range procs {
		mf := scrape(t, "http://"+p.admin)
		v, _ := value(mf, "sluice_flushes_verified_total")
		r, _ := value(mf, "sluice_rows_repaired_total")
		verified, repaired = verified+v, repaired+r
		p.term(t)
	}
	st := s.readStored(t)
	missingRaw := truth.PaymentCounts.Valid + truth.ShipmentCounts.Valid - int64(st.RawPaymentIDs+st.RawShipmentIDs)
	_, missingRolled := surplus(truth, st)
	t.Logf("CRASHLOOP seed=%d events=%d valid=%d invalid=%d producer_dups=%d clickhouse_kills=%d inserts_at_kill=%v crashes_besides=%d window_hits=%d %v %q flushes_verified=%.0f rows_repaired=%.0f raw_missing=%d rollup_missing=%d setup=%s killing=%s drain=%s",
		seed, total, truth.PaymentCounts.Valid+truth.ShipmentCounts.Valid,
		truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid,
		truth.PaymentCounts.Duplicates+truth.ShipmentCounts.Duplicates,
		kills, inFlight, srv.Crashes(), len(audit.hits), audit.byTable, audit.hits, verified, repaired, missingRaw, missingRolled,
		start.Sub(began).Round(time.Second), killed.Round(time.Second), drained.Round(time.Second))
	if d := st.Diff(truth, 20, true, true); len(d) > 0 {
		t.Errorf("ClickHouse differs from the ground truth after %d kills, %d of which hit the window (seed %d):\n%s",
			kills, len(audit.hits), seed, strings.Join(d, "\n"))
		s.logDuplicates(t)
	}
	invalid := s.invalidPositions(t, truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid)
	s.checkDeadLetters(t, invalid, false)
}

// awaitInserts polls system.processes until an INSERT is running and returns how
// many are; false when none ran within timeout. Failed polls (the server restarting)
// are retried.
func awaitInserts(t *testing.T, conn driver.Conn, timeout time.Duration) (int, bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		var n uint64
		err := conn.QueryRow(t.Context(), "SELECT count() FROM system.processes WHERE query_kind = 'Insert'").Scan(&n)
		if err == nil && n > 0 {
			return int(n), true
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			return 0, false
		}
	}
	return 0, false
}

// sleep waits d, or reports false when the test ends first.
func sleep(t *testing.T, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-t.Context().Done():
		return false
	}
}

// crashAudit counts the blocks that SIGKILLs of a ClickHouse server lost
// (testenv.TableDirs.LostBlocks), each block once.
type crashAudit struct {
	dirs    testenv.TableDirs
	seen    map[string]bool // table/block id
	byTable map[string]int  // blocks lost per table
	hits    []string        // "<kill>: <table>" per lost block
}

// newCrashAudit audits the tables ch holds now (create them first).
func newCrashAudit(t *testing.T, ch *testenv.CH) *crashAudit {
	t.Helper()
	dirs, err := ch.TableDirs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &crashAudit{dirs: dirs, seen: map[string]bool{}, byTable: map[string]int{}}
}

// afterKill records the blocks lost so far that earlier calls did not see, as lost
// by the kill named kill. Call it after a kill and before the restart: the files of
// a server that is down are what the kill left.
func (a *crashAudit) afterKill(t *testing.T, kill string) {
	t.Helper()
	lost, err := a.dirs.LostBlocks()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range lost {
		if k := b.Table + "/" + b.BlockID; !a.seen[k] {
			a.seen[k] = true
			a.byTable[b.Table]++
			a.hits = append(a.hits, kill+": "+b.Table)
		}
	}
}

// logDuplicates logs, for a run that stored some events twice, where: per raw table
// and source partition the offsets stored more than once, and the ledger ranges
// recorded over them, to tell a replay cut differently from a range stored twice;
// and what the server logged about its deduplication logs.
func (s *stack) logDuplicates(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile(s.ch.Server().LogPath()); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(strings.ToLower(line), "deduplication") {
				t.Logf("server log: %s", line)
			}
		}
	}
	conn := s.ch.Conn(t)
	for _, table := range []string{"payments", "shipments"} {
		q := "SELECT _partition, count(), min(_offset), max(_offset) FROM (SELECT _partition, _offset FROM `" + s.ch.Database + "`.`" + table +
			"` GROUP BY _partition, _offset HAVING count() > 1) GROUP BY _partition ORDER BY _partition"
		rows, err := conn.Query(t.Context(), q)
		if err != nil {
			t.Logf("duplicates in %s: %v", table, err)
			continue
		}
		for rows.Next() {
			var partition int32
			var n uint64
			var lo, hi int64
			if err := rows.Scan(&partition, &n, &lo, &hi); err != nil {
				t.Logf("duplicates in %s: %v", table, err)
				break
			}
			t.Logf("duplicates: %s/%d: %d offsets stored more than once, in [%d, %d]; ledger: %s", table, partition, n, lo, hi, s.ledgerRanges(t, conn, table, partition, lo, hi))
		}
		rows.Close()
	}
}

// ledgerRanges lists the ledger rows of topic/partition that overlap [lo, hi].
func (s *stack) ledgerRanges(t *testing.T, conn driver.Conn, topic string, partition int32, lo, hi int64) string {
	q := "SELECT `first`, `last`, count() FROM `" + s.ch.Database + "`.`" + clickhouse.LedgerTable +
		"` WHERE `topic` = ? AND `partition` = ? AND `last` >= ? AND `first` <= ? GROUP BY `first`, `last` ORDER BY `first`, `last`"
	rows, err := conn.Query(t.Context(), q, topic, partition, lo, hi)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var first, last int64
		var n uint64
		if err := rows.Scan(&first, &last, &n); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "[%d, %d]×%d ", first, last, n)
	}
	return b.String()
}
