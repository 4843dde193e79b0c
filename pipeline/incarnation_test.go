package pipeline_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/pipeline"
)

var (
	idA = [16]byte{0xa}
	idB = [16]byte{0xb}
)

func TestTokenCarriesTopicID(t *testing.T) {
	r := pipeline.Range{Group: "g", Topic: "payments", TopicID: "AAAA", Partition: 3, First: 10, Last: 19}
	if got, want := pipeline.Token(r), "g:payments@AAAA:3:10-19"; got != want {
		t.Errorf("Token = %q, want %q", got, want)
	}
	legacy := r
	legacy.TopicID = ""
	if pipeline.Token(r) == pipeline.Token(legacy) {
		t.Error("a range of a known incarnation has the token of a range without topic id")
	}
	if got := pipeline.TopicID([16]byte{}); got != "" {
		t.Errorf("TopicID(zero) = %q", got)
	}
	if a, b := pipeline.TopicID(idA), pipeline.TopicID(idB); a == b || len(a) != 22 {
		t.Errorf("TopicID(A) = %q, TopicID(B) = %q", a, b)
	}
}

// consume runs one worker of payments/0 of the incarnation id over recs and returns
// its result.
func (e *testEnv) consume(t *testing.T, o pipeline.Options, id [16]byte, recs []*kgo.Record) error {
	t.Helper()
	return e.consumeWith(t, e.pipeline(o), id, recs)
}

// consumeWith is consume with a worker of p.
func (e *testEnv) consumeWith(t *testing.T, p *pipeline.Pipeline, id [16]byte, recs []*kgo.Record) error {
	t.Helper()
	w := p.Worker(payments, 0)
	w.SetTopicID(id)
	r := startWorker(t, t.Context(), w)
	r.send(t, recs...)
	err, _ := r.finish(t)
	return err
}

// A topic deleted and created again starts its offsets over: its worker must cut
// nothing at the earlier incarnation's ranges, reuse none of its tokens, and drop
// none of its events as producer duplicates of the earlier incarnation's.
func TestNewIncarnationIgnoresEarlierOne(t *testing.T) {
	e := newEnv(t)
	var recs []*kgo.Record
	for i := range 6 {
		recs = append(recs, rec(payments, 0, int64(i), t0, payJSON("e"+string(rune('0'+i)), t0, "m", 100)))
	}
	o := pipeline.Options{DedupHorizon: 24 * 3600e9, MaxRows: 3}
	if err := e.consume(t, o, idA, recs); err != nil {
		t.Fatal(err)
	}
	_, first := e.sink.snapshot()
	// The same records (same offsets, same event ids) in the new incarnation, cut
	// differently (one batch).
	o.MaxRows = 100
	if err := e.consume(t, o, idB, recs); err != nil {
		t.Fatal(err)
	}
	stored, all := e.sink.snapshot()
	second := all[len(first):]
	if len(second) != 1 {
		t.Fatalf("new incarnation stored %d flushes %v, want one (no cut at the old ranges)", len(second), second)
	}
	for _, tok := range second {
		if slices.Contains(first, tok) {
			t.Errorf("new incarnation reused token %s", tok)
		}
		if !strings.Contains(tok, "@"+pipeline.TopicID(idB)+":") {
			t.Errorf("token %s lacks the new topic id", tok)
		}
	}
	if st := stored[len(stored)-1]; st.token != second[0] || rowsOf(st, payments) != 6 {
		t.Errorf("new incarnation's last store %s holds %d raw payments, want %s with 6", st.token, rowsOf(st, payments), second[0])
	}
	var ids int
	for _, r := range e.ledger.all() {
		if r.TopicID == pipeline.TopicID(idB) {
			ids++
		}
	}
	if ids != 1 {
		t.Errorf("%d ledger ranges of the new incarnation, want 1: %v", ids, e.ledger.all())
	}
}

func rowsOf(c storeCall, table string) int {
	for _, b := range c.blocks {
		if b.Table == table {
			return b.Rows
		}
	}
	return 0
}

// Another group's ranges over the offsets a worker is given make it refuse, naming
// the group and the offsets; AllowReingest lets it store them.
func TestOtherGroupOverlapRefused(t *testing.T) {
	e := newEnv(t)
	var recs []*kgo.Record
	for i := range 4 {
		recs = append(recs, rec(payments, 0, int64(i), t0, payJSON("e"+string(rune('0'+i)), t0, "m", 100)))
	}
	if err := e.consume(t, pipeline.Options{Group: "old"}, idA, recs); err != nil {
		t.Fatal(err)
	}
	before, _ := e.sink.snapshot()
	p := e.pipeline(pipeline.Options{Group: "new"})
	err := e.consumeWith(t, p, idA, recs[1:])
	var ov *pipeline.OverlapError
	if !errors.As(err, &ov) {
		t.Fatalf("new group: Run = %v, want an OverlapError", err)
	}
	if want := `group "new" would store payments/0 from offset 1 again: group "old" already stored offsets 1-3 into these tables`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if got := fmt.Sprint(len(p.Overlaps()), p.Overlaps()[0] == ov); got != "1 true" {
		t.Errorf("Overlaps: %s, want the one refusal", got)
	}
	if after, _ := e.sink.snapshot(); len(after) != len(before) {
		t.Errorf("the refused group stored %d flushes", len(after)-len(before))
	}
	// Another incarnation of the topic does not overlap.
	if err := e.consume(t, pipeline.Options{Group: "new"}, idB, recs); err != nil {
		t.Fatalf("new group, new incarnation: %v", err)
	}
	if err := e.consume(t, pipeline.Options{Group: "again", AllowReingest: true}, idA, recs); err != nil {
		t.Fatalf("re-ingest allowed: %v", err)
	}
	if after, _ := e.sink.snapshot(); rowsOf(after[len(after)-1], payments) != 4 {
		got := rowsOf(after[len(after)-1], payments)
		t.Errorf("allowed re-ingest stored %d raw payments, want 4", got)
	}
}
