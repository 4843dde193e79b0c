package clickhouse

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/dev/testenv"
)

// TestOpenHTTPPort: the server's HTTP port given for the native protocol is
// recognised, and is permanent (not waited for).
func TestOpenHTTPPort(t *testing.T) {
	env := testenv.ClickHouse(t)
	if env.HTTPAddr == "" {
		t.Fatal("the test server has no HTTP address")
	}
	c, err := Open(t.Context(), Options{Addrs: []string{env.HTTPAddr}, Database: env.Database, DialTimeout: 5 * time.Second})
	if err == nil {
		_ = c.Close()
		t.Fatal("Open on the HTTP port succeeded")
	}
	if !IsHTTPPort(err) || !IsPermanent(err) {
		t.Errorf("Open on the HTTP port: IsHTTPPort %v, IsPermanent %v: %v", IsHTTPPort(err), IsPermanent(err), err)
	}
	if IsHTTPPort(errors.New("dial tcp 127.0.0.1:1: connection refused")) {
		t.Error("IsHTTPPort of a refused connection")
	}
}

// TestCheckTables: a missing database, then missing tables, then none missing once
// migrated.
func TestCheckTables(t *testing.T) {
	env := testenv.ClickHouse(t)
	stmts := DDL(DDLOptions{Database: env.Database})

	// A database that does not exist.
	other, err := Open(t.Context(), Options{Addrs: []string{env.Addr}, Database: env.Database + "_none"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var missing *MissingTablesError
	err = other.CheckTables(t.Context(), DDL(DDLOptions{Database: env.Database + "_none"}))
	if !errors.As(err, &missing) || !missing.NoDatabase || !IsPermanent(err) {
		t.Fatalf("CheckTables of a missing database = %v", err)
	}

	c, err := Open(t.Context(), Options{Addrs: []string{env.Addr}, Database: env.Database})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The database exists (testenv creates it), the tables do not.
	err = c.CheckTables(t.Context(), stmts)
	if !errors.As(err, &missing) || missing.NoDatabase || !slices.Equal(missing.Tables, []string{LedgerTable, EventIDsTable}) {
		t.Fatalf("CheckTables of an empty database = %v", err)
	}
	if err := c.Migrate(t.Context(), stmts); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckTables(t.Context(), stmts); err != nil {
		t.Fatalf("CheckTables after Migrate = %v", err)
	}
}
