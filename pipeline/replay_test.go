package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/pipeline"
)

// genPartition builds n records of one payments partition: mostly valid events, some
// invalid records, and some producer duplicates (an earlier valid record's value again,
// seconds later). It returns the records and how many events a correct pipeline stores.
func genPartition(r *rand.Rand, n int) ([]*kgo.Record, int) {
	var recs []*kgo.Record
	var valid [][]byte
	unique := 0
	for off := range int64(n) {
		ts := t0.Add(time.Duration(off) * time.Second)
		var v []byte
		switch x := r.IntN(100); {
		case x < 12:
			v = invalidValues[r.IntN(len(invalidValues))]
		case x < 22 && len(valid) > 0:
			v = valid[max(0, len(valid)-1-r.IntN(50)):][0]
		default:
			at := t0.Add(time.Duration(r.IntN(600)) * time.Second)
			v = payJSON(fmt.Sprintf("id-%d", off), at, fmt.Sprint("m", r.IntN(5)), r.Int64N(100_000))
			if r.IntN(2) == 0 {
				v = []byte(strings.Replace(string(v), `"method":"upi"`, `"method":"card"`, 1))
			}
			valid = append(valid, v)
			unique++
		}
		recs = append(recs, rec(payments, 0, off, ts, v))
	}
	return recs, unique
}

// randomSlices cuts recs into slices of 1..maxLen records.
func randomSlices(r *rand.Rand, recs []*kgo.Record, maxLen int) [][]*kgo.Record {
	var out [][]*kgo.Record
	for len(recs) > 0 {
		k := min(len(recs), 1+r.IntN(maxLen))
		out = append(out, recs[:k])
		recs = recs[k:]
	}
	return out
}

var errCrash = errors.New("simulated crash")

// crashPoint describes where a generation dies.
type crashPoint struct {
	kind string // "afterStore", "beforeStore", "atIntend", "betweenSlices"
	n    int    // which store/intend/slice (0-based) of the generation
	rec  bool   // atIntend: the range is recorded before the crash
}

func (c crashPoint) String() string { return fmt.Sprintf("%s#%d(rec=%v)", c.kind, c.n, c.rec) }

func randomCrash(r *rand.Rand, slices, flushes int) crashPoint {
	kinds := []string{"afterStore", "beforeStore", "atIntend", "betweenSlices"}
	c := crashPoint{kind: kinds[r.IntN(len(kinds))], rec: r.IntN(2) == 0}
	if c.kind == "betweenSlices" {
		c.n = r.IntN(slices)
	} else {
		c.n = r.IntN(max(1, flushes))
	}
	return c
}

// generation runs one owner of the partition over the slices sl (which start at the
// owner's first offset). With crash nil it drains and must finish cleanly; otherwise it dies
// at the crash point without draining (if that point is never reached, it drains
// after its last slice). It returns the offsets it marked.
func generation(t *testing.T, e *testEnv, o pipeline.Options, sl [][]*kgo.Record, crash *crashPoint) []int64 {
	marks, _, _ := generationStats(t, e, o, sl, crash)
	return marks
}

// generationStats is generation that also returns Run's error and the Stats.
func generationStats(t *testing.T, e *testEnv, o pipeline.Options, sl [][]*kgo.Record, crash *crashPoint) ([]int64, error, *pipeline.Stats) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stores, intends := 0, 0
	e.sink.before, e.sink.after, e.ledger.intend = nil, nil, nil
	defer func() { e.sink.before, e.sink.after, e.ledger.intend = nil, nil, nil }()
	if crash != nil {
		switch crash.kind {
		case "afterStore", "beforeStore":
			hook := func(context.Context, int, string) error {
				stores++
				if stores-1 == crash.n {
					cancel()
					return errCrash
				}
				return nil
			}
			if crash.kind == "afterStore" {
				e.sink.after = hook
			} else {
				e.sink.before = hook
			}
		case "atIntend":
			e.ledger.intend = func(context.Context, pipeline.Range) (bool, error) {
				intends++
				if intends-1 == crash.n {
					cancel()
					return crash.rec, errCrash
				}
				return true, nil
			}
		}
	}
	p := e.pipeline(o)
	w := p.Worker(payments, 0)
	in := make(chan []*kgo.Record)
	var marks []int64
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, in, func(r *kgo.Record) {
			if ctx.Err() != nil {
				// A mark after the crash would never reach Kafka.
				return
			}
			marks = append(marks, r.Offset)
		})
	}()
	func() {
		for i, s := range sl {
			if crash != nil && crash.kind == "betweenSlices" && crash.n == i {
				cancel()
				return
			}
			select {
			case in <- s:
			case err := <-done:
				done <- err
				return
			case <-ctx.Done():
				return
			}
		}
		// A crash point not reached yet may be reached by the final flush; if not,
		// this owner hands the whole partition over cleanly.
		close(in)
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(guard):
		t.Fatal("worker did not return")
	}
	if crash == nil && err != nil {
		t.Fatalf("final generation: Run = %v", err)
	}
	if crash != nil && err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errCrash) {
		t.Fatalf("crashed generation (%v): Run = %v", crash, err)
	}
	if !slices.IsSorted(marks) {
		t.Fatalf("marks out of order: %v", marks)
	}
	return marks, err, p.Stats()
}

// cleanTotals runs one worker over recs with no crash and returns the sink's totals.
func cleanTotals(t *testing.T, r *rand.Rand, o pipeline.Options, recs []*kgo.Record) map[string][2]uint64 {
	e := newEnv(t)
	o.MaxRows = 1 + r.IntN(40)
	generation(t, e, o, randomSlices(r, recs, 30), nil)
	return e.sink.totals(t)
}

type replayResult struct {
	got, clean map[string][2]uint64
	unique     int
	log        []string
	crashes    int   // generations that died at their crash point
	replays    int64 // flushes cut at a ledger range, over all generations
}

// replayScenario runs generations over one partition: each but the last dies at a
// random point; the next starts at its predecessor's last mark + 1 with other slice
// boundaries and another MaxRows. The last drains. force, when non-nil, is used as the
// first generation's crash point.
func replayScenario(t *testing.T, seed uint64, o pipeline.Options, gens int, force *crashPoint) replayResult {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed*7919))
	recs, unique := genPartition(r, 150+r.IntN(250))
	e := newEnv(t)
	from := int64(0)
	res := replayResult{unique: unique}
	for g := range gens {
		rest := recs[from:]
		o.MaxRows = 1 + r.IntN(25)
		sl := randomSlices(r, rest, 1+r.IntN(30))
		var crash *crashPoint
		if g < gens-1 {
			c := randomCrash(r, len(sl), len(rest)*3/(4*o.MaxRows))
			if g == 0 && force != nil {
				c = *force
			}
			crash = &c
		}
		before := e.ledger.all()
		_, callsBefore := e.sink.snapshot()
		marks, err, st := generationStats(t, e, o, sl, crash)
		if err != nil {
			res.crashes++
		}
		res.replays += st.Replays.Load()
		if crash == nil && (len(marks) == 0 || marks[len(marks)-1] != recs[len(recs)-1].Offset) {
			t.Fatalf("seed %d: final generation marks %v, want the last at %d", seed, marks, recs[len(recs)-1].Offset)
		}
		_, calls := e.sink.snapshot()
		res.log = append(res.log, fmt.Sprintf("gen %d from %d MaxRows %d slices %d crash %v -> %v, marks %v", g, from, o.MaxRows, len(sl), crash, err, marks))
		if crash == nil && !o.AtLeastOnce {
			// The last owner replays every recorded range at or after its first offset
			// under that range's token.
			calls = calls[len(callsBefore):]
			for _, rg := range before {
				if rg.Last >= from && !slices.Contains(calls, pipeline.Token(rg)) {
					t.Errorf("seed %d: ledger range %+v (from %d) not replayed under its token; stores %v\n%s",
						seed, rg, from, calls, strings.Join(res.log, "\n"))
				}
			}
		}
		if len(marks) > 0 {
			from = marks[len(marks)-1] + 1
		}
		if from == int64(len(recs)) {
			break // handed over everything
		}
	}
	res.got = e.sink.totals(t)
	res.clean = cleanTotals(t, r, o, recs)
	return res
}

func diffTotals(got, want map[string][2]uint64) string {
	var b strings.Builder
	keys := slices.Collect(maps.Keys(got))
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	n := 0
	for _, k := range keys {
		if got[k] != want[k] {
			if n < 10 {
				fmt.Fprintf(&b, "  %s: got %v want %v\n", k, got[k], want[k])
			}
			n++
		}
	}
	if n > 10 {
		fmt.Fprintf(&b, "  ... %d differences\n", n)
	}
	return b.String()
}

// TestReplayExactlyOnce, with the filter's ids stored as event-id rows and, for a
// topic whose raw rows hold them, as raw rows only.
func TestReplayExactlyOnce(t *testing.T) {
	t.Run("event ids", func(t *testing.T) { replayExactlyOnce(t, pipeline.Options{DedupHorizon: time.Hour}) })
	t.Run("raw ids", func(t *testing.T) {
		replayExactlyOnce(t, pipeline.Options{DedupHorizon: time.Hour,
			RawIDs: map[string]pipeline.RawIDs{payments: {Table: "payments", Column: "event_id"}}})
	})
}

func replayExactlyOnce(t *testing.T, o pipeline.Options) {
	var crashes int
	var replays int64
	defer func() {
		// The scenarios must exercise what they claim to.
		if crashes < 40 || replays < 40 {
			t.Errorf("only %d crashes and %d replayed flushes over all seeds", crashes, replays)
		}
	}()
	for seed := uint64(1); seed <= 40; seed++ {
		gens := 2 + int(seed%3)
		res := replayScenario(t, seed, o, gens, nil)
		crashes += res.crashes
		replays += res.replays
		if n := eventsTotal(res.clean); n != uint64(res.unique) {
			t.Fatalf("seed %d: clean run stored %d events, generator made %d", seed, n, res.unique)
		}
		if d := diffTotals(res.got, res.clean); d != "" {
			t.Errorf("seed %d: totals after %d owners differ from a clean run:\n%s%s", seed, gens, d, strings.Join(res.log, "\n"))
		}
	}
}

// The same scenario with AtLeastOnce, crashing after a store and before its mark, must
// double-count: it shows the comparison above can fail.
func TestReplayAtLeastOnceDoubleCounts(t *testing.T) {
	crash := &crashPoint{kind: "afterStore", n: 1}
	for seed := uint64(1); seed <= 5; seed++ {
		eo := replayScenario(t, seed, pipeline.Options{DedupHorizon: time.Hour}, 2, crash)
		if d := diffTotals(eo.got, eo.clean); d != "" {
			t.Fatalf("seed %d: exactly-once totals differ:\n%s%s", seed, d, strings.Join(eo.log, "\n"))
		}
		alo := replayScenario(t, seed, pipeline.Options{DedupHorizon: time.Hour, AtLeastOnce: true}, 2, crash)
		if eventsTotal(alo.got) <= eventsTotal(alo.clean) {
			t.Fatalf("seed %d: at-least-once stored %d events after a crash between store and mark, clean %d; want more\n%s",
				seed, eventsTotal(alo.got), eventsTotal(alo.clean), strings.Join(alo.log, "\n"))
		}
	}
}

// A new owner that is revoked (its input closed) part-way through a ledger range it is
// replaying must not mark inside that range: the range's first attempt already stored
// all of it, so the partial flush is dropped by token, and a third owner starting
// after the mark would store the rest of the range again under a new token.
func TestDrainInsideReplayedRange(t *testing.T) {
	e := newEnv(t)
	o := pipeline.Options{MaxRows: 10}
	var recs []*kgo.Record
	for i := range int64(10) {
		recs = append(recs, rec(payments, 0, i, t0, payJSON(fmt.Sprint("e", i), t0, "m", 1)))
	}
	// A stores [0, 9] and dies before marking.
	generation(t, e, o, [][]*kgo.Record{recs}, &crashPoint{kind: "afterStore", n: 0})
	// B replays from 0, receives 0..4, then the partition is revoked.
	marks := generation(t, e, o, [][]*kgo.Record{recs[:5]}, nil)
	from := int64(0)
	if len(marks) > 0 {
		from = marks[len(marks)-1] + 1
	}
	// C resumes after B's mark.
	generation(t, e, o, [][]*kgo.Record{recs[from:]}, nil)
	if n := eventsTotal(e.sink.totals(t)); n != 10 {
		stored, calls := e.sink.snapshot()
		t.Fatalf("%d events stored for 10 records; B marked %v; accepted tokens %v; all stores %v", n, marks, tokens(stored), calls)
	}
}
