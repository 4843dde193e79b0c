package schemas

import (
	"errors"
	"strings"
	"testing"
)

// riderPings is a valid document the diagnostics cases break one way each.
const riderPings = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "rider_pings",
  "type": "object",
  "required": ["ping_id", "at", "rider_id", "city"],
  "properties": {
    "ping_id": {"type": "string", "maxLength": 64},
    "at": {"type": "string", "format": "date-time"},
    "rider_id": {"type": "string"},
    "city": {"type": "string", "x-clickhouse-type": "LowCardinality(String)"},
    "speed_kmh": {"type": ["number", "null"], "minimum": 0},
    "battery": {"type": "integer", "minimum": 0, "maximum": 100, "x-clickhouse-type": "UInt8"},
    "geo": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
    "plate": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{4}$"},
    "labels": {"type": "array", "items": {"type": "string"}}
  },
  "x-sluice": {
    "event_id": "ping_id",
    "event_time": "at",
    "rollups": [
      {"window": "5m", "dimensions": ["city", "rider_id"], "measures": {"pings": "count()", "speed_max": "max(speed_kmh)"}}
    ]
  }
}`

func TestRiderPingsCompiles(t *testing.T) {
	et := mustType(t, "rider_pings.schema.json", riderPings)
	if et.Topic() != "rider_pings" || et.Table() != "rider_pings" || et.RollupTables(0)[0] != "rider_pings_5m" {
		t.Fatalf("%v", et)
	}
}

// TestSchemaMistakes breaks the document one way per case: each mistake is
// reported with the file, the JSON pointer, what is wrong and the fix.
func TestSchemaMistakes(t *testing.T) {
	for _, c := range []struct {
		name     string
		old, new string
		want     string
	}{
		{"unknown dimension", `"dimensions": ["city", "rider_id"]`, `"dimensions": ["city", "citty"]`,
			`rider_pings.schema.json: /x-sluice/rollups/0/dimensions/1: "citty" is not a property; did you mean "city"?`},
		{"measure on a string", `"max(speed_kmh)"`, `"sum(city)"`,
			`/x-sluice/rollups/0/measures/speed_max: sum(city): "city" is a LowCardinality(String) column, not a number; aggregate an integer, number or decimal property`},
		{"unknown measure function", `"max(speed_kmh)"`, `"avg(speed_kmh)"`,
			`/x-sluice/rollups/0/measures/speed_max: unknown measure function "avg"; use count(), sum(f), min(f) or max(f)`},
		{"measure typo", `"max(speed_kmh)"`, `"mx(speed_kmh)"`,
			`unknown measure function "mx"; did you mean "max(speed_kmh)"?`},
		{"bad window", `"window": "5m"`, `"window": "5 minutes"`,
			`/x-sluice/rollups/0/window: window "5 minutes" is not a duration; write it like "1m", "5m", "1h" or "1d"`},
		{"window not dividing a day", `"window": "5m"`, `"window": "7m"`,
			`/x-sluice/rollups/0/window: window 7m does not divide 24h`},
		{"window under a second", `"window": "5m"`, `"window": "1500ms"`,
			`/x-sluice/rollups/0/window: window 1500ms is not a whole number of seconds`},
		{"event_time not a date-time", `"event_time": "at"`, `"event_time": "city"`,
			`/x-sluice/event_time: event_time "city" is not a date-time; name a property with "format": "date-time"`},
		{"event_time not required", `"required": ["ping_id", "at", "rider_id", "city"]`, `"required": ["ping_id", "rider_id", "city"]`,
			`/x-sluice/event_time: event_time "at" is not a required top-level property; add it to the top-level required list`},
		{"event_id not a string", `"event_id": "ping_id"`, `"event_id": "battery"`,
			`/x-sluice/event_id: event_id "battery" is a integer, not a string; name a string property`},
		{"event_id too long", `"ping_id": {"type": "string", "maxLength": 64}`, `"ping_id": {"type": "string", "maxLength": 100}`,
			`/properties/ping_id/maxLength: event_id allows 100 bytes; use maxLength ≤ 64`},
		{"incompatible x-clickhouse-type", `"x-clickhouse-type": "LowCardinality(String)"`, `"x-clickhouse-type": "UInt32"`,
			`/properties/city/x-clickhouse-type: x-clickhouse-type UInt32 does not fit a string property; use String or LowCardinality(String)`},
		{"unknown x-clickhouse-type", `"x-clickhouse-type": "UInt8"`, `"x-clickhouse-type": "Uint8"`,
			`/properties/battery/x-clickhouse-type: x-clickhouse-type "Uint8" is not a type Sluice can fill; did you mean "UInt8"?`},
		{"unsigned without minimum", `"minimum": 0, "maximum": 100, "x-clickhouse-type": "UInt8"`, `"maximum": 100, "x-clickhouse-type": "UInt8"`,
			`/properties/battery: UInt8 cannot hold negative values but the schema allows them; add "minimum": 0`},
		{"bound beyond the type", `"minimum": 0, "maximum": 100, "x-clickhouse-type": "UInt8"`, `"minimum": 300, "x-clickhouse-type": "UInt8"`,
			`/properties/battery/minimum: minimum 300 is above what UInt8 holds`},
		{"repeated member", `"minimum": 0, "maximum": 100`, `"minimum": 0, "minimum": 1`,
			`rider_pings.schema.json: /properties/battery/minimum: member "minimum" appears twice; keep one of them`},
		{"decimal too wide", `"x-clickhouse-type": "UInt8"`, `"x-clickhouse-type": "Decimal(38, 2)"`,
			`/properties/battery/x-clickhouse-type: x-clickhouse-type Decimal(38, 2) is not a Decimal(P, S) with 1 ≤ P ≤ 18`},
		{"duplicate column after flattening", `"rider_id": {"type": "string"},`, `"rider_id": {"type": "string"}, "geo_lat": {"type": "number"},`,
			`/properties/geo/properties/lat: column "geo_lat" of "geo.lat" is also the column of "geo_lat"; rename one of them`},
		{"invalid column name", `"rider_id": {"type": "string"},`, `"rider_id": {"type": "string"}, "ride-id": {"type": "string"},`,
			`/properties/ride-id: column "ride-id" is not a valid ClickHouse identifier; rename the property`},
		{"invalid table name", `"event_id": "ping_id",`, `"event_id": "ping_id", "table": "rider pings",`,
			`/x-sluice/table: table "rider pings" is not a valid ClickHouse identifier`},
		{"bad pattern", `"^[A-Z]{2}[0-9]{4}$"`, `"^[A-Z]{2}([0-9]{4}$"`,
			`/properties/plate/pattern: pattern is not a valid RE2 regular expression`},
		{"lookahead pattern", `"^[A-Z]{2}[0-9]{4}$"`, `"^(?=A)"`,
			`/properties/plate/pattern: pattern is not a valid RE2 regular expression`},
		{"array of objects", `"items": {"type": "string"}`, `"items": {"type": "object", "properties": {"a": {"type": "string"}}}`,
			`/properties/labels/items: arrays of objects or arrays are not supported`},
		{"rollup without event_time", `"event_time": "at",`, ``,
			`/x-sluice/rollups: rollups need event_time (the field windows use); set x-sluice.event_time`},
		{"missing topic and title", `"title": "rider_pings",`, ``,
			`rider_pings.schema.json: /x-sluice/topic: the type has neither x-sluice.topic nor a title; add "topic"`},
		{"title is not a topic", `"title": "rider_pings",`, `"title": "Rider pings",`,
			`/title: the title "Rider pings" is not a Kafka topic name, and x-sluice.topic is not set`},
		{"unsupported keyword", `"rider_id": {"type": "string"}`, `"rider_id": {"type": "string", "oneOf": []}`,
			`/properties/rider_id/oneOf: keyword "oneOf" is not supported`},
		{"keyword typo", `"ping_id": {"type": "string", "maxLength": 64}`, `"ping_id": {"type": "string", "maxLenght": 64}`,
			`/properties/ping_id/maxLenght: keyword "maxLenght" is not allowed here; did you mean "maxLength"?`},
		{"keyword of another type", `"rider_id": {"type": "string"}`, `"rider_id": {"type": "string", "minimum": 1}`,
			`/properties/rider_id/minimum: keyword "minimum" is not allowed here; it does not apply here`},
		{"unsupported type", `"rider_id": {"type": "string"}`, `"rider_id": {"type": ["string", "number"]}`,
			`/properties/rider_id/type: unsupported type "number,string"; a decimal given as a number or a string needs "x-clickhouse-type": "Decimal(P, S)"`},
		{"required but undeclared", `"required": ["ping_id", "at", "rider_id", "city"]`, `"required": ["ping_id", "at", "rider_id", "city", "cty"]`,
			`/required/4: "cty" is required but not a property; did you mean "city"?`},
		{"x-sluice typo", `"rollups": [`, `"rolups": [`,
			`/x-sluice/rolups: x-sluice has no field "rolups"; did you mean "rollups"?`},
		{"closed object", `"properties": {"lat"`, `"additionalProperties": false, "properties": {"lat"`,
			`/properties/geo/additionalProperties: a nested object with properties cannot also restrict additionalProperties`},
		{"draft 7", `"https://json-schema.org/draft/2020-12/schema"`, `"http://json-schema.org/draft-07/schema#"`,
			`/$schema: only JSON Schema draft 2020-12 is supported`},
		{"float dimension", `"dimensions": ["city", "rider_id"]`, `"dimensions": ["city", "speed_kmh"]`,
			`/x-sluice/rollups/0/dimensions/1: dimension "speed_kmh" is a Float64 column; group by strings, integers or booleans`},
		{"no measures", `"measures": {"pings": "count()", "speed_max": "max(speed_kmh)"}`, `"measures": {}`,
			`/x-sluice/rollups/0/measures: a rollup needs measures`},
		{"measure named like a dimension", `"pings": "count()"`, `"city": "count()"`,
			`/x-sluice/rollups/0/measures/city: measure column "city" is also a dimension or window_start; rename the measure`},
		{"reserved column", `"rider_id": {"type": "string"},`, `"rider_id": {"type": "string"}, "_offset": {"type": "integer"},`,
			`/properties/_offset: column "_offset" is reserved for Kafka provenance`},
		{"ttl without unit", `"event_time": "at",`, `"event_time": "at", "ttl": "30",`,
			`/x-sluice/ttl: ttl "30" is not a duration`},
		{"objects too deep", `"geo": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}}`,
			`"geo": ` + strings.Repeat(`{"type": "object", "properties": {"g": `, 17) + `{"type": "number"}` + strings.Repeat(`}}`, 17),
			`/properties/geo/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g/properties/g: objects nest more than 16 deep; flatten the schema`},
		{"not json", `"x-sluice": {`, `"x-sluice": {,`,
			`rider_pings.schema.json: not valid JSON: at byte`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(riderPings, c.old) {
				t.Fatalf("the base document has no %q", c.old)
			}
			doc := strings.Replace(riderPings, c.old, c.new, 1)
			_, err := ParseEventType("dir/rider_pings.schema.json", []byte(doc))
			var errs SchemaErrors
			if !errors.As(err, &errs) {
				t.Fatalf("got %v, want SchemaErrors", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("errors:\n%v\nwant one containing\n%s", err, c.want)
			}
			for _, e := range errs {
				if e.File != "rider_pings.schema.json" || e.Msg == "" || e.Fix == "" {
					t.Errorf("incomplete error %#v", e)
				}
			}
		})
	}
}

// TestSchemaMistakesAllAtOnce: every mistake of a document is reported, not only
// the first.
func TestSchemaMistakesAllAtOnce(t *testing.T) {
	doc := strings.NewReplacer(`"dimensions": ["city", "rider_id"]`, `"dimensions": ["citty"]`,
		`"window": "5m"`, `"window": "7m"`, `"x-clickhouse-type": "UInt8"`, `"x-clickhouse-type": "UInt9"`).Replace(riderPings)
	_, err := ParseEventType("rider_pings.schema.json", []byte(doc))
	var errs SchemaErrors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("got %d errors:\n%v", len(errs), err)
	}
}
