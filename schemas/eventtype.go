package schemas

import (
	"strconv"
	"strings"
	"time"
)

// EventType is one event stream compiled from a JSON Schema (draft 2020-12)
// document with an x-sluice block (docs/event-types.md): the properties it
// decodes and validates, the raw table and its columns, and the rollups built from
// it. It is immutable and safe for concurrent use; NewBatch gives each partition
// its own Batch.
//
// Load one with ParseEventType or LoadEventTypes; BuiltinEventTypes returns
// payments and shipments.
type EventType struct {
	name    string // file name without .schema.json
	file    string // file name, for messages
	doc     []byte
	title   string
	topic   string
	table   string
	raw     bool
	eventID *prop // nil: no producer-retry dedup
	evTime  *prop // nil: no windows, no time policy
	orderBy []string
	partBy  string
	ttl     string      // "" or "TTL …" clause body
	props   []*prop     // top-level properties, in document order
	leaves  []*prop     // every column-producing property, in column order
	lookup  *fieldTable // top-level member name → property
	columns []Column    // raw table columns, metadata columns last
	rollups []Rollup
	rolls   []*rollupSpec // compiled rollups, parallel to rollups
	checks  []*prop       // phase-2 presence checks (required non-string leaves), in order
	rules   []*prop       // the leaves with phase-1 rules, in column order
	slots   int           // slots of a recordDecoder: one per property

	// rawTTL is x-sluice.ttl (0: none), which ttl applies.
	rawTTL time.Duration
}

// Column is one ClickHouse column: its name and type as written in DDL and as
// system.columns reports it.
type Column struct {
	Name string
	Type string
}

// Rollup is one rollup table of an EventType: window_start, then Dimensions, then
// Measures, as partial aggregates (SimpleAggregateFunction) exact at any moment.
type Rollup struct {
	// Table is the rollup table's name; empty means RollupTable(the raw table
	// name, the window), the name built-in types use.
	Table string
	// Window is the tumbling window on the event_time property; zero means the
	// deployment's window (Options.Window, DDLOptions.Window).
	Window time.Duration
	// Dimensions are the key columns after window_start, in order.
	Dimensions []Column
	// Measures are the aggregate columns, in document order.
	Measures []Measure
}

// Measure is one aggregate column of a Rollup.
type Measure struct {
	// Column is the measure's column name.
	Column string
	// Func is "count", "sum", "min" or "max".
	Func string
	// Field is the column aggregated ("" for count).
	Field string
	// Type is the column's ClickHouse type, SimpleAggregateFunction(f, T).
	Type string
}

// TableFor returns the rollup's table name when the deployment window is window.
func (r Rollup) TableFor(base string, window time.Duration) string {
	if r.Table != "" {
		return r.Table
	}
	return RollupTable(base, r.WindowFor(window))
}

// WindowFor returns the rollup's window when the deployment window is window
// (zero: DefaultWindow).
func (r Rollup) WindowFor(window time.Duration) time.Duration {
	if r.Window != 0 {
		return r.Window
	}
	if window == 0 {
		return DefaultWindow
	}
	return window
}

// Columns returns the rollup table's columns: window_start, the dimensions, the
// measures.
func (r Rollup) Columns() []Column {
	cols := append([]Column{{"window_start", "DateTime('UTC')"}}, r.Dimensions...)
	for _, m := range r.Measures {
		cols = append(cols, Column{m.Column, m.Type})
	}
	return cols
}

// Name is the type's name: its file name without ".schema.json".
func (t *EventType) Name() string { return t.name }

// File is the file the type was loaded from, as given to ParseEventType.
func (t *EventType) File() string { return t.file }

// Document returns the schema document the type was compiled from. The caller
// must not modify it.
func (t *EventType) Document() []byte { return t.doc }

// Topic is the Kafka topic the type is read from (x-sluice.topic, default title).
func (t *EventType) Topic() string { return t.topic }

// Table is the raw table's name (x-sluice.table, default the topic); rollup tables
// default to names derived from it.
func (t *EventType) Table() string { return t.table }

// Raw reports whether raw rows are stored (x-sluice.raw, default true). NewBatch
// follows Options.Raw; callers pass Raw() there unless the deployment overrides it.
func (t *EventType) Raw() bool { return t.raw }

// RawTTL is how long a raw row is kept after its event time (x-sluice.ttl), or 0
// when raw rows are kept for good.
func (t *EventType) RawTTL() time.Duration { return t.rawTTL }

// EventID is the property whose value deduplicates producer retries, or "" when
// the type has none.
func (t *EventType) EventID() string {
	if t.eventID == nil {
		return ""
	}
	return t.eventID.column
}

// EventTime is the property windows and the time policy use, or "" when the type
// has none.
func (t *EventType) EventTime() string {
	if t.evTime == nil {
		return ""
	}
	return t.evTime.column
}

// Columns returns the raw table's columns, in DDL and Block.Names order: one per
// leaf property (nested objects flattened as parent_child), then _topic,
// _partition, _offset and _ingested_at. The caller must not modify it.
func (t *EventType) Columns() []Column { return t.columns }

// ColumnNames returns the names of Columns.
func (t *EventType) ColumnNames() []string {
	s := make([]string, len(t.columns))
	for i, c := range t.columns {
		s[i] = c.Name
	}
	return s
}

// Rollups returns the type's rollups. The caller must not modify them.
func (t *EventType) Rollups() []Rollup { return t.rollups }

// RollupTables returns the names of the rollup tables when the deployment window
// is window.
func (t *EventType) RollupTables(window time.Duration) []string {
	s := make([]string, len(t.rollups))
	for i, r := range t.rollups {
		s[i] = r.TableFor(t.table, window)
	}
	return s
}

// WithTopic returns a copy of t read from topic instead (a deployment override).
func (t *EventType) WithTopic(topic string) *EventType {
	c := *t
	c.topic = topic
	return &c
}

// WithRaw returns a copy of t whose Raw is raw (a deployment override).
func (t *EventType) WithRaw(raw bool) *EventType {
	c := *t
	c.raw = raw
	return &c
}

// String describes the type in one line, for logs and `sluice schema check`.
func (t *EventType) String() string {
	var sb strings.Builder
	sb.WriteString(t.name + ": topic " + t.topic + ", table " + t.table)
	if !t.raw {
		sb.WriteString(" (no raw rows)")
	}
	for _, r := range t.rollups {
		sb.WriteString(", rollup " + r.TableFor(t.table, 0))
	}
	return sb.String()
}

// Property describes one property of an EventType as the schema declares it, for
// tools that generate or explain events (loadgen --schema, schema check). Bounds are
// the schema's JSON number text, exact; "" when absent.
type Property struct {
	// Name is the member name; Path the dotted path from the event (parent.child),
	// which Invalid.Field uses; Column the raw column ("" for an object, whose
	// properties have their own columns).
	Name, Path, Column string
	// Type is "string", "integer", "number", "boolean", "object" (declared
	// properties), "map" (additionalProperties of strings) or "array".
	Type string
	// Nullable is set when the type list includes "null".
	Nullable bool
	// Required is set when the property is in its object's required list.
	Required bool
	// Format is "date-time" or ""; Time is x-sluice-time ("unix_s", "unix_ms" or "").
	Format, Time string
	// ClickHouse is the column's type (inferred or x-clickhouse-type).
	ClickHouse string
	// Enum lists the allowed strings (nil: any).
	Enum []string
	// Minimum, Maximum, ExclusiveMinimum, ExclusiveMaximum bound numbers.
	Minimum, Maximum, ExclusiveMinimum, ExclusiveMaximum string
	// MinLength and MaxLength bound strings in UTF-8 bytes (0: none; the batch's
	// Limits.MaxStringBytes bounds them too, except the event id's).
	MinLength, MaxLength int
	// Pattern is an RE2 regular expression strings must match ("" : none).
	Pattern string
	// MaxItems bounds an array, MaxProperties a map (0: none; a map has at most
	// Limits.MaxMetadataEntries entries too).
	MaxItems, MaxProperties int
	// Items describes an array's elements; Properties an object's members.
	Items      *Property
	Properties []Property
}

// Properties returns the type's top-level properties in document order.
func (t *EventType) Properties() []Property {
	out := make([]Property, len(t.props))
	for i, p := range t.props {
		out[i] = p.describe()
	}
	return out
}

// Describe lays out the tables the type implies when the deployment window is
// window, one column per line, for `sluice schema check`:
//
//	settlements.schema.json: topic "settlements", event_id settlement_id, event_time settled_at
//	  settlements: raw, ORDER BY (merchant_id, settled_at), PARTITION BY toYYYYMM(settled_at)
//	    settlement_id  String
//	    …
//	  settlements_1m: rollup, window 1m, view settlements_1m_merged
//	    window_start   DateTime('UTC')
//	    merchant_id    String                                 dimension
//	    settlements    SimpleAggregateFunction(sum, UInt64)   count()
func (t *EventType) Describe(window time.Duration) string {
	var sb strings.Builder
	sb.WriteString(t.file + ": topic " + strconv.Quote(t.topic))
	if t.eventID != nil {
		sb.WriteString(", event_id " + t.eventID.column)
	}
	if t.evTime != nil {
		sb.WriteString(", event_time " + t.evTime.column)
	}
	sb.WriteByte('\n')
	table := func(name, what string, cols []Column, notes []string) {
		sb.WriteString("  " + name + ": " + what + "\n")
		w, tw := 0, 0
		for _, c := range cols {
			w, tw = max(w, len(c.Name)), max(tw, len(c.Type))
		}
		for i, c := range cols {
			line := "    " + c.Name + strings.Repeat(" ", w-len(c.Name)+2) + c.Type
			if i < len(notes) && notes[i] != "" {
				line += strings.Repeat(" ", tw-len(c.Type)+2) + notes[i]
			}
			sb.WriteString(line + "\n")
		}
	}
	if t.raw {
		spec := t.rawSpec()
		what := "raw, ORDER BY " + spec.order
		if spec.partition != "" {
			what += ", PARTITION BY " + spec.partition
		}
		if spec.ttl != "" {
			what += ", TTL " + spec.ttl
		}
		table(t.table, what, t.columns, nil)
	} else {
		sb.WriteString("  no raw table (x-sluice.raw is false)\n")
	}
	for _, r := range t.rollups {
		name := r.TableFor(t.table, window)
		w := windowText(r.WindowFor(window))
		if r.Window == 0 {
			w += " (SLUICE_WINDOW)"
		}
		notes := []string{""}
		for range r.Dimensions {
			notes = append(notes, "dimension")
		}
		for _, m := range r.Measures {
			notes = append(notes, m.Func+"("+m.Field+")")
		}
		table(name, "rollup, window "+w+", view "+name+"_merged", r.Columns(), notes)
	}
	return sb.String()
}
