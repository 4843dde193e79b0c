package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/internal/dev/verify"
	"github.com/sluicehq/sluice/producers/loadgen"
)

// TestChaos is the exactly-once acceptance test: three `sluice run` processes in one
// group over 12 partitions per topic ingest more than 500,000 events (with invalid
// records and producer duplicates) while instances are killed with SIGKILL and
// restarted, leave and join gracefully, and the ClickHouse server is SIGKILLed at
// least four times: once left down for over 20 seconds, otherwise restarted at once.
// Afterwards the raw tables hold every valid event exactly once, every rollup key
// equals the ground truth, and every invalid record is in the dead-letter topic.
//
// The disturbance schedule is drawn from a seed, printed at the start; set
// SLUICE_CHAOS_SEED to replay one. SLUICE_CHAOS_EXACTLY_ONCE=false runs the same
// test with the exactly-once bookkeeping switched off, to show that it catches that.
func TestChaos(t *testing.T) {
	seed := seedFromEnv(t, "chaos", "SLUICE_CHAOS_SEED")
	rng := rand.New(rand.NewPCG(uint64(seed), 1))

	env := map[string]string{
		"SLUICE_FLUSH_INTERVAL":        "300ms",
		"SLUICE_SHUTDOWN_TIMEOUT":      "20s",
		"SLUICE_KAFKA_SESSION_TIMEOUT": "6s",
		"SLUICE_LOG_LEVEL":             "warn",
	}
	if v := os.Getenv("SLUICE_CHAOS_EXACTLY_ONCE"); v != "" {
		env["SLUICE_EXACTLY_ONCE"] = v
	}
	s := newStackOn(t, testenv.PrivateClickHouse(t), 12, env)
	srv := s.ch.Server()
	audit := newCrashAudit(t, s.ch)

	gen := generator(t, seed, 360_000, 160_000, 0.01, 0.01)
	total := gen.Config().Payments + gen.Config().Shipments

	// Publish during the chaos, at a pace that spreads it over about 40 seconds.
	pub := s.publishInBackground(t, gen, float64(total)/40, nil)

	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = s.spawn(t, fmt.Sprintf("sluice%d", i))
	}
	var kills, leaves, chKills int
	var outage time.Duration
	start := time.Now()
	outageAt := 5*time.Second + time.Duration(rng.IntN(10_000))*time.Millisecond
	var outageStart time.Time
	chaosOver := func() bool {
		if !pub.over() {
			return false
		}
		return kills >= 10 && chKills >= 4 && outage >= 20*time.Second
	}
	for step := 0; !chaosOver(); step++ {
		pause := time.NewTimer(time.Duration(800+rng.IntN(1700)) * time.Millisecond)
		select {
		case <-pause.C:
		case <-t.Context().Done():
			t.Fatal("test context ended")
		}
		if time.Since(start) > 4*time.Minute {
			t.Fatalf("chaos did not finish within 4 minutes (kills %d, outage %s)", kills, outage)
		}
		// ClickHouse: SIGKILLed and down once, for 20 to 25 seconds; otherwise
		// sometimes SIGKILLed and restarted at once (a crash mid-insert).
		switch {
		case outageStart.IsZero() && outage == 0 && time.Since(start) > outageAt:
			if err := srv.Kill(); err != nil {
				t.Fatal(err)
			}
			chKills++
			audit.afterKill(t, fmt.Sprintf("%.1fs", time.Since(start).Seconds()))
			outageStart = time.Now()
			t.Logf("%6.1fs ClickHouse killed (SIGKILL) and down", time.Since(start).Seconds())
		case outageStart.IsZero() && rng.IntN(5) == 0:
			if err := srv.Kill(); err != nil {
				t.Fatal(err)
			}
			chKills++
			audit.afterKill(t, fmt.Sprintf("%.1fs", time.Since(start).Seconds()))
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			if err := srv.Restart(ctx); err != nil {
				cancel()
				t.Fatal(err)
			}
			cancel()
			t.Logf("%6.1fs ClickHouse killed (SIGKILL) and restarted", time.Since(start).Seconds())
		case !outageStart.IsZero() && time.Since(outageStart) > 20*time.Second+time.Duration(rng.IntN(5000))*time.Millisecond:
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			if err := srv.Restart(ctx); err != nil {
				cancel()
				t.Fatal(err)
			}
			cancel()
			outage = time.Since(outageStart)
			outageStart = time.Time{}
			t.Logf("%6.1fs ClickHouse up after %s", time.Since(start).Seconds(), outage.Round(time.Millisecond))
		}
		// Instances: mostly kill -9 and restart, sometimes a graceful leave and join.
		i := rng.IntN(len(procs))
		if rng.IntN(4) == 0 && outageStart.IsZero() {
			procs[i].term(t)
			leaves++
			t.Logf("%6.1fs sluice%d left gracefully; rejoining", time.Since(start).Seconds(), i)
		} else {
			procs[i].kill()
			kills++
			t.Logf("%6.1fs sluice%d killed (SIGKILL); restarting", time.Since(start).Seconds(), i)
		}
		procs[i] = s.spawn(t, fmt.Sprintf("sluice%d", i))
	}
	truth := pub.wait(t)
	st := s.finish(t, 5*time.Minute, fmt.Sprintf("seed %d", seed), srv.Running, procs...)
	dups, missing := surplus(truth, st)
	t.Logf("CHAOS seed=%d events=%d valid=%d invalid=%d producer_dups=%d kills=%d clickhouse_kills=%d window_hits=%q graceful_leaves=%d rebalances>=%d outage=%s duplicates_found=%d missing_found=%d raw_rows=%d raw_distinct=%d elapsed=%s",
		seed, total, truth.PaymentCounts.Valid+truth.ShipmentCounts.Valid,
		truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid,
		truth.PaymentCounts.Duplicates+truth.ShipmentCounts.Duplicates,
		kills, chKills, audit.hits, leaves, 2*(kills+leaves), outage.Round(time.Second), dups, missing,
		st.RawPayments+st.RawShipments, st.RawPaymentIDs+st.RawShipmentIDs, time.Since(start).Round(time.Second))
	if d := st.Diff(truth, 20, true, true); len(d) > 0 {
		t.Errorf("ClickHouse differs from the ground truth (seed %d):\n%v", seed, d)
		s.logDuplicates(t)
	}
	invalid := s.invalidPositions(t, truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid)
	s.checkDeadLetters(t, invalid, false)
}

// seedFromEnv returns the seed of a randomised test: the integer in the environment
// variable name when set (to replay a run), else a fresh one; it logs which, so a
// failure can be replayed.
func seedFromEnv(t *testing.T, what, name string) int64 {
	t.Helper()
	seed := time.Now().UnixNano() % 1_000_000
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v; set it to an integer or unset it", name, v, err)
		}
		seed = n
	}
	t.Logf("%s seed %d (replay with %s=%d)", what, seed, name, seed)
	return seed
}

// surplus counts rolled-up events stored more often (dups) or less often (missing)
// than the truth says, over every key.
func surplus(want *loadgen.Truth, got *verify.Stored) (dups, missing int64) {
	add := func(w, g int64) {
		if g > w {
			dups += g - w
		} else {
			missing += w - g
		}
	}
	for k, w := range want.Payments {
		add(w.Events, got.Truth.Payments[k].Events)
	}
	for k, g := range got.Truth.Payments {
		if _, ok := want.Payments[k]; !ok {
			dups += g.Events
		}
	}
	for k, w := range want.Shipments {
		add(w.Events, got.Truth.Shipments[k].Events)
	}
	for k, g := range got.Truth.Shipments {
		if _, ok := want.Shipments[k]; !ok {
			dups += g.Events
		}
	}
	return dups, missing
}
