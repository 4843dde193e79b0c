package pipeline_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// flushLog is an Observer that copies what it is told.
type flushLog struct {
	mu      sync.Mutex
	flushes []pipeline.Flush
}

func (l *flushLog) Stored(f *pipeline.Flush) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cp := *f
	cp.Published = slices.Clone(f.Published)
	cp.Blocks = nil
	l.flushes = append(l.flushes, cp)
}

// The Observer hears of every stored flush with its range, token, events and a sample
// of its valid events' Kafka timestamps; invalid records are counted but not sampled.
func TestObserverSeesEveryFlush(t *testing.T) {
	e := newEnv(t)
	obs := &flushLog{}
	p := pipeline.New(pipeline.Options{
		Group: testGroup, Topics: map[string]func(schemas.Options) schemas.Batch{payments: schemas.NewPaymentBatch},
		FlushInterval: time.Hour, MaxRows: 40,
	}, pipeline.Deps{Sink: e.sink, Ledger: e.ledger, SeenIDs: e.seen, DLQ: e.dlq, Observer: obs})
	r := startWorker(t, t.Context(), p.Worker(payments, 0))
	var recs []*kgo.Record
	for i := range int64(100) {
		v := payJSON(fmt.Sprint("e", i), t0, "m1", 100)
		if i == 1 {
			v = []byte("{")
		}
		recs = append(recs, rec(payments, 0, i, t0.Add(time.Duration(i)*time.Millisecond), v))
	}
	r.send(t, recs...)
	if err, _ := r.finish(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.flushes) != 3 {
		t.Fatalf("%d flushes observed, want 3: %+v", len(obs.flushes), obs.flushes)
	}
	wantRanges := []pipeline.Range{rng(0, 40), rng(41, 80), rng(81, 99)}
	wantEvents := []int{40, 40, 19}
	for i, f := range obs.flushes {
		if f.Range != wantRanges[i] || f.Token != pipeline.Token(wantRanges[i]) || f.Events != wantEvents[i] {
			t.Errorf("flush %d: range %v token %q events %d, want %v, %d", i, f.Range, f.Token, f.Events, wantRanges[i], wantEvents[i])
		}
		if f.Records != f.Range.Last-f.Range.First+1 {
			t.Errorf("flush %d: %d records for %v", i, f.Records, f.Range)
		}
		if len(f.Published) == 0 || len(f.Published) > pipeline.SampleSize {
			t.Fatalf("flush %d: %d timestamps", i, len(f.Published))
		}
		first := f.Range.First // valid in every batch: offset 1 is the invalid one
		if got := f.Published[0]; got != t0.Add(time.Duration(first)*time.Millisecond).UnixNano() {
			t.Errorf("flush %d: first sampled timestamp %v, want offset %d's", i, time.Unix(0, got).UTC(), first)
		}
		for _, ts := range f.Published {
			if ts == t0.Add(time.Millisecond).UnixNano() {
				t.Errorf("flush %d sampled the invalid record's timestamp", i)
			}
		}
		if f.Stored.IsZero() {
			t.Errorf("flush %d: no stored time", i)
		}
	}
}
