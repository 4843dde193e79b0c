package schemas

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
// for compatible additions (new raw columns, new measures), followed by the merged
// views they change, to run after TypeDDL. Incompatible changes are returned as an
// error joining one *IncompatibleColumn per column, and no statement. It is pure.
func Evolve(o DDLOptions, t *EventType, existing map[string]map[string]string) ([]string, error) {
	return evolve(o, t, existing)
}
