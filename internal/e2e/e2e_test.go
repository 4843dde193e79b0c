package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/internal/dev/testsupport"
	"github.com/sluicehq/sluice/producers/loadgen"
)

func generator(t *testing.T, seed int64, payments, shipments int, invalid, dups float64) *loadgen.Generator {
	t.Helper()
	gen, err := loadgen.NewGenerator(loadgen.Config{
		Seed: seed, Payments: payments, Shipments: shipments,
		InvalidRate: invalid, DuplicateRate: dups, LateRate: 0.03,
	})
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// TestEndToEnd publishes a known mix of valid, invalid and duplicated events on both
// topics, runs one Sluice, and checks raw rows, every rollup key and the dead letters
// exactly.
func TestEndToEnd(t *testing.T) {
	s := newStack(t, 4, nil)
	truth := s.publish(t, generator(t, 7, 6000, 3000, 0.03, 0.02), 0)
	in := s.start(t, "a")
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	in.stop(t)

	s.checkStored(t, truth)
	// Every generated payment carries metadata {order_id, channel}: the Map column
	// must hold both for every raw row.
	var withMeta uint64
	withCH(t, "count metadata", func() error {
		return s.ch.Conn(t).QueryRow(t.Context(), "SELECT countIf(metadata['order_id'] != '' AND metadata['channel'] != '' AND length(mapKeys(metadata)) = 2) FROM `"+s.ch.Database+"`.`payments`").Scan(&withMeta)
	})
	if withMeta != uint64(truth.PaymentCounts.Valid) {
		t.Errorf("%d raw payments carry their metadata, want %d", withMeta, truth.PaymentCounts.Valid)
	}
	invalid := s.invalidPositions(t, truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid)
	s.checkDeadLetters(t, invalid, true)
	st := in.in.Stats()
	if got, want := st.Duplicates.Load(), truth.PaymentCounts.Duplicates+truth.ShipmentCounts.Duplicates; got != want {
		t.Errorf("dropped %d producer duplicates, want %d", got, want)
	}
	t.Logf("records %d, valid %d, invalid %d, duplicates %d, flushes %d, rows %d",
		st.Records.Load(), st.Valid.Load(), st.Invalid.Load(), st.Duplicates.Load(), st.Flushes.Load(), st.Rows.Load())
}

// TestRawOff checks that a topic's raw table can be switched off while its rollups
// stay exact.
func TestRawOff(t *testing.T) {
	s := newStack(t, 2, map[string]string{"SLUICE_RAW_SHIPMENTS": "false"})
	truth := s.publish(t, generator(t, 11, 1500, 1500, 0.02, 0.01), 0)
	in := s.start(t, "a")
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	in.stop(t)
	s.checkStored(t, truth)
	var n uint64
	if err := s.ch.Conn(t).QueryRow(t.Context(), "SELECT count() FROM `"+s.ch.Database+"`.`shipments`").Scan(&n); err == nil && n != 0 {
		t.Errorf("raw shipments off, but the table holds %d rows", n)
	}
}

// TestClickHouseOutage SIGKILLs ClickHouse mid-stream and restarts it: nothing is lost or
// doubled, and while it is down fetching pauses, so what the process holds stays
// bounded instead of growing with the backlog.
func TestClickHouseOutage(t *testing.T) {
	s := newStackOn(t, testenv.PrivateClickHouse(t), 4, map[string]string{
		"SLUICE_KAFKA_FETCH_MAX_PARTITION_BYTES": "64KiB", "SLUICE_KAFKA_QUEUE_DEPTH": "4", "SLUICE_BATCH_MAX_ROWS": "500"})
	srv := s.ch.Server()
	gen := generator(t, 21, 40000, 20000, 0.01, 0.01)
	first := s.publishSome(t, gen, 15000)
	var logs testsupport.SyncBuffer
	in := s.startLogged(t, "a", &logs)
	st := in.in.Stats()
	waitFor(t, time.Minute, "first batches stored", func() bool { return st.Flushes.Load() > 0 })

	// SIGKILLed mid-stream, as a crash would: inserts may be in flight.
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse killed after %d flushes (%d of %d records published)", st.Flushes.Load(), first, gen.Config().Payments+gen.Config().Shipments)
	// Publish the rest while ClickHouse is down: a backlog several times larger than
	// what the pipeline may hold.
	truth := s.publish(t, gen, 0)
	total := truth.PaymentCounts.Records + truth.ShipmentCounts.Records
	committable := st.Committable.Load()
	waitFor(t, time.Minute, "store retries while ClickHouse is down", func() bool { return st.StoreRetries.Load() >= 3 })
	// The backlog is far larger than the queues: every partition must end up
	// paused, so what the process holds stops growing.
	waitFor(t, time.Minute, "every partition paused", func() bool {
		qs := in.in.Queues()
		for _, q := range qs {
			if !q.Paused {
				return false
			}
		}
		return len(qs) == 8
	})
	held := in.in.Fetched() - st.Committable.Load()
	// 8 partitions, each holding at most two batches (one being stored, one full and
	// waiting) of 500 events and its queue (4 fetches before pausing, plus what one
	// poll brings, plus one in the feeder): 64 KiB fetches of records of at least
	// ~100 bytes. The per-partition backlog (~5,600) is larger, so all must pause.
	const bound = 8 * (2*500 + 10*(64<<10)/100)
	t.Logf("during the outage: read %d of %d records, %d held unstored (bound %d), %d retries",
		in.in.Fetched(), total, held, bound, st.StoreRetries.Load())
	if held > bound {
		t.Errorf("holding %d unstored records during the outage, more than the bound %d", held, bound)
	}
	if in.in.Fetched() >= total {
		t.Errorf("read the whole backlog (%d records) while ClickHouse was down: fetching did not pause", total)
	}
	if st.Committable.Load() != committable {
		t.Errorf("offsets advanced while ClickHouse was down")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Minute, "all offsets committed after the outage", func() bool { return s.committedAll(t) })
	in.stop(t)
	s.checkStored(t, truth)
	checkOutageLogged(t, logs.String(), 8)
}

// TestRestartGraceful stops the only instance mid-stream (SIGTERM-like: drain, flush,
// commit, leave) and starts another: nothing is lost or doubled.
func TestRestartGraceful(t *testing.T) {
	s := newStack(t, 4, nil)
	gen := generator(t, 31, 20000, 10000, 0.01, 0.01)
	s.publishSome(t, gen, 12000)
	a := s.start(t, "a")
	waitFor(t, time.Minute, "some batches stored", func() bool { return a.in.Stats().Flushes.Load() >= 3 })
	a.stop(t)
	truth := s.publish(t, gen, 0)
	b := s.start(t, "b")
	waitFor(t, 2*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	b.stop(t)
	s.checkStored(t, truth)
	invalid := s.invalidPositions(t, truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid)
	s.checkDeadLetters(t, invalid, false)
	t.Logf("replayed flushes: a=%d b=%d", a.in.Stats().Replays.Load(), b.in.Stats().Replays.Load())
}

// TestRestartKill kills `sluice run` with SIGKILL mid-stream, twice, and starts it
// again each time: nothing is lost, and the replayed batches are dropped by ClickHouse
// so nothing is doubled either.
func TestRestartKill(t *testing.T) {
	// A private server: the local engine may abort when a client is killed
	// mid-insert (it restarts at once); other tests should not see that.
	s := newStackOn(t, testenv.PrivateClickHouse(t), 4, map[string]string{"SLUICE_FLUSH_INTERVAL": "100ms"})
	gen := generator(t, 41, 30000, 15000, 0.01, 0.01)
	truth := s.publish(t, gen, 0)
	for i := range 2 {
		p := s.spawn(t, "run"+string(rune('1'+i)))
		before := s.storedPayments(t)
		waitFor(t, time.Minute, "rows stored by the new process", func() bool { return s.storedPayments(t) > before+2000 })
		p.kill()
		t.Logf("killed run%d after %d payments were stored", i+1, s.storedPayments(t))
	}
	p := s.spawn(t, "run3")
	waitFor(t, 3*time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })
	p.term(t)
	s.checkStored(t, truth)
	invalid := s.invalidPositions(t, truth.PaymentCounts.Invalid+truth.ShipmentCounts.Invalid)
	s.checkDeadLetters(t, invalid, false)
}
