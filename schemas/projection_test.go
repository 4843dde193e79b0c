package schemas

import (
	"strings"
	"testing"
	"time"
)

// TestOffsetsProjection: every raw table, and only a MergeTree table (the local one on
// a cluster), keeps OffsetsProjection with the event id of its type; rollup tables
// have none; AddOffsetsProjection alters the same table.
func TestOffsetsProjection(t *testing.T) {
	pay := BuiltinType(t, "payment")
	fees := mustType(t, "fees.schema.json", feesSchema)
	const clause = "PROJECTION sluice_offsets (SELECT `_topic`, `_topic_id`, `_partition`, `_offset`, "
	const order = "`_timestamp` ORDER BY (`_topic`, `_topic_id`, `_partition`, `_offset`))"
	for _, o := range []DDLOptions{{}, {Cluster: "c1", Database: "analytics"}} {
		stmts := TypeDDL(o, pay, fees)
		with := map[string]string{}
		for _, s := range stmts {
			name, _, _ := strings.Cut(s[strings.Index(s, "`.`")+3:], "`")
			if i := strings.Index(s, "PROJECTION "); i >= 0 {
				with[name] = s[i:strings.Index(s, "\n)\n")]
			}
		}
		suffix := ""
		if o.Cluster != "" {
			suffix = LocalSuffix
		}
		want := map[string]string{
			"payments" + suffix: clause + "`event_id`, " + order,
			"fees" + suffix:     clause + "`id`, " + order,
		}
		if len(with) != len(want) {
			t.Errorf("%+v: tables with a projection %v, want %v", o, with, want)
		}
		for table, w := range want {
			if with[table] != w {
				t.Errorf("%+v: %s projection %q, want %q", o, table, with[table], w)
			}
		}
		alter := AddOffsetsProjection(o, fees)
		db := "sluice"
		if o.Database != "" {
			db = o.Database
		}
		target := "ALTER TABLE `" + db + "`.`fees" + suffix + "`"
		if len(alter) != 2 || !strings.HasPrefix(alter[0], target) || !strings.HasPrefix(alter[1], target) ||
			!strings.HasSuffix(alter[0], "ADD PROJECTION IF NOT EXISTS "+strings.TrimPrefix(want["fees"+suffix], "PROJECTION ")) ||
			!strings.HasSuffix(alter[1], " MATERIALIZE PROJECTION sluice_offsets") {
			t.Errorf("%+v: AddOffsetsProjection = %q", o, alter)
		}
		if o.Cluster != "" && !strings.Contains(alter[0], " ON CLUSTER `c1` ") {
			t.Errorf("cluster: AddOffsetsProjection not ON CLUSTER: %q", alter[0])
		}
	}
	if s := AddOffsetsProjection(DDLOptions{}, pay.WithRaw(false)); s != nil {
		t.Errorf("rollup-only type: AddOffsetsProjection = %q, want none", s)
	}
}

func TestRawTTL(t *testing.T) {
	if got := mustType(t, "fees.schema.json", feesSchema).RawTTL(); got != 30*24*time.Hour {
		t.Errorf("fees RawTTL = %v, want 720h (x-sluice.ttl 30d)", got)
	}
	if got := BuiltinType(t, "payment").RawTTL(); got != 0 {
		t.Errorf("payments RawTTL = %v, want 0 (kept for good)", got)
	}
}
