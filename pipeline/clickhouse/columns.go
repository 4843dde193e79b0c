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
