package clickhouse

import (
	"context"
	"fmt"
	"regexp"
	"slices"
)

// createdObject finds the object a migration statement creates:
// CREATE [OR REPLACE] TABLE|MATERIALIZED VIEW|VIEW [IF NOT EXISTS] db.name.
var createdObject = regexp.MustCompile("(?i)^\\s*CREATE\\s+(?:OR\\s+REPLACE\\s+)?(?:TABLE|MATERIALIZED\\s+VIEW|VIEW)\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?`?([A-Za-z0-9_]+)`?\\.`?([A-Za-z0-9_]+)`?")

// CheckTables reports whether the Client's database holds every table and view
// that stmts (the migrations) create in it: nil when it does, a
// *MissingTablesError naming what is missing when not, another error when the
// server cannot be asked. It is the start-up check of an instance that does not
// migrate itself.
func (c *Client) CheckTables(ctx context.Context, stmts []string) error {
	want := createdIn(stmts, c.db)
	var dbs uint64
	if err := c.conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", c.db).Scan(&dbs); err != nil {
		return fmt.Errorf("clickhouse: check database %s: %w", c.db, c.redact(err))
	}
	if dbs == 0 {
		return &MissingTablesError{Database: c.db, NoDatabase: true, Tables: want}
	}
	rows, err := c.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ?", c.db)
	if err != nil {
		return fmt.Errorf("clickhouse: list the tables of %s: %w", c.db, c.redact(err))
	}
	defer rows.Close()
	var have []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("clickhouse: list the tables of %s: %w", c.db, c.redact(err))
		}
		have = append(have, name)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse: list the tables of %s: %w", c.db, c.redact(err))
	}
	var missing []string
	for _, t := range want {
		if !slices.Contains(have, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return &MissingTablesError{Database: c.db, Tables: missing}
	}
	return nil
}

// createdIn returns the tables and views that stmts create in database db, once
// each, in order.
func createdIn(stmts []string, db string) []string {
	var out []string
	for _, s := range stmts {
		if m := createdObject.FindStringSubmatch(s); m != nil && m[1] == db && !slices.Contains(out, m[2]) {
			out = append(out, m[2])
		}
	}
	return out
}
