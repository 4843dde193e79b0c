package app

import (
	"regexp"
	"strings"
)

// Statements whose effect pending can see in the tables' columns: the creation of
// a database, table or materialized view if it does not exist, and an ALTER that
// only adds one column if it does not exist (no comma: one clause).
var (
	createsDatabase = regexp.MustCompile("^CREATE DATABASE IF NOT EXISTS `([^`]+)`$")
	createsTable    = regexp.MustCompile("^CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS `([^`]+)`\\.`([^`]+)`[ \\n(]")
	addsColumn      = regexp.MustCompile("^ALTER TABLE `([^`]+)`\\.`([^`]+)` ADD COLUMN IF NOT EXISTS `([^`]+)` [^,]*$")
)

// pending returns the statements of stmts (migrations on one server, for database
// db) that may change something, given the columns of every table of db that
// exists (table → column → type, as clickhouse.Client.TableColumns reads them): it
// leaves out a CREATE … IF NOT EXISTS of a database or table that exists and an
// ALTER … ADD COLUMN IF NOT EXISTS of a column that exists, which would do nothing
// but cost a round trip and, for an ALTER, the table's lock. Every other statement
// is kept (CREATE OR REPLACE VIEW replaces the view's query, which its columns do
// not show), in order.
func pending(stmts []string, db string, existing map[string]map[string]string) []string {
	out := make([]string, 0, len(stmts))
	for _, s := range stmts {
		if !done(strings.TrimSpace(s), db, existing) {
			out = append(out, s)
		}
	}
	return out
}

// done reports whether existing shows that stmt (trimmed) would change nothing.
func done(stmt, db string, existing map[string]map[string]string) bool {
	if m := createsDatabase.FindStringSubmatch(stmt); m != nil {
		return m[1] == db && len(existing) > 0
	}
	if m := createsTable.FindStringSubmatch(stmt); m != nil {
		_, ok := existing[m[2]]
		return m[1] == db && ok
	}
	if m := addsColumn.FindStringSubmatch(stmt); m != nil {
		_, ok := existing[m[2]][m[3]]
		return m[1] == db && ok
	}
	return false
}
