package schemagen

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

func walletType(t testing.TB) *schemas.EventType {
	t.Helper()
	b, err := os.ReadFile("testdata/wallet_topups.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	et, err := schemas.ParseEventType("wallet_topups.schema.json", b)
	if err != nil {
		t.Fatal(err)
	}
	return et
}

func drain(t *testing.T, g *Generator) []loadgen.Record {
	t.Helper()
	var recs []loadgen.Record
	for {
		r, ok := g.Next()
		if !ok {
			break
		}
		recs = append(recs, r)
	}
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestReproducible(t *testing.T) {
	t.Parallel()
	et := walletType(t)
	cfg := Config{Seed: 7, Records: 500, InvalidRate: 0.1, DuplicateRate: 0.05}
	a, err := New(et, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(et, cfg)
	ra, rb := drain(t, a), drain(t, b)
	if len(ra) != 500 {
		t.Fatalf("%d records, want 500", len(ra))
	}
	for i := range ra {
		if !bytes.Equal(ra[i].Value, rb[i].Value) || !bytes.Equal(ra[i].Key, rb[i].Key) || !ra[i].Timestamp.Equal(rb[i].Timestamp) {
			t.Fatalf("record %d differs between two runs of one seed:\n%s\n%s", i, ra[i].Value, rb[i].Value)
		}
	}
	ja, _ := json.Marshal(a.Truth())
	jb, _ := json.Marshal(b.Truth())
	if !bytes.Equal(ja, jb) {
		t.Error("the truth differs between two runs of one seed")
	}
	c, _ := New(et, Config{Seed: 8, Records: 500, InvalidRate: 0.1, DuplicateRate: 0.05})
	if rc := drain(t, c); bytes.Equal(rc[0].Value, ra[0].Value) {
		t.Error("seeds 7 and 8 start with the same record")
	}
}

// dedup admits each event id once, like the pipeline's filter.
type dedup map[string]bool

func (d dedup) Admit(id string, _, _ int64) bool {
	if d[id] {
		return false
	}
	d[strings.Clone(id)] = true // id aliases the batch's arena
	return true
}

// TestTruthMatchesBatches runs a generated stream through the type's own batch
// (the code under test elsewhere) and checks that the generator's independent
// truth agrees with it: every record judged as the generator says (valid,
// duplicate, or invalid with its reason), the raw rows, and every rollup row.
func TestTruthMatchesBatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		et   *schemas.EventType
	}{
		{"wallet_topups", walletType(t)},
		{"payments", schemas.BuiltinEventTypes()[0]},
		{"shipments", schemas.BuiltinEventTypes()[1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, err := New(tc.et, Config{Seed: 3, Records: 4000, InvalidRate: 0.2, DuplicateRate: 0.05, EventRate: 5})
			if err != nil {
				t.Fatal(err)
			}
			recs := drain(t, g)
			batch := tc.et.NewBatch(schemas.Options{Window: time.Minute, Raw: true, Dedup: dedup{},
				Limits: schemas.Limits{MaxLateness: 168 * time.Hour, MaxClockSkew: 15 * time.Minute}})
			reasons := map[string]int64{}
			for i, r := range recs {
				err := batch.Add(r.Value, &schemas.Meta{Topic: r.Topic, Offset: int64(i), Timestamp: r.Timestamp, IngestedAt: r.Timestamp})
				var inv *schemas.Invalid
				switch {
				case r.Kind == loadgen.Invalid && errors.As(err, &inv):
					if inv.Reason != r.InvalidKind {
						t.Errorf("record %d: reason %s (%v), the generator meant %s:\n%s", i, inv.Reason, inv, r.InvalidKind, r.Value)
					}
					reasons[inv.Reason]++
				case r.Kind == loadgen.Duplicate && errors.Is(err, schemas.ErrDuplicate):
				case r.Kind == loadgen.Valid && err == nil:
				default:
					t.Errorf("record %d (%s %s): Add = %v:\n%s", i, r.Kind, r.InvalidKind, err, r.Value)
				}
			}
			tr := g.Truth()
			if tr.Records != int64(len(recs)) || tr.Valid+tr.Invalid+tr.Duplicates != tr.Records {
				t.Errorf("counts %+v do not add up to %d records", tr, len(recs))
			}
			if !maps(reasons, tr.InvalidByReason) {
				t.Errorf("reasons %v, truth %v", reasons, tr.InvalidByReason)
			}
			if len(tr.InvalidByReason) < 6 {
				t.Errorf("only %d invalid kinds used: %v", len(tr.InvalidByReason), tr.InvalidByReason)
			}
			got := map[string][]Row{}
			for _, b := range batch.Blocks() {
				if b.Table == tc.et.Table() {
					if int64(b.Rows) != tr.RawRows {
						t.Errorf("raw rows %d, truth %d", b.Rows, tr.RawRows)
					}
					checkTotals(t, b, tr.RawTotals)
					continue
				}
				got[b.Table] = append(got[b.Table], blockRows(t, b)...)
			}
			if len(tr.Rollups) == 0 {
				t.Fatal("no rollups")
			}
			for _, rt := range tr.Rollups {
				want, have := rt.Rows(), merge(rt, got[rt.Table])
				if len(want) < 2 {
					t.Errorf("%s: only %d rows", rt.Table, len(want))
				}
				if d := DiffRows(want, have, 10); len(d) > 0 {
					t.Errorf("%s differs from the truth:\n%s", rt.Table, strings.Join(d, "\n"))
				}
			}
		})
	}
}

// checkTotals compares the raw block's column sums (numbers) and entry counts
// (maps, arrays) with the truth's.
func checkTotals(t *testing.T, b schemas.Block, want map[string]string) {
	t.Helper()
	if len(want) < 2 {
		t.Errorf("only %d raw totals: %v", len(want), want)
	}
	for col, w := range want {
		i := slices.Index(b.Names, col)
		if i < 0 {
			t.Errorf("raw block has no column %s", col)
			continue
		}
		var vals []string
		for r := range b.Rows {
			v := schemas.ColumnValue(b.Columns[i], r)
			switch v := v.(type) {
			case map[string]string:
				vals = append(vals, fmt.Sprint(len(v)))
			default:
				if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice {
					vals = append(vals, fmt.Sprint(rv.Len()))
				} else {
					vals = append(vals, fmt.Sprint(v))
				}
			}
		}
		if got := Sum(vals...); got != w {
			t.Errorf("raw column %s totals %s, truth %s", col, got, w)
		}
	}
}

func maps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// blockRows reads a rollup block as Rows of canonical text (partials, not merged).
func blockRows(t *testing.T, b schemas.Block) []Row {
	t.Helper()
	var rows []Row
	for i := range b.Rows {
		var r Row
		for j, c := range b.Columns {
			v := schemas.ColumnValue(c, i)
			if j == 0 {
				switch w := v.(type) {
				case time.Time:
					r.WindowStart = w.UTC()
				case uint32:
					r.WindowStart = time.Unix(int64(w), 0).UTC()
				default:
					t.Fatalf("%s: window_start is a %T", b.Table, v)
				}
				continue
			}
			r.Key = append(r.Key, Canonical(fmt.Sprint(v)))
		}
		rows = append(rows, r)
	}
	return rows
}

// merge folds partial rows (dimensions and measures in r.Key) into merged rows.
func merge(rt *RollupTruth, partials []Row) []Row {
	nd := len(rt.Dimensions)
	byKey := map[string]*Row{}
	var out []*Row
	for _, p := range partials {
		k := p.WindowStart.String() + "\x00" + strings.Join(p.Key[:nd], "\x00")
		m := byKey[k]
		if m == nil {
			m = &Row{WindowStart: p.WindowStart, Key: p.Key[:nd], Values: slices.Clone(p.Key[nd:])}
			byKey[k] = m
			out = append(out, m)
			continue
		}
		for i, f := range rt.funcs {
			a, _ := new(big.Rat).SetString(m.Values[i])
			b, _ := new(big.Rat).SetString(p.Key[nd+i])
			switch {
			case f == "count" || f == "sum":
				a.Add(a, b)
			case f == "min" && b.Cmp(a) < 0, f == "max" && b.Cmp(a) > 0:
				a = b
			}
			m.Values[i] = Canonical(a.FloatString(40))
		}
	}
	rows := make([]Row, len(out))
	for i, r := range out {
		rows[i] = *r
	}
	slices.SortFunc(rows, CompareRows)
	return rows
}

func BenchmarkGenerator(b *testing.B) {
	g, err := New(walletType(b), Config{Seed: 1, InvalidRate: 0.01, DuplicateRate: 0.01})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		r, _ := g.Next()
		n += int64(len(r.Value))
	}
	b.SetBytes(n / int64(b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
