package schemas

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// keyTuple is a rollup key before encoding: a window, a string and an integer
// dimension.
type keyTuple struct {
	w  int64
	s  string
	i  int64
	s2 string
}

func (k keyTuple) encode() []byte {
	b := appendKeyInt(nil, k.w)
	b, _ = appendKeyStr(b, k.s)
	b = appendKeyInt(b, k.i)
	b, _ = appendKeyStr(b, k.s2)
	return b
}

func cmpTuples(x, y keyTuple) int {
	return cmp.Or(cmp.Compare(x.w, y.w), cmp.Compare(x.s, y.s), cmp.Compare(x.i, y.i), cmp.Compare(x.s2, y.s2))
}

// TestKeyOrder: encoded keys compare as their tuples do, and are equal only for
// equal tuples, for strings that are prefixes of each other or hold NULs and
// 0xFF bytes, and integers of both signs.
func TestKeyOrder(t *testing.T) {
	strs := []string{"", "a", "ab", "a\x00", "a\x00b", "a\x00\x00", "a\x01", "\x00", "\xff", "a\xff", "b", "ba"}
	ints := []int64{math.MinInt64, -1 << 40, -2, -1, 0, 1, 2, 1 << 40, math.MaxInt64}
	rng := rand.New(rand.NewPCG(3, 4))
	var ts []keyTuple
	for range 3000 {
		ts = append(ts, keyTuple{
			w: ints[rng.IntN(len(ints))], s: strs[rng.IntN(len(strs))],
			i: ints[rng.IntN(len(ints))], s2: strs[rng.IntN(len(strs))],
		})
	}
	for n := 0; n+1 < len(ts); n++ {
		x, y := ts[n], ts[n+1]
		if want, got := cmpTuples(x, y), strings.Compare(string(x.encode()), string(y.encode())); want != got {
			t.Fatalf("%+v vs %+v: tuples compare %d, keys %d", x, y, want, got)
		}
	}
	if _, plain := appendKeyStr(nil, "a\x00"); plain {
		t.Fatal("a string with a NUL was reported appended as it is")
	}
	if k, plain := appendKeyStr([]byte("x"), "ab"); !plain || string(k) != "xab\x00\x01" {
		t.Fatalf("appendKeyStr = %q, %v", k, plain)
	}
}

// TestGroupIndex: every key added is found again with its group, keys never
// added are not, through growth and after a reset that reuses the arena.
func TestGroupIndex(t *testing.T) {
	var x groupIndex
	for round := range 3 {
		n := 5000 + 3000*round // grows past the first rounds' tables
		for i := range n {
			k := fmt.Appendf(nil, "r%d-key-%d", round, i)
			if i%7 == 0 {
				k = append(k, make([]byte, groupChunk)...) // longer than a chunk
			}
			if _, _, ok := x.lookup(k); ok {
				t.Fatalf("round %d: %q found before it was added", round, k[:20])
			}
			_, h, _ := x.lookup(k)
			if got := x.add(k, h); got != string(k) {
				t.Fatalf("round %d: add kept %q, want %q", round, got[:20], k[:20])
			}
		}
		if x.len() != n {
			t.Fatalf("round %d: %d groups, want %d", round, x.len(), n)
		}
		for i := range n {
			k := fmt.Appendf(nil, "r%d-key-%d", round, i)
			if i%7 == 0 {
				k = append(k, make([]byte, groupChunk)...)
			}
			if g, _, ok := x.lookup(k); !ok || g != int32(i) || x.keys[g] != string(k) {
				t.Fatalf("round %d: key %d: group %d, %v", round, i, g, ok)
			}
		}
		if _, _, ok := x.lookup([]byte("r0-key-x")); ok {
			t.Fatal("a key never added was found")
		}
		x.reset(round == 1)
		if x.len() != 0 {
			t.Fatal("reset kept groups")
		}
	}
}

// TestRollupOrderAndTotals sends settlements whose rollup dimensions are prefixes
// of one another, hold NULs or share a long prefix, in random order over several windows, and checks
// each rollup Block against a reference built here: one row per distinct key,
// sorted by (window, dimensions), with the count of its records.
func TestRollupOrderAndTotals(t *testing.T) {
	et := settlementsType(t)
	for _, merchants := range [][]string{
		{"m", "m\\u0000", "m\\u0000a", "ma", "m\\u0001", "mé", "n", "mxxxxxxxxxxxa", "mxxxxxxxxxxxb", "mxxxxxxxxxxx"},
		{"mxxxxxxxxxxxa", "mxxxxxxxxxxxb", "mxxxxxxxxxxx", "mxxxxxxxxxxxaa"}, // a long common prefix
	} {
		statuses := []string{"settled", "held", "reversed"}
		rng := rand.New(rand.NewPCG(5, 6))
		type key struct {
			w       int64
			m, c, s string
		}
		want := map[key]uint64{}
		b := et.NewBatch(Options{})
		for i := range 4000 {
			m, s := merchants[rng.IntN(len(merchants))], statuses[rng.IntN(len(statuses))]
			c := []string{"EUR", "USD"}[rng.IntN(2)]
			min := rng.IntN(5)
			rec := fmt.Sprintf(`{"settlement_id":"s-%d","settled_at":"2026-03-01T10:%02d:30Z","amount":"1.00","currency":%q,`+
				`"status":%q,"merchant":{"id":"%s","country":"DE"},"fee_bps":1}`, i, min, c, s, m)
			if err := b.Add([]byte(rec), &Meta{}); err != nil {
				t.Fatalf("%s: %v", rec, err)
			}
			dm := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(m, `\u0000`, "\x00"), `\u0001`, "\x01"), `\u00e9`, "é")
			want[key{int64(1772359200 + 60*min), dm, c, s}]++
		}
		var blk Block
		for _, bl := range b.Blocks() {
			if bl.Table == "settlements_1m" {
				blk = bl
			}
		}
		keys := slices.SortedFunc(func(yield func(key) bool) {
			for k := range want {
				if !yield(k) {
					return
				}
			}
		}, func(x, y key) int {
			return cmp.Or(cmp.Compare(x.w, y.w), cmp.Compare(x.m, y.m), cmp.Compare(x.c, y.c), cmp.Compare(x.s, y.s))
		})
		if blk.Rows != len(keys) {
			t.Fatalf("%d rollup rows, want %d", blk.Rows, len(keys))
		}
		col := func(name string) any { return PlainColumn(blk.Columns[slices.Index(blk.Names, name)]) }
		wins, ms, cs, ss := col("window_start"), col("merchant_id").([]string), col("currency").([]string), col("status").([]string)
		counts := col("settlements").([]uint64)
		for i, k := range keys {
			got := key{wins.([]time.Time)[i].Unix(), ms[i], cs[i], ss[i]}
			if got != k || counts[i] != want[k] {
				t.Fatalf("row %d: %+v × %d, want %+v × %d", i, got, counts[i], k, want[k])
			}
		}
	}
}

// TestDictColumnCollisions: more values than the recent hint has slots, appended
// in turn past smallDict (so that they keep evicting each other), are each found
// as themselves and held once; so are long values whose hint words are equal
// (they differ only in bytes the words do not cover).
func TestDictColumnCollisions(t *testing.T) {
	var many, sameWords []string
	for i := range 4 * dictSets {
		many = append(many, fmt.Sprintf("c%d", i))
	}
	for i := range 3 * smallDict {
		sameWords = append(sameWords, fmt.Sprintf("0123456789abcdef-%03d-01234567", i)) // bytes 16–21 differ
	}
	for _, vals := range [][]string{many, sameWords} {
		var c DictColumn
		var want []string
		for round := range 3 {
			for i := range vals {
				v := vals[(i*5+round)%len(vals)]
				c.Append(v)
				want = append(want, v)
			}
		}
		if got := PlainColumn(c).([]string); !slices.Equal(got, want) {
			t.Fatalf("rows %q, want %q", got, want)
		}
		if len(c.Dict) != len(vals) {
			t.Fatalf("dictionary holds %d values, want %d", len(c.Dict), len(vals))
		}
	}
}

// TestDictColumnExact: up to dictExact bytes and a little beyond, a value that
// differs from another in one byte, or only in its length, is not taken for it
// (the hint's words must cover every byte of a value they match without
// comparing it).
func TestDictColumnExact(t *testing.T) {
	var lengths DictColumn
	for n := range dictExact + 8 {
		base := strings.Repeat("x", n)
		lengths.Append(base)
		for i := range n {
			for _, v := range []byte{0, 'y', 0xff} {
				b := []byte(base)
				b[i] = v
				var c DictColumn
				for _, s := range []string{base, string(b), base, string(b)} {
					c.Append(s)
				}
				if got := PlainColumn(c).([]string); len(c.Dict) != 2 || !slices.Equal(got, []string{base, string(b), base, string(b)}) {
					t.Fatalf("%q then %q: rows %q, dictionary %q", base, b, got, c.Dict)
				}
			}
		}
	}
	if len(lengths.Dict) != dictExact+8 {
		t.Fatalf("values of %d lengths make a dictionary of %d", dictExact+8, len(lengths.Dict))
	}
}

// TestDictColumnSizes: a DictColumn gives every row back and holds each value once,
// in order of first appearance, below, at and past smallDict values, and again
// after a Reset.
func TestDictColumnSizes(t *testing.T) {
	var c DictColumn
	for _, distinct := range []int{1, smallDict, smallDict + 1, 3 * smallDict, 8 * dictSets, 2} {
		c.Reset()
		var want []string
		for i := range 5 * distinct {
			v := fmt.Sprintf("v%d", (i*7)%distinct)
			c.Append(v)
			want = append(want, v)
		}
		if got := PlainColumn(c).([]string); !slices.Equal(got, want) {
			t.Fatalf("%d distinct: rows %q, want %q", distinct, got, want)
		}
		if len(c.Dict) != distinct || c.Dict[0] != "v0" || (distinct > 1 && c.Dict[1] != fmt.Sprintf("v%d", 7%distinct)) {
			t.Fatalf("%d distinct: dictionary %q", distinct, c.Dict)
		}
	}
}

// TestDictColumnAppendN: AppendN gives n rows of its value after those before,
// growing the keys once however many rows it adds.
func TestDictColumnAppendN(t *testing.T) {
	var c DictColumn
	c.Append("a")
	c.AppendN("b", 3)
	c.AppendN("a", 0)
	c.AppendN("a", 2)
	if got := PlainColumn(c).([]string); !slices.Equal(got, []string{"a", "b", "b", "b", "a", "a"}) {
		t.Fatalf("rows %q", got)
	}
	var fresh DictColumn
	allocs := testing.AllocsPerRun(10, func() {
		fresh = DictColumn{}
		fresh.AppendN("payments", 100_000)
	})
	// The hint, the value's copy, the dictionary, and the keys for the first row
	// and for the others.
	if !raceDetector && allocs > 5 || fresh.Len() != 100_000 {
		t.Fatalf("AppendN of 100000 rows: %v allocations, %d rows", allocs, fresh.Len())
	}
}
