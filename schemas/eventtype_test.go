package schemas

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// containsAll fails for each of wants that got lacks.
func containsAll(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(got, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, got)
		}
	}
}

func settlementsType(t testing.TB) *EventType {
	t.Helper()
	doc, err := os.ReadFile("testdata/types/settlements.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return mustType(t, "settlements.schema.json", string(doc))
}

func TestSettlementsColumns(t *testing.T) {
	et := settlementsType(t)
	var got []string
	for _, c := range et.Columns() {
		got = append(got, c.Name+" "+c.Type)
	}
	want := []string{
		"settlement_id String", "settled_at DateTime64(3, 'UTC')", "amount Decimal(18, 2)",
		"currency LowCardinality(String)", "status LowCardinality(String)", "merchant_id String",
		"merchant_country LowCardinality(String)", "merchant_mcc UInt16", "fee_bps UInt32",
		"tags Array(String)", "attributes Map(String, String)", "instant Bool", "note String",
		"_topic LowCardinality(String)", "_topic_id LowCardinality(String)", "_partition Int32", "_offset Int64",
		"_ingested_at DateTime64(3, 'UTC')", "_timestamp DateTime64(3, 'UTC')",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("columns\n%v\nwant\n%v", got, want)
	}
	if tables := et.RollupTables(0); !reflect.DeepEqual(tables, []string{"settlements_1m", "settlements_by_country_1h"}) {
		t.Fatalf("rollup tables %v", tables)
	}
	var rcols []string
	for _, c := range et.Rollups()[1].Columns() {
		rcols = append(rcols, c.Name+" "+c.Type)
	}
	wantR := []string{"window_start DateTime('UTC')", "merchant_country LowCardinality(String)", "instant Bool",
		"settlements SimpleAggregateFunction(sum, UInt64)", "amount_sum SimpleAggregateFunction(sum, Decimal(38, 2))",
		"fee_bps_max SimpleAggregateFunction(max, UInt64)"}
	if !reflect.DeepEqual(rcols, wantR) {
		t.Fatalf("rollup columns\n%v\nwant\n%v", rcols, wantR)
	}
	props := et.Properties()
	if len(props) != 11 || props[5].Name != "merchant" || props[5].Type != "object" || props[5].Properties[2].Column != "merchant_mcc" ||
		props[7].Items == nil || props[7].Items.Type != "string" || props[1].Time != "unix_ms" || props[2].ClickHouse != "Decimal(18, 2)" {
		t.Fatalf("properties %+v", props)
	}
}

const settlement = `{"settlement_id":"s-1","settled_at":"2026-03-01T10:15:30.5Z","amount":"1234.50","currency":"EUR",` +
	`"status":"settled","merchant":{"id":"m-1","country":"DE","mcc":5411,"extra":{"x":[1]}},"fee_bps":120,` +
	`"tags":["ecom","3ds"],"attributes":{"terminal":"t-9"},"instant":true,"note":null}`

func TestSettlementsBatch(t *testing.T) {
	et := settlementsType(t)
	b := et.NewBatch(Options{Raw: true})
	recs := []string{
		settlement,
		// Epoch milliseconds, a JSON number amount, optional fields absent.
		`{"settlement_id":"s-2","settled_at":1772360130000,"amount":0.5,"currency":"EUR","status":"held","merchant":{"id":"m-1"}}`,
		with(with(settlement, "settlement_id", `"s-3"`), "amount", `1e2`),
	}
	for i, r := range recs {
		if err := b.Add([]byte(r), &Meta{Topic: "settlements", Offset: int64(i)}); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
	}
	blocks := b.Blocks()
	raw := blockByTable(t, blocks, "settlements")
	check := func(name string, want any) {
		t.Helper()
		if got := PlainColumn(blockColumn(raw, name)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("amount", []string{"1234.50", "0.50", "100.00"})
	check("settled_at", []time.Time{time.Date(2026, 3, 1, 10, 15, 30, 5e8, time.UTC), time.UnixMilli(1772360130000).UTC(), time.Date(2026, 3, 1, 10, 15, 30, 5e8, time.UTC)})
	check("merchant_id", []string{"m-1", "m-1", "m-1"})
	check("merchant_country", []string{"DE", "", "DE"})
	check("merchant_mcc", []uint16{5411, 0, 5411})
	check("fee_bps", []uint32{120, 0, 120})
	check("tags", []any{[]string{"ecom", "3ds"}, []string{}, []string{"ecom", "3ds"}})
	check("attributes", []map[string]string{{"terminal": "t-9"}, nil, {"terminal": "t-9"}})
	check("instant", []bool{true, false, true})
	check("note", []string{"", "", ""})
	if _, ok := blockColumn(raw, "amount").(DecimalColumn); !ok {
		t.Errorf("amount column is %T", blockColumn(raw, "amount"))
	}

	m := blockByTable(t, blocks, "settlements_1m")
	// Sorted by key: held before settled in the same window.
	if got := col[string](m, "status"); !reflect.DeepEqual(got, []string{"held", "settled"}) {
		t.Errorf("1m status %v", got)
	}
	if got := PlainColumn(blockColumn(m, "amount_sum")); !reflect.DeepEqual(got, []string{"0.50", "1334.50"}) {
		t.Errorf("1m amount_sum %v", got)
	}
	if got := PlainColumn(blockColumn(m, "amount_max")); !reflect.DeepEqual(got, []string{"0.50", "1234.50"}) {
		t.Errorf("1m amount_max %v", got)
	}
	h := blockByTable(t, blocks, "settlements_by_country_1h")
	if got := col[string](h, "merchant_country"); !reflect.DeepEqual(got, []string{"", "DE"}) {
		t.Errorf("1h countries %v", got)
	}
	if got := col[bool](h, "instant"); !reflect.DeepEqual(got, []bool{false, true}) {
		t.Errorf("1h instant %v", got)
	}
	if got := col[uint64](h, "settlements"); !reflect.DeepEqual(got, []uint64{1, 2}) {
		t.Errorf("1h settlements %v", got)
	}
	if got := col[uint64](h, "fee_bps_max"); !reflect.DeepEqual(got, []uint64{0, 120}) {
		t.Errorf("1h fee_bps_max %v", got)
	}
	if got := col[time.Time](h, "window_start"); !got[0].Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("1h window %v", got)
	}
	row, err := et.Decode([]byte(settlement), Limits{})
	if err != nil || row["merchant_mcc"] != uint16(5411) || row["amount"] != "1234.50" || row["instant"] != true {
		t.Fatalf("Decode: %v %v", row, err)
	}
}

func TestSettlementsRejects(t *testing.T) {
	et := settlementsType(t)
	s := settlement
	for _, c := range []rejectCase{
		{"3 decimal places", with(s, "amount", `"1.005"`), ReasonOutOfRange, "amount"},
		{"trailing zeros fine, precision not", with(s, "amount", `12345678901234567.00`), ReasonOutOfRange, "amount"},
		{"decimal garbage", with(s, "amount", `"12.5x"`), ReasonBadFormat, "amount"},
		{"decimal exponent string", with(s, "amount", `"1e2"`), ReasonBadFormat, "amount"},
		{"negative amount", with(s, "amount", `"-1.00"`), ReasonOutOfRange, "amount"},
		{"amount bool", with(s, "amount", `true`), ReasonBadType, "amount"},
		{"missing amount", with(s, "amount", ``), ReasonMissingField, "amount"},
		{"bad enum", with(s, "status", `"paid"`), ReasonBadEnum, "status"},
		{"bad currency", with(s, "currency", `"eur"`), ReasonBadFormat, "currency"},
		{"nested missing", with(s, "merchant", `{"country":"DE"}`), ReasonMissingField, "merchant.id"},
		{"merchant missing", with(s, "merchant", `null`), ReasonMissingField, "merchant"},
		{"merchant not object", with(s, "merchant", `"m"`), ReasonBadType, "merchant"},
		{"nested range", with(s, "merchant", `{"id":"m","mcc":10000}`), ReasonOutOfRange, "merchant.mcc"},
		{"nested dup", with(s, "merchant", `{"id":"m","id":"n"}`), ReasonDuplicateField, "merchant.id"},
		{"nested bad utf8", with(s, "merchant", "{\"id\":\"\xff\"}"), ReasonBadUTF8, "merchant.id"},
		{"too many tags", with(s, "tags", `["a","b","c","d","e","f","g","h","i"]`), ReasonTooManyItems, "tags"},
		{"tag too long", with(s, "tags", `["`+strings.Repeat("t", 33)+`"]`), ReasonStringTooLong, "tags"},
		{"tag number", with(s, "tags", `["a",1]`), ReasonBadType, "tags"},
		{"tag null", with(s, "tags", `[null]`), ReasonBadType, "tags"},
		{"tags not array", with(s, "tags", `"a"`), ReasonBadType, "tags"},
		{"tags malformed", with(s, "tags", `["a" "b"]`), ReasonMalformed, ""},
		{"attribute number", with(s, "attributes", `{"a":1}`), ReasonBadType, "attributes.a"},
		{"attribute dup", with(s, "attributes", `{"a":"1","a":"2"}`), ReasonDuplicateField, "attributes"},
		{"instant string", with(s, "instant", `"yes"`), ReasonBadType, "instant"},
		{"fee negative", with(s, "fee_bps", `-1`), ReasonOutOfRange, "fee_bps"},
		{"fee fraction", with(s, "fee_bps", `1.5`), ReasonBadType, "fee_bps"},
		{"epoch fraction", with(s, "settled_at", `1772360130000.5`), ReasonBadType, "settled_at"},
		{"epoch negative", with(s, "settled_at", `-1`), ReasonOutOfRange, "settled_at"},
		{"time bool", with(s, "settled_at", `true`), ReasonBadType, "settled_at"},
		{"time bad", with(s, "settled_at", `"2026-03-01"`), ReasonBadTimestamp, "settled_at"},
		{"time before 1970", with(s, "settled_at", `"1969-12-31T23:59:59Z"`), ReasonOutOfRange, "settled_at"},
		{"time in year 1500", with(s, "settled_at", `"1500-01-01T00:00:00Z"`), ReasonOutOfRange, "settled_at"},
		{"empty id", with(s, "settlement_id", `""`), ReasonMissingField, "settlement_id"},
		{"id too long", with(s, "settlement_id", `"`+strings.Repeat("i", 65)+`"`), ReasonStringTooLong, "settlement_id"},
		{"dup top", `{"status":"held",` + s[1:], ReasonDuplicateField, "status"},
		{"trailing", s + "{}", ReasonMalformed, ""},
		{"deep unknown", with(s, "x", strings.Repeat("[", 40)+strings.Repeat("]", 40)), ReasonTooDeep, ""},
		{"deep in nested unknown", with(s, "merchant", `{"id":"m","x":`+strings.Repeat("[", 31)+strings.Repeat("]", 31)+`}`), ReasonTooDeep, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkReject(t, c, et.Validate([]byte(c.rec), Limits{}))
			checkReject(t, c, et.NewBatch(Options{Raw: true}).Add([]byte(c.rec), &Meta{}))
		})
	}
	// Valid variations.
	for _, r := range []string{
		with(s, "amount", `"0.1"`), with(s, "amount", `12.300`), with(s, "amount", `1.5e1`),
		with(s, "merchant", `{"id":"m","mcc":null,"country":null}`), with(s, "tags", `[]`), with(s, "tags", `null`),
		with(s, "attributes", `{}`), with(s, "settled_at", `"2026-03-01T10:15:30+01:00"`),
	} {
		if err := et.Validate([]byte(r), Limits{}); err != nil {
			t.Errorf("%s: %v", r, err)
		}
		if _, err := et.Decode([]byte(r), Limits{}); err != nil {
			t.Errorf("%s: %v", r, err)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	for _, c := range []struct {
		in          string
		exp         bool
		prec, scale int
		want        int64
		ok          bool
	}{
		{"0", false, 18, 2, 0, true},
		{"-0.00", false, 18, 2, 0, true},
		{"12.34", false, 18, 2, 1234, true},
		{"12.340000", false, 18, 2, 1234, true},
		{"12.345", false, 18, 2, 0, false},
		{"9999999999999999.99", false, 18, 2, 999999999999999999, true},
		{"10000000000000000.00", false, 18, 2, 0, false},
		{"1e2", true, 18, 2, 10000, true},
		{"1e2", false, 18, 2, 0, false},
		{"125E-2", true, 18, 2, 125, true},
		{"125e-3", true, 18, 2, 0, false},
		{"1e99999", true, 18, 2, 0, false},
		{"0e99999", true, 18, 2, 0, true},
		{"7", false, 9, 0, 7, true},
		{"-123456789", false, 9, 0, -123456789, true},
		{"1234567890", false, 9, 0, 0, false},
		{".5", false, 18, 2, 0, false},
		{"5.", false, 18, 2, 0, false},
		{"", false, 18, 2, 0, false},
		{"+1", false, 18, 2, 0, false},
	} {
		v, why := parseDecimal([]byte(c.in), c.exp, c.prec, c.scale)
		if (why == "") != c.ok || c.ok && v != c.want {
			t.Errorf("parseDecimal(%q, Decimal(%d, %d)) = %d %q, want %d ok=%v", c.in, c.prec, c.scale, v, why, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		v     int64
		scale int
		want  string
	}{{1234, 2, "12.34"}, {-5, 2, "-0.05"}, {0, 3, "0.000"}, {7, 0, "7"}} {
		if got := formatDecimal(c.v, c.scale); got != c.want {
			t.Errorf("formatDecimal(%d, %d) = %q, want %q", c.v, c.scale, got, c.want)
		}
	}
}

func TestLoadEventTypes(t *testing.T) {
	doc, err := os.ReadFile("testdata/types/settlements.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"settlements.schema.json": {Data: doc},
		"fees.schema.json":        {Data: []byte(feesSchema)},
		"README.md":               {Data: []byte("not a schema")},
	}
	types, err := LoadEventTypes(fsys)
	if err != nil || len(types) != 2 || types[0].Name() != "fees" || types[1].Topic() != "settlements" {
		t.Fatalf("%v %v", types, err)
	}
	// Two files on one topic, and a broken one: every mistake is reported.
	fsys["copy.schema.json"] = &fstest.MapFile{Data: []byte(feesSchema)}
	fsys["broken.schema.json"] = &fstest.MapFile{Data: []byte(`{"type": "object",`)}
	_, err = LoadEventTypes(fsys)
	var errs SchemaErrors
	if !errors.As(err, &errs) || len(errs) != 4 {
		t.Fatalf("got %v", err)
	}
	containsAll(t, "the error", err.Error(), "broken.schema.json: not valid JSON: unexpected end of the document",
		`fees.schema.json: /x-sluice/topic: topic "fees" is also read by copy.schema.json`, "table \"fees\" is also written by copy.schema.json")
	if _, err := LoadEventTypes(fstest.MapFS{}); err == nil {
		t.Fatal("empty directory accepted")
	}
}

// TestEveryColumnKind decodes one record of a type with every column kind and
// checks the Go type and value of each Block column, and of time and integer
// measures.
func TestEveryColumnKind(t *testing.T) {
	doc, err := os.ReadFile("testdata/types/kinds.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	et := mustType(t, "kinds.schema.json", string(doc))
	rec := `{"at":1772360130,"i8":-8,"i16":-16,"i32":-32,"u8":8,"u64":64,"f32":1.5,"d":-1.25,"ints":[1,-2],` +
		`"floats":[0.5],"flags":[true,false],"times":["2026-03-01T00:00:00Z"],"decs":["1.5","-2"],"codes":["b","a","b"]}`
	b := et.NewBatch(Options{Raw: true})
	if err := b.Add([]byte(rec), &Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Add([]byte(`{"at":1772360131,"i8":-8,"u8":8,"i32":5,"u64":1,"f32":2}`), &Meta{}); err != nil {
		t.Fatal(err)
	}
	raw := blockByTable(t, b.Blocks(), "kinds")
	at := time.Unix(1772360130, 0).UTC()
	for name, want := range map[string]any{
		"at": []time.Time{at, at.Add(time.Second)}, "i8": []int8{-8, -8}, "i16": []int16{-16, 0}, "i32": []int32{-32, 5},
		"u8": []uint8{8, 8}, "u64": []uint64{64, 1}, "f32": []float32{1.5, 2}, "d": []string{"-1.250", "0.000"},
		"ints": []any{[]int32{1, -2}, []int32{}}, "floats": []any{[]float64{0.5}, []float64{}},
		"flags": []any{[]bool{true, false}, []bool{}}, "times": []any{[]time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}, []time.Time{}},
		"decs": []any{[]string{"1.5", "-2.0"}, []string{}}, "codes": []any{[]string{"b", "a", "b"}, []string{}},
	} {
		if got := PlainColumn(blockColumn(raw, name)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	if c, ok := blockColumn(raw, "codes").(ArrayColumn); !ok || reflect.TypeOf(c.Values) != reflect.TypeFor[DictColumn]() {
		t.Errorf("codes column %#v", blockColumn(raw, "codes"))
	}
	roll := blockByTable(t, b.Blocks(), "kinds_1d")
	for name, want := range map[string]any{
		"i8": []int8{-8}, "u8": []uint8{8}, "first": []time.Time{at}, "last": []time.Time{at.Add(time.Second)},
		"i32_min": []int64{-32}, "u64_sum": []uint64{65}, "f32_max": []float64{2},
	} {
		if got := PlainColumn(blockColumn(roll, name)); !reflect.DeepEqual(got, want) {
			t.Errorf("rollup %s = %#v, want %#v", name, got, want)
		}
	}
	for _, c := range []rejectCase{
		{"i8 range", with(rec, "i8", "128"), ReasonOutOfRange, "i8"},
		{"u8 range", with(rec, "u8", "256"), ReasonOutOfRange, "u8"},
		{"f32 range", with(rec, "f32", "1e39"), ReasonOutOfRange, "f32"},
		{"decimal precision", with(rec, "d", "1234567.5"), ReasonOutOfRange, "d"},
		{"enum in array", with(rec, "codes", `["z"]`), ReasonBadEnum, "codes"},
		{"time in array", with(rec, "times", `["x"]`), ReasonBadTimestamp, "times"},
		{"epoch string", with(rec, "at", `"1772360130"`), ReasonBadType, "at"},
		{"epoch beyond 2106", with(rec, "at", `4354819200`), ReasonOutOfRange, "at"},
	} {
		checkReject(t, c, et.Validate([]byte(c.rec), Limits{}))
	}
}

func TestDescribe(t *testing.T) {
	containsAll(t, "Describe", settlementsType(t).Describe(0),
		"settlements.schema.json: topic \"settlements\", event_id settlement_id, event_time settled_at\n",
		"  settlements: raw, ORDER BY (merchant_id, settled_at), PARTITION BY toYYYYMM(settled_at), TTL toDateTime(`settled_at`) + INTERVAL 34560000 SECOND\n",
		"    merchant_mcc      UInt16\n",
		"  settlements_1m: rollup, window 1m, view settlements_1m_merged\n",
		"    status        LowCardinality(String)                        dimension\n",
		"    amount_sum    SimpleAggregateFunction(sum, Decimal(38, 2))  sum(amount)\n",
		"  settlements_by_country_1h: rollup, window 1h, view settlements_by_country_1h_merged\n",
		"    fee_bps_max       SimpleAggregateFunction(max, UInt64)          max(fee_bps)\n",
	)
	pay := BuiltinType(t, "payment").Describe(5 * time.Minute)
	if !strings.Contains(pay, "  payments_5m: rollup, window 5m (SLUICE_WINDOW), view payments_5m_merged\n") {
		t.Errorf("payments:\n%s", pay)
	}
}
