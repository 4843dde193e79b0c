package schemagen

import (
	"cmp"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// Truth is the exact expected outcome of a generated stream: record counts, the
// raw rows, the dead-letter reasons and every rollup row. It encodes to stable
// JSON (rows sorted). It is not safe for concurrent use.
type Truth struct {
	Topic string `json:"topic"`
	// Records is everything emitted: Valid + Invalid + Duplicates.
	Records int64 `json:"records"`
	// Valid counts the events emitted as new valid events.
	Valid int64 `json:"valid"`
	// Invalid counts the deliberately invalid records; InvalidByReason splits them
	// by the dead-letter reason Sluice must give.
	Invalid         int64            `json:"invalid"`
	InvalidByReason map[string]int64 `json:"invalid_by_reason"`
	// Duplicates counts producer retries (byte-identical copies of valid records).
	Duplicates int64 `json:"duplicates"`
	// Stored is the events the rollups count: Valid, plus Duplicates when the type
	// has no event_id. RawRows is the rows of the raw table (Stored, or 0 when the
	// type stores none).
	Stored  int64 `json:"stored"`
	RawRows int64 `json:"raw_rows"`
	// RawTotals checks the raw table's columns: per numeric column the exact sum
	// over the raw rows (sum(c)), per map or array column the total number of
	// entries (sum(length(c))), as canonical text.
	RawTotals map[string]string `json:"raw_totals"`
	// Rollups holds one entry per rollup of the type, in the type's order.
	Rollups []*RollupTruth `json:"rollups"`
}

// RollupTruth is the expected content of one rollup table, merged over partial
// rows: one Row per window and dimension values.
type RollupTruth struct {
	Table      string        `json:"table"`
	Window     time.Duration `json:"window_ns"`
	Dimensions []string      `json:"dimensions"`
	Measures   []string      `json:"measures"`
	// Merge is, per measure, the function that merges its partial rows in
	// ClickHouse: sum (for count and sum), min or max.
	Merge []string `json:"merge"`

	funcs  []string // per measure: count, sum, min, max
	fields []string // per measure: the column aggregated
	wrap   []bool   // per measure: an unsigned sum, modulo 2^64
	rows   map[string]*agg
}

// Row is one rollup row: the window's start (UTC), the dimensions' values and
// the measures' values, each as canonical text (see Canonical).
type Row struct {
	WindowStart time.Time `json:"window_start"`
	Key         []string  `json:"key"`
	Values      []string  `json:"values"`
}

type agg struct {
	start time.Time
	key   []string
	count int64
	vals  []cell
	set   []bool
}

func newRollupTruth(r schemas.Rollup, base string, window time.Duration) *RollupTruth {
	rt := &RollupTruth{Table: r.TableFor(base, window), Window: r.WindowFor(window), rows: map[string]*agg{}}
	for _, d := range r.Dimensions {
		rt.Dimensions = append(rt.Dimensions, d.Name)
	}
	for _, m := range r.Measures {
		rt.Measures = append(rt.Measures, m.Column)
		rt.funcs = append(rt.funcs, m.Func)
		rt.Merge = append(rt.Merge, map[string]string{"count": "sum", "sum": "sum", "min": "min", "max": "max"}[m.Func])
		rt.fields = append(rt.fields, m.Field)
		rt.wrap = append(rt.wrap, m.Func == "sum" && strings.Contains(m.Type, "UInt"))
	}
	return rt
}

// add folds one stored event, whose column values are row, at event time at.
func (rt *RollupTruth) add(at time.Time, row map[string]cell) {
	start := loadgen.WindowStart(at, rt.Window)
	key := make([]string, len(rt.Dimensions))
	var sb strings.Builder
	sb.WriteString(strconv.FormatInt(start.UnixNano(), 10))
	for i, d := range rt.Dimensions {
		key[i] = row[d].text
		sb.WriteByte(0)
		sb.WriteString(key[i])
	}
	a := rt.rows[sb.String()]
	if a == nil {
		a = &agg{start: start, key: key, vals: make([]cell, len(rt.Measures)), set: make([]bool, len(rt.Measures))}
		rt.rows[sb.String()] = a
	}
	a.count++
	for i, f := range rt.funcs {
		if f == "count" {
			continue
		}
		v := row[rt.fields[i]]
		if !a.set[i] {
			a.vals[i], a.set[i] = v, true
			continue
		}
		switch f {
		case "sum":
			s := a.vals[i].num.add(*v.num)
			a.vals[i] = cell{num: &s}
		case "min":
			if less(v, a.vals[i]) {
				a.vals[i] = v
			}
		case "max":
			if less(a.vals[i], v) {
				a.vals[i] = v
			}
		}
	}
}

func less(a, b cell) bool {
	if a.num != nil && b.num != nil {
		return a.num.cmp(*b.num) < 0
	}
	return a.text < b.text
}

// Rows returns the expected rows, sorted by window and key.
func (rt *RollupTruth) Rows() []Row {
	out := make([]Row, 0, len(rt.rows))
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	for _, a := range rt.rows {
		r := Row{WindowStart: a.start, Key: a.key, Values: make([]string, len(rt.Measures))}
		for i, f := range rt.funcs {
			switch {
			case f == "count":
				r.Values[i] = strconv.FormatInt(a.count, 10)
			case a.vals[i].num == nil:
				r.Values[i] = a.vals[i].text
			case rt.wrap[i] && a.vals[i].num.unscaled.Sign() < 0:
				r.Values[i] = dec{new(big.Int).Add(a.vals[i].num.unscaled, two64), 0}.String()
			default:
				r.Values[i] = a.vals[i].num.String()
			}
		}
		out = append(out, r)
	}
	slices.SortFunc(out, CompareRows)
	return out
}

// CompareRows orders rows by window start, then key.
func CompareRows(a, b Row) int {
	if c := a.WindowStart.Compare(b.WindowStart); c != 0 {
		return c
	}
	return slices.Compare(a.Key, b.Key)
}

// MarshalJSON writes the rollup with its rows.
func (rt *RollupTruth) MarshalJSON() ([]byte, error) {
	type plain RollupTruth
	return json.Marshal(struct {
		*plain
		Rows []Row `json:"rows"`
	}{(*plain)(rt), rt.Rows()})
}

// Rollup returns the truth of the rollup table named table, or nil.
func (t *Truth) Rollup(table string) *RollupTruth {
	for _, r := range t.Rollups {
		if r.Table == table {
			return r
		}
	}
	return nil
}

// sortedReasons lists the reasons of InvalidByReason, for stable output.
func (t *Truth) sortedReasons() []string {
	rs := make([]string, 0, len(t.InvalidByReason))
	for r := range t.InvalidByReason {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, cmp.Compare)
	return rs
}
