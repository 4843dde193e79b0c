package clickhouse

import (
	"context"
	"fmt"
)

// TableColumns returns the columns of every table and view in the Client's
// database, table name → column name → type as system.columns reports it (the
// input of schemas.Evolve). A database that does not exist yet has none.
func (c *Client) TableColumns(ctx context.Context) (map[string]map[string]string, error) {
	rows, err := c.conn.Query(ctx, "SELECT `table`, `name`, `type` FROM system.columns WHERE `database` = ?", c.db)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: columns of %s: %w", c.db, c.redact(err))
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	var table, name, typ string
	for rows.Next() {
		if err := rows.Scan(&table, &name, &typ); err != nil {
			return nil, fmt.Errorf("clickhouse: columns of %s: scan: %w", c.db, err)
		}
		if out[table] == nil {
			out[table] = map[string]string{}
		}
		out[table][name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: columns of %s: %w", c.db, c.redact(err))
	}
	return out, nil
}

// TablesWithProjection returns the tables of the Client's database that have the
// projection name (system.projections), so that a migration adds it only to those
// that lack it (schemas.AddOffsetsProjection).
func (c *Client) TablesWithProjection(ctx context.Context, name string) (map[string]bool, error) {
	rows, err := c.conn.Query(ctx, "SELECT `table` FROM system.projections WHERE `database` = ? AND `name` = ?", c.db, name)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: tables of %s with projection %s: %w", c.db, name, c.redact(err))
	}
	defer rows.Close()
	out := map[string]bool{}
	var table string
	for rows.Next() {
		if err := rows.Scan(&table); err != nil {
			return nil, fmt.Errorf("clickhouse: tables of %s with projection %s: scan: %w", c.db, name, err)
		}
		out[table] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: tables of %s with projection %s: %w", c.db, name, c.redact(err))
	}
	return out, nil
}
