package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/producers/loadgen"
)

// grafanaMacros are the ClickHouse data source's macros the business dashboard uses,
// with what they expand to over a given time range (from, to as ClickHouse DateTime
// literals).
var grafanaMacros = regexp.MustCompile(`\$__(timeFilter|timeInterval)\(([a-z_]+)\)`)

// TestBusinessDashboardQueries runs the SQL of every panel of the business dashboard
// (deploy/grafana/sluice-business.json) against ClickHouse after a loadgen run through
// Sluice, with Grafana's macros expanded over the run's event times, and requires each
// to return rows.
func TestBusinessDashboardQueries(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "sluice-business.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title      string
			Datasource struct{ Type, UID string }
			Targets    []struct{ RawSQL string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if len(dash.Panels) < 6 {
		t.Fatalf("%d panels", len(dash.Panels))
	}

	s := newStack(t, 2, nil)
	s.publish(t, generator(t, 23, 4000, 3000, 0, 0), 0)
	s.start(t, "a")
	waitFor(t, time.Minute, "all offsets committed", func() bool { return s.committedAll(t) })

	from, to := loadgen.DefaultStart.Add(-24*time.Hour).Format(time.DateTime), loadgen.DefaultStart.Add(24*time.Hour).Format(time.DateTime)
	conn := s.ch.Conn(t)
	for _, p := range dash.Panels {
		if p.Datasource.Type != "grafana-clickhouse-datasource" || p.Datasource.UID != "clickhouse" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %+v, %d queries", p.Title, p.Datasource, len(p.Targets))
			continue
		}
		for _, q := range p.Targets {
			sql := grafanaMacros.ReplaceAllStringFunc(q.RawSQL, func(m string) string {
				sub := grafanaMacros.FindStringSubmatch(m)
				if sub[1] == "timeFilter" {
					return sub[2] + " >= toDateTime('" + from + "', 'UTC') AND " + sub[2] + " <= toDateTime('" + to + "', 'UTC')"
				}
				return "toStartOfInterval(" + sub[2] + ", INTERVAL 60 second)"
			})
			if strings.Contains(sql, "$") {
				t.Errorf("panel %q: a macro the test does not expand: %s", p.Title, sql)
				continue
			}
			rows, err := conn.Query(t.Context(), sql)
			if err != nil {
				t.Errorf("panel %q: %v\n%s", p.Title, err, sql)
				continue
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if n == 0 {
				t.Errorf("panel %q: no rows\n%s", p.Title, sql)
			}
		}
	}
}
