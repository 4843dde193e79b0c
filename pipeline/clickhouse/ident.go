package clickhouse

import (
	"fmt"
	"regexp"
	"strings"
)

// dbNameRE is what Open and DDL accept as a database name: a plain identifier that
// needs no quoting anywhere (ClickHouse also allows more, but names like these are
// safe in paths, logs and config values too).
var dbNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// validDatabase reports an error naming the offending value when name is not an
// acceptable database name.
func validDatabase(name string) error {
	if !dbNameRE.MatchString(name) {
		return fmt.Errorf("clickhouse: database name %q: must match %s", name, dbNameRE)
	}
	return nil
}

// Table and column names Store accepts. clickhouse-go matches the column list of an
// INSERT to the server's columns by name after stripping quotes, so names that need
// escaping are refused rather than half-supported; dots allow Nested subcolumns.
var (
	tableNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
	columnNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]{0,254}$`)
)

// validIdent reports an error when name is not an acceptable table (kind "table") or
// column name.
func validIdent(kind, name string) error {
	re := columnNameRE
	if kind == "table" {
		re = tableNameRE
	}
	if !re.MatchString(name) {
		return fmt.Errorf("%s name %q: must match %s", kind, name, re)
	}
	return nil
}

// quote returns name as a back-quoted ClickHouse identifier, escaping backslashes and
// back quotes, so any name is spliced safely.
func quote(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 2)
	b.WriteByte('`')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '`', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('`')
	return b.String()
}

// qualified returns `db`.`table`.
func qualified(db, table string) string {
	return quote(db) + "." + quote(table)
}
