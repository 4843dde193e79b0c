package ceiling

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestInsert stores the block several times, each under its own token, and finds
// every row, with distinct blocks' event ids apart.
func TestInsert(t *testing.T) {
	env := testenv.ClickHouse(t)
	conn := env.Conn(t)
	if err := conn.Exec(t.Context(), DDL(env.Database, "pay", 100)); err != nil {
		t.Fatal(err)
	}
	const rows, inserts = 500, 3
	res, err := Insert(t.Context(), conn, env.Database, Block("pay", rows, 0), inserts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Insert(t.Context(), conn, env.Database, Block("pay", rows, 1), 1); err != nil {
		t.Fatal(err)
	}
	if res.Rows != rows*inserts || res.Inserts != inserts || res.P50 <= 0 || res.Max < res.P99 || res.RowsPerSec() <= 0 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.String(), "1500 rows in 3 inserts") {
		t.Fatalf("String() = %q", res.String())
	}
	if n := env.QueryUint64(t, "SELECT count() FROM pay"); n != (inserts+1)*rows {
		t.Fatalf("%d rows stored, want %d", n, (inserts+1)*rows)
	}
	if n := env.QueryUint64(t, "SELECT uniqExact(event_id) FROM pay"); n != 2*rows {
		t.Fatalf("%d distinct event ids, want %d (two distinct blocks)", n, 2*rows)
	}
}
