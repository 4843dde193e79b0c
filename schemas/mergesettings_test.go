package schemas

import (
	"strings"
	"testing"
)

func TestModifyMergeSettings(t *testing.T) {
	o := DDLOptions{Database: "sl"}
	for _, tc := range []struct {
		engine string
		want   []string
	}{
		{"MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192",
			[]string{"ALTER TABLE `sl`.`t` MODIFY SETTING " + MergeSettings()}},
		{"MergeTree ORDER BY k", []string{"ALTER TABLE `sl`.`t` MODIFY SETTING " + MergeSettings()}},
		// An operator's own value is kept.
		{"MergeTree ORDER BY k SETTINGS merge_selector_base = 8", nil},
		// A longer name that starts alike is not the setting.
		{"MergeTree ORDER BY k SETTINGS merge_selector_base_x = 5", []string{"ALTER TABLE `sl`.`t` MODIFY SETTING " + MergeSettings()}},
		{"MergeTree ORDER BY k SETTINGS " + MergeSettings(), nil},
		{"MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 10000, " + MergeSettings() + ", index_granularity = 8192", nil},
	} {
		if got := ModifyMergeSettings(o, "t", tc.engine); strings.Join(got, ";") != strings.Join(tc.want, ";") {
			t.Errorf("ModifyMergeSettings(%q) = %q, want %q", tc.engine, got, tc.want)
		}
	}
	got := ModifyMergeSettings(DDLOptions{Database: "sl", Cluster: "prod"}, "t_local", "ReplicatedMergeTree('/p', '{replica}') ORDER BY k")
	if want := "ALTER TABLE `sl`.`t_local` ON CLUSTER `prod` MODIFY SETTING " + MergeSettings(); len(got) != 1 || got[0] != want {
		t.Errorf("on a cluster: %q, want %q", got, want)
	}
}
