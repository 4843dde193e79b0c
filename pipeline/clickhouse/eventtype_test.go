package clickhouse

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// queryStrings runs q and returns each row's columns joined by "|".
func queryStrings(t *testing.T, c *Client, q string) []string {
	t.Helper()
	rows, err := c.conn.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	n := len(rows.Columns())
	for rows.Next() {
		vals := make([]string, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(vals, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// testType compiles schemas/testdata/types/<name>.schema.json, edited by the
// replacer's pairs (old, new, …), and creates its tables in c's database.
func testType(t *testing.T, c *Client, name string, edits ...string) (*schemas.EventType, []byte) {
	t.Helper()
	doc, err := os.ReadFile("../../schemas/testdata/types/" + name + ".schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc = []byte(strings.NewReplacer(edits...).Replace(string(doc)))
	et, err := schemas.ParseEventType(name+".schema.json", doc)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, c, schemas.TypeDDL(schemas.DDLOptions{Database: c.db}, et)...)
	return et, doc
}

func sameRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStoreEventType creates the tables of a type defined only by a schema file
// (TypeDDL), stores a batch of it and reads the raw rows and both rollups back:
// Decimal, nested, Array, Map, Bool, UInt16/UInt32 and LowCardinality columns.
func TestStoreEventType(t *testing.T) {
	c := open(t)
	et, _ := testType(t, c, "settlements")
	b := et.NewBatch(schemas.Options{Raw: true})
	for i, r := range []string{
		`{"settlement_id":"s-1","settled_at":"2026-03-01T10:15:30.5Z","amount":"1234.50","currency":"EUR","status":"settled",` +
			`"merchant":{"id":"m-1","country":"DE","mcc":5411},"fee_bps":120,"tags":["ecom","3ds"],"attributes":{"terminal":"t-9"},"instant":true}`,
		`{"settlement_id":"s-2","settled_at":1772360130000,"amount":0.5,"currency":"EUR","status":"held","merchant":{"id":"m-1"}}`,
		`{"settlement_id":"s-3","settled_at":"2026-03-01T10:59:00Z","amount":"0.05","currency":"EUR","status":"settled","merchant":{"id":"m-1","country":"DE"},"fee_bps":80,"instant":true}`,
	} {
		if err := b.Add([]byte(r), &schemas.Meta{Topic: "settlements", Offset: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Store(t.Context(), "settlements:0-2", b.Blocks()); err != nil {
		t.Fatal(err)
	}
	sameRows(t, "raw", queryStrings(t, c, "SELECT settlement_id, toString(settled_at), toString(amount), currency, status, merchant_id, "+
		"merchant_country, toString(merchant_mcc), toString(fee_bps), toString(tags), toString(attributes), toString(instant) FROM "+
		qualified(c.db, "settlements")+" ORDER BY _offset"), []string{
		"s-1|2026-03-01 10:15:30.500|1234.5|EUR|settled|m-1|DE|5411|120|['ecom','3ds']|{'terminal':'t-9'}|true",
		"s-2|2026-03-01 10:15:30.000|0.5|EUR|held|m-1||0|0|[]|{}|false",
		"s-3|2026-03-01 10:59:00.000|0.05|EUR|settled|m-1|DE|0|80|[]|{}|true",
	})
	sameRows(t, "1m", queryStrings(t, c, "SELECT toString(window_start), merchant_id, status, toString(settlements), toString(amount_sum), toString(amount_max) FROM "+
		qualified(c.db, "settlements_1m_merged")+" ORDER BY window_start, status"), []string{
		"2026-03-01 10:15:00|m-1|held|1|0.5|0.5",
		"2026-03-01 10:15:00|m-1|settled|1|1234.5|1234.5",
		"2026-03-01 10:59:00|m-1|settled|1|0.05|0.05",
	})
	sameRows(t, "1h", queryStrings(t, c, "SELECT toString(window_start), merchant_country, toString(instant), toString(settlements), toString(amount_sum), toString(fee_bps_max) FROM "+
		qualified(c.db, "settlements_by_country_1h_merged")+" ORDER BY merchant_country"), []string{
		"2026-03-01 10:00:00||false|1|0.5|0",
		"2026-03-01 10:00:00|DE|true|2|1234.55|120",
	})
}

// TestStoreEveryTypedColumn stores more than two wire chunks of a type with every
// narrow integer, Float32, Decimal32, and arrays of Int32, Float64, Bool,
// DateTime64, Decimal and LowCardinality(String), and checks aggregates of every
// column, so that arrays split across chunks are read back whole.
func TestStoreEveryTypedColumn(t *testing.T) {
	c := open(t)
	et, _ := testType(t, c, "kinds")
	b := et.NewBatch(schemas.Options{Raw: true})
	const rows = 2*nativeChunkRows + 7
	var sumI8, sumU32, sumInts, nInts, nCodes, nFlagsTrue int64
	for i := range rows {
		n := i % 4
		var ints, floats, flags, times, decs, codes []string
		for j := range n {
			ints = append(ints, strconv.Itoa(i-j))
			floats = append(floats, "0.5")
			flags = append(flags, strconv.FormatBool(j%2 == 0))
			times = append(times, `"2026-03-01T00:00:0`+strconv.Itoa(j)+`Z"`)
			decs = append(decs, `"1.5"`)
			codes = append(codes, `"`+string(rune('a'+j%3))+`"`)
			sumInts += int64(i - j)
			if j%2 == 0 {
				nFlagsTrue++
			}
		}
		nInts += int64(n)
		nCodes += int64(n)
		sumI8 += int64(int8(i % 100))
		sumU32 += int64(i * 3)
		rec := `{"at":` + strconv.Itoa(1772323200+i) + `,"i8":` + strconv.Itoa(i%100) + `,"i16":-16,"u8":200,"u16":60000,"u32":` + strconv.Itoa(i*3) +
			`,"f32":1.5,"ok":` + strconv.FormatBool(i%2 == 0) + `,"d":-1.25,"ints":[` + strings.Join(ints, ",") + `],"floats":[` + strings.Join(floats, ",") +
			`],"flags":[` + strings.Join(flags, ",") + `],"times":[` + strings.Join(times, ",") + `],"decs":[` + strings.Join(decs, ",") +
			`],"codes":[` + strings.Join(codes, ",") + `]}`
		if err := b.Add([]byte(rec), &schemas.Meta{Topic: "kinds", Offset: int64(i)}); err != nil {
			t.Fatalf("%s: %v", rec, err)
		}
	}
	if err := c.Store(t.Context(), "kinds:0", b.Blocks()); err != nil {
		t.Fatal(err)
	}
	sameRows(t, "aggregates", queryStrings(t, c, "SELECT toString(count()), toString(sum(i8)), toString(sum(i16)), toString(min(u8)), toString(max(u16)), "+
		"toString(sum(u32)), toString(sum(f32)), toString(countIf(ok)), toString(sum(d)), toString(sum(length(ints))), toString(sum(arraySum(ints))), "+
		"toString(sum(arraySum(floats))), toString(sum(arrayCount(x -> x, flags))), toString(max(arrayMax(times))), toString(sum(arraySum(decs))), "+
		"toString(sum(length(codes))), toString(countIf(has(codes, 'c'))) FROM "+qualified(c.db, "kinds")), []string{
		strings.Join([]string{strconv.Itoa(rows), strconv.FormatInt(sumI8, 10), strconv.Itoa(-16 * rows), "200", "60000",
			strconv.FormatInt(sumU32, 10), strconv.FormatFloat(1.5*rows, 'f', -1, 64), strconv.Itoa((rows + 1) / 2),
			strconv.FormatFloat(-1.25*rows, 'f', -1, 64), strconv.FormatInt(nInts, 10), strconv.FormatInt(sumInts, 10),
			strconv.FormatFloat(0.5*float64(nInts), 'f', -1, 64), strconv.FormatInt(nFlagsTrue, 10), "2026-03-01 00:00:02.000",
			strconv.FormatFloat(1.5*float64(nInts), 'f', -1, 64), strconv.FormatInt(nCodes, 10), strconv.Itoa(rows / 4)}, "|"),
	})
	for _, table := range et.RollupTables(0) {
		if n := count(t, c, table); n == 0 {
			t.Fatalf("no rows in %s", table)
		}
	}
}

// existingColumns reads system.columns of c's database: table → column → type.
func existingColumns(t *testing.T, c *Client) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, r := range queryStrings(t, c, "SELECT table, name, type FROM system.columns WHERE database = '"+c.db+"'") {
		f := strings.SplitN(r, "|", 3)
		if out[f[0]] == nil {
			out[f[0]] = map[string]string{}
		}
		out[f[0]][f[1]] = f[2]
	}
	return out
}

// TestEvolveOnServer widens a type's tables with the statements Evolve gives (a new
// property and a new measure) on the real server: they run, the views still
// answer, and Evolve then has nothing left to do; an incompatible change is
// refused.
func TestEvolveOnServer(t *testing.T) {
	c := open(t)
	old, doc := testType(t, c, "settlements")
	o := schemas.DDLOptions{Database: c.db}
	grown, err := schemas.ParseEventType("settlements.schema.json", []byte(strings.NewReplacer(
		`"note": {"type": ["string", "null"], "maxLength": 512}`, `"note": {"type": ["string", "null"], "maxLength": 512}, "channel": {"type": ["string", "null"]}`,
		`"amount_max": "max(amount)"`, `"amount_max": "max(amount)", "amount_min": "min(amount)", "fee_min": "min(fee_bps)", "first": "min(settled_at)"`).Replace(string(doc))))
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := schemas.Evolve(o, grown, existingColumns(t, c))
	if err != nil || len(stmts) != 4 {
		t.Fatalf("Evolve: %v %v", stmts, err)
	}
	exec(t, c, stmts...)
	exec(t, c, schemas.TypeDDL(o, grown)...)
	if again, err := schemas.Evolve(o, grown, existingColumns(t, c)); err != nil || len(again) != 0 {
		t.Fatalf("after migrating: %v %v", again, err)
	}
	// The new type's batches fill the widened tables; the old type's still can.
	for _, et := range []*schemas.EventType{old, grown} {
		b := et.NewBatch(schemas.Options{Raw: true})
		if err := b.Add([]byte(`{"settlement_id":"s-1","settled_at":"2026-03-01T10:00:00Z","amount":"2.50","currency":"EUR","status":"held","merchant":{"id":"m"},"channel":"pos"}`), &schemas.Meta{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Store(t.Context(), "settlements:"+et.Name()+strconv.Itoa(len(et.Columns())), b.Blocks()); err != nil {
			t.Fatal(err)
		}
	}
	sameRows(t, "widened", queryStrings(t, c, "SELECT channel FROM "+qualified(c.db, "settlements")+" ORDER BY channel"), []string{"", "pos"})
	// The old type's row has no value for the new min measures: their neutral
	// defaults leave the new type's values.
	sameRows(t, "merged view", queryStrings(t, c, "SELECT toString(settlements), toString(amount_min), toString(fee_min), toString(first) FROM "+
		qualified(c.db, "settlements_1m_merged")), []string{"2|2.5|0|2026-03-01 10:00:00.000"})
	bad, err := schemas.ParseEventType("settlements.schema.json", []byte(strings.Replace(string(doc),
		`"x-clickhouse-type": "UInt32"`, `"x-clickhouse-type": "UInt64"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schemas.Evolve(o, bad, existingColumns(t, c)); err == nil || !strings.Contains(err.Error(), "column fee_bps: type UInt32 in the table, UInt64 in the schema") {
		t.Fatalf("incompatible change: %v", err)
	}
}

// A rollup table created before flush markers gets FlushColumn from Evolve on the
// real server (added last to its sorting key), keeps its rows, and then takes
// marked blocks: the merged view counts data rows only, and a repair finds the
// markers.
func TestEvolveAddsFlushColumn(t *testing.T) {
	c := open(t)
	et, _ := testType(t, c, "settlements")
	o := schemas.DDLOptions{Database: c.db}
	table := et.RollupTables(0)[0]
	// The table as it was: no FlushColumn, the sorting key without it.
	exec(t, c, "DROP VIEW "+qualified(c.db, table+"_merged"), "DROP TABLE "+qualified(c.db, table))
	for _, stmt := range schemas.TypeDDL(o, et) {
		if strings.Contains(stmt, "TABLE IF NOT EXISTS "+qualified(c.db, table)+"\n") {
			exec(t, c, strings.NewReplacer(",\n    `_sluice_flush` UInt64", "", ", `_sluice_flush`)", ")").Replace(stmt))
		}
	}
	rec := `{"settlement_id":"s-1","settled_at":"2026-03-01T10:00:00Z","amount":"2.50","currency":"EUR","status":"held","merchant":{"id":"m"}}`
	old := et.NewBatch(schemas.Options{})
	if err := old.Add([]byte(rec), &schemas.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(t.Context(), "before", old.Blocks()); err != nil {
		t.Fatal(err)
	}
	stmts, err := schemas.Evolve(o, et, existingColumns(t, c))
	if err != nil || len(stmts) != 1 || !strings.Contains(stmts[0], "MODIFY ORDER BY") {
		t.Fatalf("Evolve: %q %v", stmts, err)
	}
	exec(t, c, stmts...)
	exec(t, c, schemas.TypeDDL(o, et)...)
	if again, err := schemas.Evolve(o, et, existingColumns(t, c)); err != nil || len(again) != 0 {
		t.Fatalf("after migrating: %v %v", again, err)
	}
	b := et.NewBatch(schemas.Options{})
	if err := b.Add([]byte(rec), &schemas.Meta{}); err != nil {
		t.Fatal(err)
	}
	r := pipeline.Range{Group: "g", Topic: "settlements", First: 7, Last: 7}
	if err := c.Intend(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	b.(schemas.FlushMarker).SetFlush(pipeline.Token(r))
	blocks := b.Blocks()
	if err := c.Store(t.Context(), pipeline.Token(r), blocks); err != nil {
		t.Fatal(err)
	}
	sameRows(t, "merged view", queryStrings(t, c, "SELECT toString(settlements), toString(amount_sum) FROM "+qualified(c.db, table+"_merged")), []string{"2|5"})
	sameRows(t, "rows by "+schemas.FlushColumn, queryStrings(t, c, "SELECT toString("+schemas.FlushColumn+" != 0), toString(count()) FROM "+
		qualified(c.db, table)+" GROUP BY 1 ORDER BY 1"), []string{"0|2", "1|1"})
	if lost, _, err := c.Repair(t.Context(), r, blocks); err != nil || lost != 0 {
		t.Fatalf("Repair: lost %d, %v", lost, err)
	}
}
