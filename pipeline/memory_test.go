package pipeline_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/membudget"
	"github.com/sluicehq/sluice/pipeline"
)

// rawRows returns the raw payments rows of every store, in order.
func rawRows(e *testEnv) []int {
	stored, _ := e.sink.snapshot()
	var rows []int
	for _, sc := range stored {
		for _, b := range sc.blocks {
			if b.Table == payments {
				rows = append(rows, b.Rows)
			}
		}
	}
	return rows
}

// sendPaymentSlices sends n slices of 1,000 payments of partition 0 to r, from
// offset *off on.
func sendPaymentSlices(t *testing.T, r *running, off *int64, n int) {
	t.Helper()
	for range n {
		recs := make([]*kgo.Record, 1000)
		for i := range recs {
			recs[i] = rec(payments, 0, *off, t0, payJSON(fmt.Sprint("e", *off), t0, "m1", 100))
			*off++
		}
		r.send(t, recs...)
	}
}

// budgetedWorker starts the worker of partition 0 of a pipeline of options o
// (with no row or byte limit of its own) under a budget of 16 MiB of which owned
// partitions are owned.
func budgetedWorker(t *testing.T, e *testEnv, owned int, o pipeline.Options) (*membudget.Budget, *running) {
	budget := membudget.New(16 << 20)
	budget.Owned(owned)
	e.memory = budget
	o.MaxRows, o.MaxBytes = 1_000_000, 1<<30
	return budget, startWorker(t, t.Context(), e.pipeline(o).Worker(payments, 0))
}

// A batch is written once it reaches its share of the memory budget, long before
// SLUICE_BATCH_MAX_ROWS or _BYTES, and the share shrinks at the next slice when more
// partitions are owned and busy. What the worker held goes back to the budget when
// it returns.
func TestBatchFlushesAtMemoryShare(t *testing.T) {
	e := newEnv(t)
	// 16 MiB for one partition: a batch share of (16 - 2) MiB × 32% / 155% / 2 ≈
	// 1.4 MiB, about 15,000 of these ~95-byte rows; for four partitions (16 - 8) MiB
	// × 32% / 155% / 8 ≈ 216 KB, about 2,300.
	budget, r := budgetedWorker(t, e, 1, pipeline.Options{})
	off := int64(0)
	sendSlices := func(n int) { sendPaymentSlices(t, r, &off, n) }
	sendSlices(20)
	if budget.Usage().Batched == 0 {
		t.Error("the budget holds no batch bytes while a batch fills")
	}
	budget.Owned(3)
	others := 3 * 2 * budget.Split().Batch // three more partitions, their batches at their shares
	budget.Hold(others, 0)
	sendSlices(10)
	if err, _ := r.finish(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	rows := rawRows(e)
	total := 0
	for _, n := range rows {
		total += n
	}
	if total != int(off) || len(rows) < 4 {
		t.Fatalf("stores of %v rows (%d in all); want %d rows in at least 4 stores", rows, total, off)
	}
	one, four := rows[0], rows[len(rows)-2] // the last store is the drain's remainder
	if one < 8_000 || one > 30_000 || four*3 > one {
		t.Fatalf("batches of %v rows: want the first (one partition owned) ~15,000 and later ones (four owned) ~2,300", rows)
	}
	if u := budget.Usage(); u.Batched != others*membudget.BatchOverheadPercent/100 || u.Dedup != 0 {
		t.Fatalf("after Run the budget still holds %d batch bytes beyond the others' and %d dedup bytes", u.Batched-others*membudget.BatchOverheadPercent/100, u.Dedup)
	}
}

// A busy partition's batches grow into the memory that idle partitions leave of
// the batch pool, beyond its equal share.
func TestBatchGrowsIntoIdlePartitionsShares(t *testing.T) {
	e := newEnv(t)
	// 16 MiB for four partitions, three of them idle: a share of about 2,300 of
	// these rows (above), in a pool of eight shares.
	_, r := budgetedWorker(t, e, 4, pipeline.Options{})
	off := int64(0)
	sendPaymentSlices(t, r, &off, 40)
	if err, _ := r.finish(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	rows := rawRows(e)
	t.Logf("stores of %v rows", rows)
	biggest := 0
	for _, n := range rows[:len(rows)-1] { // the last store is the drain's remainder
		biggest = max(biggest, n)
	}
	if share := 2_300; biggest < 2*share || rows[0] > 2*share {
		t.Fatalf("batches of %v rows: want the first at about the share (~%d rows) and later ones beyond twice it", rows, share)
	}
}

// The duplicate filter remembers at most the partition's share of the budget: an id
// older than the last share-many is forgotten (and stored again when repeated),
// while a recent one is still dropped.
// The filter's cap is Options.DedupMaxIDs, never the budget's share of the moment,
// which changes with the partitions owned: a replay must decide as the first
// attempt did.
func TestDedupCapIgnoresMemoryShare(t *testing.T) {
	e := newEnv(t)
	// The filter share of a quarter of the budget (the partition's overhead would
	// take more) = 10 ids.
	budget := membudget.New(4 * 10 * membudget.IDBytes * 100 / membudget.DedupPercent)
	budget.Owned(1)
	if n := budget.Split().DedupIDs; n != 10 {
		t.Fatalf("dedup share = %d ids, want 10", n)
	}
	e.memory = budget
	p := e.pipeline(pipeline.Options{DedupHorizon: time.Hour, DedupMaxIDs: 15, MaxRows: 2})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	for i := range int64(20) {
		r.send(t, rec(payments, 0, i, t0.Add(time.Duration(i)*time.Second), payJSON(fmt.Sprint("e", i), t0, "m", 10)))
	}
	r.send(t, rec(payments, 0, 20, t0.Add(20*time.Second), payJSON("e3", t0, "m", 10)), // beyond the last 15 ids
		rec(payments, 0, 21, t0.Add(21*time.Second), payJSON("e7", t0, "m", 10))) // within them, not within the share's 10
	if err, _ := r.finish(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if d := p.Stats().Duplicates.Load(); d != 1 {
		t.Fatalf("%d duplicates dropped, want 1 (e7; e3 is beyond the last 15 ids)", d)
	}
	if u := budget.Usage(); u.Dedup != 0 {
		t.Fatalf("after Run the budget still holds %d dedup bytes", u.Dedup)
	}
}

// The event ids a worker keeps with a batch for the duplicate filter's table (no
// raw table holds them) count in the batch's size: with them, batches of the same
// records are written smaller.
func TestBatchSizeCountsKeptEventIDs(t *testing.T) {
	first := func(o pipeline.Options) int {
		e := newEnv(t)
		_, r := budgetedWorker(t, e, 1, o)
		for off := range int64(40_000) {
			r.send(t, rec(payments, 0, off, t0, payJSON(fmt.Sprint("event-", off), t0, "m1", 100)))
		}
		if err, _ := r.finish(t); err != nil {
			t.Fatalf("Run = %v", err)
		}
		rows := rawRows(e)
		return slices.Max(rows[:len(rows)-1]) // the first may be cut early by time, the last is the drain's
	}
	without := first(pipeline.Options{})
	with := first(pipeline.Options{DedupHorizon: time.Hour, DedupMaxIDs: 1_000_000})
	if with*10 > without*9 {
		t.Fatalf("batches of up to %d rows keeping the event ids, %d without: want them at least a tenth smaller", with, without)
	}
}
