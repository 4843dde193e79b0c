package pipeline_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/testsupport"
	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// A store that fails with an error Deps.Permanent recognises blocks its partition
// (Pipeline.Blocked, reason BlockedClickHouse) without a mark, is logged once rather
// than per attempt and not as an outage, keeps being probed, and resumes by itself
// once the store succeeds; a transient error is an outage and blocks nothing.
func TestPermanentStoreErrorBlocksUntilFixed(t *testing.T) {
	refused := errors.New("code 16: no such column city in table payments")
	for _, permanent := range []bool{true, false} {
		name := map[bool]string{true: "permanent", false: "transient"}[permanent]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			var failing atomic.Bool
			failing.Store(true)
			e.sink.before = func(context.Context, int, string) error {
				if failing.Load() {
					return refused
				}
				return nil
			}
			var logs testsupport.SyncBuffer
			p := pipeline.New(pipeline.Options{
				Group:         testGroup,
				Topics:        map[string]func(schemas.Options) schemas.Batch{payments: schemas.NewPaymentBatch},
				Batch:         schemas.Options{Raw: true},
				FlushInterval: time.Millisecond,
				RetryMin:      time.Millisecond, RetryMax: 2 * time.Millisecond, ProbeMax: 4 * time.Millisecond,
			}, pipeline.Deps{
				Sink: e.sink, Ledger: e.ledger, SeenIDs: e.seen, DLQ: e.dlq,
				Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
				Permanent: func(err error) bool { return permanent && errors.Is(err, refused) },
			})
			r := startWorker(t, t.Context(), p.Worker(payments, 3))
			r.send(t, rec(payments, 3, 0, t0, payJSON("a", t0, "m", 1)))
			deadline := time.Now().Add(guard)
			for {
				_, calls := e.sink.snapshot()
				if len(calls) >= 20 && (!permanent || len(p.Blocked()) == 1) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d store attempts, blocked %+v", len(calls), p.Blocked())
				}
				time.Sleep(time.Millisecond)
			}
			if len(r.marks) != 0 {
				t.Fatalf("%d marks while the store fails", len(r.marks))
			}
			b := p.Blocked()
			if permanent {
				if len(b) != 1 || b[0].Topic != payments || b[0].Partition != 3 || b[0].Reason != pipeline.BlockedClickHouse || !errors.Is(b[0].Err, refused) || b[0].Since.IsZero() {
					t.Fatalf("Blocked = %+v", b)
				}
			} else if len(b) != 0 {
				t.Fatalf("a transient error blocked %+v", b)
			}
			failing.Store(false)
			if m := r.nextMark(t); m != 0 {
				t.Fatalf("first mark %d, want 0", m)
			}
			if err, _ := r.finish(t); err != nil {
				t.Fatalf("Run = %v", err)
			}
			if b := p.Blocked(); len(b) != 0 {
				t.Fatalf("still blocked after the fix: %+v", b)
			}
			log := logs.String()
			blocked := strings.Count(log, "level=WARN msg=\"ClickHouse refuses the partition's store batch")
			outage := strings.Count(log, "ClickHouse calls are failing")
			resumed := strings.Count(log, "ClickHouse accepts the partition's calls again")
			want := [3]int{1, 0, 1}
			if !permanent {
				want = [3]int{0, 1, 0}
			}
			if got := [3]int{blocked, outage, resumed}; got != want {
				t.Fatalf("warnings blocked/outage/resumed = %v, want %v:\n%s", got, want, log)
			}
			if permanent && (!strings.Contains(log, "reason=clickhouse_permanent") || !strings.Contains(log, "partition=3")) {
				t.Fatalf("the warning does not name the partition and reason:\n%s", log)
			}
		})
	}
}
