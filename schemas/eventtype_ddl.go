package schemas

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TypeDDL returns the statements that create the database and, for each type, its
// raw table (when Raw), its rollup tables and their *_merged views, like DDL does
// for the built-in types (the same engines, ORDER BY, deduplication settings and
// cluster variant; o.RawPayments and o.RawShipments are ignored: each type's Raw
// decides). Raw tables come first, then each rollup table followed by its view.
// Every statement is idempotent. It panics on an invalid o, like DDL.
func TypeDDL(o DDLOptions, types ...*EventType) []string { return typeDDL(o, types) }

// IncompatibleColumn is a change to an existing table that ALTER TABLE … ADD COLUMN
// cannot make: a column whose type changed, a column the schema no longer has, or a
// new key column of a rollup table. Fix says what to do instead.
type IncompatibleColumn struct {
	Table, Column string
	// Have is the table's type ("" when the table lacks the column); Want is the
	// schema's ("" when the schema dropped it).
	Have, Want string
	Fix        string
}

func (e *IncompatibleColumn) Error() string {
	s := "table " + e.Table + ", column " + e.Column + ": "
	switch {
	case e.Have == "":
		s += "new key column " + e.Want + " cannot be added"
	case e.Want == "":
		s += "the schema no longer has this " + e.Have + " column"
	default:
		s += "type " + e.Have + " in the table, " + e.Want + " in the schema"
	}
	return s + "; " + e.Fix
}

// Evolve compares t's tables with the tables that exist: existing maps a table name
// (as TypeDDL names it: the Distributed table on a cluster) to its columns, name →
// type as system.columns reports them; a table absent from existing is left to
// TypeDDL's CREATE. It returns the ALTER TABLE … ADD COLUMN IF NOT EXISTS statements
// for compatible additions (new raw columns, new measures), to run before TypeDDL,
// which then creates the new tables and replaces the merged views with ones that
// read the new measures. Incompatible changes are returned as an error joining one
// *IncompatibleColumn per column, and no statement. It is pure.
func Evolve(o DDLOptions, t *EventType, existing map[string]map[string]string) ([]string, error) {
	return evolve(o, t, existing)
}

func typeDDL(o DDLOptions, types []*EventType) []string {
	o, t := o.tables()
	stmts := []string{t.createDatabase()}
	for _, et := range types {
		if et.raw {
			stmts = append(stmts, t.create(et.table, asColumns(et.columns), et.rawSpec())...)
		}
	}
	for _, et := range types {
		for i, r := range et.rollups {
			table, cols, spec := et.rollupTable(i, o.Window)
			stmts = append(stmts, t.createRollup(table, cols, 1+len(r.Dimensions), spec)...)
		}
	}
	return stmts
}

// rawSpec is how the raw table is stored: x-sluice's partition_by, order_by and
// ttl; sharded by the first ORDER BY column (else event_id, else _offset, which a
// replay sends to the same shard again).
func (t *EventType) rawSpec() tableSpec {
	order := "tuple()"
	if len(t.orderBy) > 0 {
		names := make([]string, len(t.orderBy))
		for i, c := range t.orderBy {
			names[i] = orderIdent(c)
		}
		order = "(" + strings.Join(names, ", ") + ")"
	}
	shard := "_offset"
	switch {
	case len(t.orderBy) > 0:
		shard = t.orderBy[0]
	case t.eventID != nil:
		shard = t.eventID.column
	}
	return tableSpec{engine: "MergeTree", partition: t.partBy, order: order, ttl: t.ttl, shardBy: shard}
}

// rollupTable is rollup i's table name, columns and storage when the deployment
// window is window: ordered by window_start and the dimensions, partitioned by
// month, sharded by the first dimension (else window_start).
func (t *EventType) rollupTable(i int, window time.Duration) (string, []column, tableSpec) {
	r := t.rollups[i]
	cols := asColumns(r.Columns())
	keys := make([]string, 1+len(r.Dimensions))
	for j, c := range cols[:len(keys)] {
		keys[j] = quoteIdent(c.name)
	}
	shard := "window_start"
	if len(r.Dimensions) > 0 {
		shard = r.Dimensions[0].Name
	}
	return r.TableFor(t.table, window), cols, tableSpec{engine: "AggregatingMergeTree",
		partition: rollupPartition, order: "(" + strings.Join(keys, ", ") + ")", shardBy: shard}
}

func asColumns(cs []Column) []column {
	out := make([]column, len(cs))
	for i, c := range cs {
		out[i] = column{c.Name, c.Type}
	}
	return out
}

// sqlKeywords are quoted where ORDER BY names a column; other names stay bare, as
// the built-in tables have always written them.
var sqlKeywords = map[string]bool{
	"all": true, "and": true, "as": true, "asc": true, "by": true, "case": true, "desc": true,
	"distinct": true, "else": true, "end": true, "from": true, "group": true, "having": true,
	"in": true, "index": true, "is": true, "join": true, "key": true, "like": true, "limit": true,
	"not": true, "null": true, "or": true, "order": true, "primary": true, "select": true,
	"table": true, "then": true, "to": true, "when": true, "where": true, "with": true,
}

func orderIdent(s string) string {
	if sqlKeywords[strings.ToLower(s)] {
		return quoteIdent(s)
	}
	return s
}

func evolve(o DDLOptions, et *EventType, existing map[string]map[string]string) ([]string, error) {
	o, t := o.tables()
	var stmts []string
	var errs []error
	alter := func(table string, cols []column, keys int, fix string) {
		have, ok := existing[table]
		if !ok {
			return
		}
		want := map[string]bool{}
		for i, c := range cols {
			want[c.name] = true
			typ, ok := have[c.name]
			switch {
			case ok && normalType(typ) != normalType(c.typ):
				errs = append(errs, &IncompatibleColumn{Table: table, Column: c.name, Have: typ, Want: c.typ,
					Fix: "ClickHouse cannot change a column's type in place; add a new property (a new column) instead, or " + fix})
			case ok:
			case i < keys:
				errs = append(errs, &IncompatibleColumn{Table: table, Column: c.name, Want: c.typ,
					Fix: "a new dimension changes the rollup's key; " + fix})
			default:
				for _, tbl := range t.alterTargets(table) {
					stmts = append(stmts, "ALTER TABLE "+quoteIdent(t.db)+"."+quoteIdent(tbl)+t.onCluster(" ")+
						" ADD COLUMN IF NOT EXISTS "+quoteIdent(c.name)+" "+c.typ+neutralDefault(c.typ)+" AFTER "+quoteIdent(cols[i-1].name))
				}
			}
		}
		for name, typ := range have {
			if !want[name] && (keys == 0 || name != FlushColumn) {
				errs = append(errs, &IncompatibleColumn{Table: table, Column: name, Have: typ,
					Fix: "keep the property in the schema (old rows and instances still use it), or " + fix})
			}
		}
	}
	if et.raw {
		alter(et.table, asColumns(et.columns), 0, "write the type to a new raw table (x-sluice.table)")
	}
	for i, r := range et.rollups {
		table, cols, spec := et.rollupTable(i, o.Window)
		alter(table, cols, 1+len(r.Dimensions), "give the rollup a new table (x-sluice.rollups/"+strconv.Itoa(i)+"/table) and drop the old one once nothing reads it")
		if have, ok := existing[table]; ok {
			if _, marked := have[FlushColumn]; !marked {
				stmts = append(stmts, t.addFlushColumn(table, spec)...)
			}
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	return stmts, nil
}

// neutralDefault is the DEFAULT clause of a new min or max measure: a value every
// event's beats, so that the rows written before the column existed (or by
// instances still on the old schema) do not change the minimum or maximum. Other
// columns default to ClickHouse's zero values, which sums and counts ignore.
func neutralDefault(typ string) string {
	rest, ok := strings.CutPrefix(typ, "SimpleAggregateFunction(")
	if !ok {
		return ""
	}
	fn, base, _ := strings.Cut(strings.TrimSuffix(rest, ")"), ", ")
	if fn != "min" && fn != "max" {
		return ""
	}
	var lo, hi string
	switch {
	case base == "Int64":
		lo, hi = "-9223372036854775808", "9223372036854775807"
	case base == "UInt64":
		lo, hi = "0", "18446744073709551615"
	case base == "Float64":
		lo, hi = "-inf", "inf"
	case strings.HasPrefix(base, "Decimal("):
		_, scale, _ := parseDecimalType(base)
		nines := formatDecimal(int64(pow10[18]-1), scale)
		lo, hi = "-"+nines, nines
	case strings.HasPrefix(base, "DateTime64("):
		// Outside the event times Sluice accepts.
		lo, hi = "1969-12-31 23:59:59.999", "2106-01-01 00:00:00.000"
	default:
		return ""
	}
	v := hi
	if fn == "max" {
		v = lo
	}
	return " DEFAULT CAST('" + v + "' AS " + base + ")"
}

// addFlushColumn returns the ALTERs that give a rollup table created before
// FlushColumn existed the column, last in its sorting key (ClickHouse lets an
// ALTER append a column it adds to the sorting key; the primary key stays as it
// was). Rows written before keep 0, data rows. On a cluster the Distributed table
// only gets the column.
func (t tables) addFlushColumn(table string, spec tableSpec) []string {
	add := " ADD COLUMN IF NOT EXISTS " + quoteIdent(flushColumn.name) + " " + flushColumn.typ
	if t.cluster == "" {
		return []string{"ALTER TABLE " + quoteIdent(t.db) + "." + quoteIdent(table) + add +
			", MODIFY ORDER BY " + spec.flushOrder()}
	}
	return []string{
		"ALTER TABLE " + quoteIdent(t.db) + "." + quoteIdent(table+LocalSuffix) + t.onCluster(" ") + add +
			", MODIFY ORDER BY " + spec.flushOrder(),
		"ALTER TABLE " + quoteIdent(t.db) + "." + quoteIdent(table) + t.onCluster(" ") + add,
	}
}

// alterTargets are the tables an ALTER of table changes: table itself, and on a
// cluster first its local table.
func (t tables) alterTargets(table string) []string {
	if t.cluster == "" {
		return []string{table}
	}
	return []string{table + LocalSuffix, table}
}

// normalType spells a type as system.columns and DDL may both write it.
func normalType(s string) string { return strings.ReplaceAll(s, " ", "") }
