package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/internal/dev/testenv"
	"github.com/sluicehq/sluice/internal/dev/testsupport"
	"github.com/sluicehq/sluice/schemas"
)

// permanentPartitions is how many partitions each source topic of the permanent-error
// tests has.
const permanentPartitions = 4

// TestPermanentClickHouseErrors: while Sluice runs, an operator breaks what it writes
// to payments (drops a raw column, retypes one, drops the rollup table, revokes
// INSERT). Within seconds /readyz is 503 naming the table, the column and the fix,
// sluice_partition_blocked is 1 for every payments partition, the log has one
// warning per partition (not one per attempt), nothing of payments is committed
// while shipments keep flowing; after the fix every partition resumes by itself and
// ClickHouse holds exactly the ground truth.
func TestPermanentClickHouseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		// stack builds the stack and its breaks; nil: newStack.
		stack func(t *testing.T) (*stack, func(t *testing.T, s *stack) (fix func()))
		// breaks breaks ClickHouse for payments and returns the fix.
		breaks func(t *testing.T, s *stack) (fix func())
		// want is what /readyz must say.
		want []string
	}{{
		name: "raw column dropped",
		breaks: func(t *testing.T, s *stack) func() {
			s.ch.Exec(t, "ALTER TABLE `"+s.ch.Database+"`.payments DROP COLUMN city")
			return func() { migrateFix(t, s) }
		},
		want: []string{"payments", "city", "run `sluice migrate`"},
	}, {
		name: "raw column retyped",
		breaks: func(t *testing.T, s *stack) func() {
			was := s.columnType(t, "payments", "risk_score")
			s.ch.Exec(t, "ALTER TABLE `"+s.ch.Database+"`.payments MODIFY COLUMN risk_score String")
			return func() {
				s.ch.Exec(t, "ALTER TABLE `"+s.ch.Database+"`.payments MODIFY COLUMN risk_score "+was)
			}
		},
		want: []string{"payments", "risk_score", "String", "change it back"},
	}, {
		name: "rollup table dropped",
		breaks: func(t *testing.T, s *stack) func() {
			// The operator has a copy of it, restored after `sluice migrate`
			// created the table again: what the stores of the meantime add to the
			// new table then sums with what the old one held.
			db := "`" + s.ch.Database + "`."
			rollup, backup := db+"`"+schemas.RollupTable("payments", s.cfg.Pipeline.Window)+"`", db+"rollup_backup"
			s.ch.Exec(t, "CREATE TABLE "+backup+" AS "+rollup)
			s.ch.Exec(t, "INSERT INTO "+backup+" SELECT * FROM "+rollup)
			s.ch.Exec(t, "DROP TABLE "+rollup+" SYNC")
			return func() {
				migrateFix(t, s)
				s.ch.Exec(t, "INSERT INTO "+rollup+" SELECT * FROM "+backup)
			}
		},
		want: []string{schemas.RollupTable("payments", time.Minute), "does not exist", "run `sluice migrate`"},
	}, {
		name:  "INSERT revoked",
		stack: stackWithGrants,
		want:  []string{"payments", "INSERT", "GRANT"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, breaks := (*stack)(nil), tc.breaks
			if tc.stack != nil {
				s, breaks = tc.stack(t)
			} else {
				s = newStack(t, permanentPartitions, nil)
			}
			var logs testsupport.SyncBuffer
			in := s.startLogged(t, "a", &logs)
			base := "http://" + in.in.HTTPAddr()
			gen := generator(t, 13, 8000, 4000, 0, 0)
			s.publishSome(t, gen, 3000)
			waitFor(t, time.Minute, "the first records committed", func() bool { return s.committedAll(t) })
			var before [permanentPartitions]int64
			for p := range before {
				before[p] = s.committed(t, "payments", int32(p))
			}

			fix := breaks(t, s)
			broken := time.Now()
			s.publishSome(t, gen, 3000)
			want := append([]string{"blocked (clickhouse_permanent)", "resumes by itself"}, tc.want...)
			waitFor(t, 30*time.Second, "/readyz 503 naming the table and the fix", func() bool {
				code, body := get(t, base+"/readyz")
				if code != 503 {
					return false
				}
				for _, w := range want {
					if !strings.Contains(body, w) {
						return false
					}
				}
				return true
			})
			_, body := get(t, base+"/readyz")
			t.Logf("/readyz: %s", body)
			s.checkStatusBlocked(t, base)
			waitFor(t, 30*time.Second, "sluice_partition_blocked 1 for every payments partition", func() bool {
				return s.blockedPartitions(t, base, "payments") == permanentPartitions
			})
			if n := s.blockedPartitions(t, base, "shipments"); n != 0 {
				t.Errorf("%d shipments partitions blocked", n)
			}
			waitFor(t, time.Minute, "shipments committed to their end meanwhile", func() bool {
				lag, err := s.kafka.GroupLag(t.Context(), s.cfg.Kafka.Group, "shipments")
				return err == nil && lag == 0
			})
			for p, at := range before {
				if c := s.committed(t, "payments", int32(p)); c != at {
					t.Errorf("payments/%d committed from %d to %d while ClickHouse refused it", p, at, c)
				}
			}

			fix()
			waitFor(t, 2*time.Minute, "every partition resumed by itself and committed", func() bool { return s.committedAll(t) })
			blockedFor := time.Since(broken)
			waitFor(t, 30*time.Second, "/readyz 200 after the fix", func() bool {
				code, _ := get(t, base+"/readyz")
				return code == 200
			})
			if n := s.blockedPartitions(t, base, ""); n != 0 {
				t.Errorf("%d partitions still blocked after the fix", n)
			}
			in.stop(t)

			log := logs.String()
			most := 1 + int(blockedFor/time.Minute)
			for p := range permanentPartitions {
				re := regexp.MustCompile(fmt.Sprintf(`level=WARN msg="ClickHouse refuses the partition's [^"]*".* topic=payments partition=%d .*reason=clickhouse_permanent`, p))
				if n := len(re.FindAllString(log, -1)); n == 0 || n > most {
					t.Errorf("payments/%d: %d warnings in %s blocked, want 1 to %d", p, n, blockedFor.Round(time.Second), most)
				}
				re = regexp.MustCompile(fmt.Sprintf(`msg="ClickHouse accepts the partition's calls again; it resumes".* topic=payments partition=%d `, p))
				if !re.MatchString(log) {
					t.Errorf("payments/%d: no line says it resumed", p)
				}
			}
			// Nothing else is logged as a warning but an outage's one line (the
			// revoke and the grant restart the server).
			var outages int
			for line := range strings.Lines(log) {
				switch {
				case strings.Contains(line, "ClickHouse calls are failing"):
					outages++
				case strings.Contains(line, "level=WARN msg=\"ClickHouse refuses the partition's"):
				case strings.Contains(line, "level=WARN"), strings.Contains(line, "level=ERROR"):
					t.Errorf("another warning: %s", line)
				}
			}
			if outages > 2 {
				t.Errorf("%d outages logged, want at most one per server restart", outages)
			}
			s.checkStored(t, gen.Truth())
		})
	}
}

// migrateFix is `sluice migrate`.
func migrateFix(t *testing.T, s *stack) {
	t.Helper()
	if err := app.Migrate(t.Context(), s.cfg); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

// checkStatusBlocked checks that the status page says why it is not ready and
// shows the refusal as merged entries, not one per attempt.
func (s *stack) checkStatusBlocked(t *testing.T, base string) {
	t.Helper()
	_, body := get(t, base+"/api/status")
	var st struct {
		Ready       bool   `json:"ready"`
		ReadyReason string `json:"ready_reason"`
		Errors      []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/api/status: %v: %s", err, body)
	}
	if st.Ready || !strings.Contains(st.ReadyReason, "blocked (clickhouse_permanent)") {
		t.Errorf("/api/status: ready %v, reason %q", st.Ready, st.ReadyReason)
	}
	n := 0
	for _, e := range st.Errors {
		if strings.Contains(e.Message, "ClickHouse refuses the partition's") {
			n++
		}
	}
	if n == 0 || n > permanentPartitions {
		t.Errorf("/api/status: %d entries of the refusal, want 1 to %d", n, permanentPartitions)
	}
}

// blockedPartitions counts the series of sluice_partition_blocked with value 1 for
// topic (every topic when empty) and reason clickhouse_permanent.
func (s *stack) blockedPartitions(t *testing.T, base, topic string) int {
	t.Helper()
	n := 0
	for _, m := range scrape(t, base)["sluice_partition_blocked"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if (topic == "" || labels["topic"] == topic) && labels["reason"] == "clickhouse_permanent" && m.GetGauge().GetValue() == 1 {
			n++
		}
	}
	return n
}

// columnType is the ClickHouse type of table.column in the stack's database.
func (s *stack) columnType(t *testing.T, table, column string) string {
	t.Helper()
	var typ string
	row := s.ch.Conn(t).QueryRow(t.Context(), "SELECT type FROM system.columns WHERE database = ? AND table = ? AND name = ?", s.ch.Database, table, column)
	if err := row.Scan(&typ); err != nil {
		t.Fatalf("type of %s.%s: %v", table, column, err)
	}
	return typ
}

// stackWithGrants is newStack on a private ClickHouse server where Sluice connects
// as a user of its own with all rights on the stack's database, and its breaks: a
// configuration that revokes INSERT on payments from that user, applied by a
// restart of the server (the local engine reads its users from a configuration
// file only), and the fix that grants it again. s.ch connects as the default user,
// for the test's own checks.
func stackWithGrants(t *testing.T) (*stack, func(t *testing.T, s *stack) func()) {
	t.Helper()
	const user, db = "sluice_grants", "grants"
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.xml")
	configure := func(grants ...string) {
		var q strings.Builder
		for _, g := range grants {
			q.WriteString("<query>" + g + "</query>")
		}
		xml := fmt.Sprintf(`<clickhouse>
  <users>
    <default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default>
    <%[1]s><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota>
      <grants>%[2]s</grants>
    </%[1]s>
  </users>
  <profiles><default/></profiles>
  <quotas><default/></quotas>
  <user_directories><users_xml><path>%[3]s</path></users_xml></user_directories>
</clickhouse>
`, user, q.String(), cfgFile)
		if err := os.WriteFile(cfgFile, []byte(xml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	all := []string{"GRANT ALL ON " + db + ".*", "GRANT TABLE ENGINE ON *"}
	configure(all...)
	srv := startConfigured(t, dir, cfgFile)
	(&testenv.CH{Addr: srv.Addr(), Database: "default"}).Exec(t, "CREATE DATABASE "+db)
	ch := &testenv.CH{Addr: srv.Addr(), HTTPAddr: srv.HTTPAddr(), Database: db}
	s := buildStack(t, testenv.Kafka(t), ch, permanentPartitions, map[string]string{"SLUICE_CLICKHOUSE_USER": user})
	migrateFix(t, s)
	restart := func(t *testing.T, grants ...string) {
		configure(grants...)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		if err := srv.Restart(ctx); err != nil {
			t.Fatalf("restart ClickHouse: %v", err)
		}
	}
	return s, func(t *testing.T, s *stack) func() {
		restart(t, append(all, "REVOKE INSERT ON "+db+".payments")...)
		return func() { restart(t, all...) }
	}
}
