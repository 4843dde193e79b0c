package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/pipeline/clickhouse"
	"github.com/sluicehq/sluice/schemas"
)

// explainClickHouse adds to a ClickHouse error whose cause is the configuration
// what to change, naming the variable; other errors are returned as they are.
func explainClickHouse(err error, c config.Config) error {
	var missing *clickhouse.MissingTablesError
	switch {
	case err == nil:
		return nil
	case clickhouse.IsHTTPPort(err):
		return fmt.Errorf("%w: SLUICE_CLICKHOUSE_ADDR=%s is ClickHouse's HTTP port; Sluice speaks the native protocol: use the native port (9000, or 9440 with SLUICE_CLICKHOUSE_TLS=true)",
			err, strings.Join(c.ClickHouse.Addrs, ","))
	case errors.As(err, &missing):
		return fmt.Errorf("%w: run `sluice migrate` (with SLUICE_MIGRATE=false, `sluice run` does not create them)", err)
	}
	return err
}

// checkMigrated is the start-up check of an instance that does not migrate
// (SLUICE_MIGRATE=false): every table and view the migrations create must exist,
// or start-up stops once, saying to run `sluice migrate`, instead of every insert
// failing and being retried.
func checkMigrated(ctx context.Context, ch *clickhouse.Client, c config.Config, types []*schemas.EventType) error {
	return explainClickHouse(ch.CheckTables(ctx, Migrations(c, types)), c)
}
