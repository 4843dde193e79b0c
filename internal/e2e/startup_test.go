package e2e

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/internal/dev/testsupport"
)

// startFailsLogged is startFails that also returns the instance's log.
func startFailsLogged(t *testing.T, cfg config.Config) (logs string, err error) {
	t.Helper()
	var buf testsupport.SyncBuffer
	err = startFails(t, cfg, slog.New(slog.NewTextHandler(io.MultiWriter(&buf, testWriter{t}), nil)))
	return buf.String(), err
}

// TestStartupClickHouseHTTPPort: ClickHouse's HTTP port given as the native
// address stops start-up at once, naming the variable and the native ports.
func TestStartupClickHouseHTTPPort(t *testing.T) {
	ch := testenv.ClickHouse(t)
	s := buildStack(t, testenv.Kafka(t), ch, 1, map[string]string{"SLUICE_CLICKHOUSE_ADDR": ch.HTTPAddr})
	logs, err := startFailsLogged(t, s.cfg)
	for _, want := range []string{"SLUICE_CLICKHOUSE_ADDR=" + ch.HTTPAddr, "HTTP port", "native port (9000, or 9440"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(logs, "level=WARN") {
		t.Errorf("start-up retried:\n%s", logs)
	}
	// `sluice migrate` says the same.
	if err := app.Migrate(t.Context(), s.cfg); err == nil || !strings.Contains(err.Error(), "native port") {
		t.Errorf("migrate on the HTTP port: %v", err)
	}
}

// TestStartupNotMigrated: with SLUICE_MIGRATE=false, a missing database or missing
// tables stop start-up once with "run `sluice migrate`", not a stream of warnings;
// once migrated, the same configuration starts.
func TestStartupNotMigrated(t *testing.T) {
	ch := testenv.ClickHouse(t)
	// The database does not exist.
	s := buildStack(t, testenv.Kafka(t), &testenv.CH{Addr: ch.Addr, Database: ch.Database + "_absent"}, 1, map[string]string{"SLUICE_MIGRATE": "false"})
	logs, err := startFailsLogged(t, s.cfg)
	if !strings.Contains(err.Error(), "database "+ch.Database+"_absent does not exist") || !strings.Contains(err.Error(), "run `sluice migrate`") {
		t.Errorf("missing database: %v", err)
	}
	if strings.Contains(logs, "level=WARN") {
		t.Errorf("start-up retried:\n%s", logs)
	}

	// The database exists (testenv made it), its tables do not.
	s = buildStack(t, testenv.Kafka(t), ch, 1, map[string]string{"SLUICE_MIGRATE": "false"})
	_, err = startFailsLogged(t, s.cfg)
	if !strings.Contains(err.Error(), "lacks") || !strings.Contains(err.Error(), "run `sluice migrate`") {
		t.Errorf("missing tables: %v", err)
	}

	if err := app.Migrate(t.Context(), s.cfg); err != nil {
		t.Fatal(err)
	}
	s.start(t, "migrated").stop(t)
}
