package schemas

import (
	"strconv"
	"strings"
)

// MergeSelectorBase is the merge_selector_base of every MergeTree table Sluice
// creates (its event types' raw and rollup tables, the ledger and the event-id
// table); the server's default is 5. It is the least ratio of a merge's total size
// to its largest part: how many equal parts one merge takes at once. Sluice inserts
// one part per partition per flush, and the server counts a fixed 5 MB more per
// part in that ratio, so at the default a young part is merged again and again as
// the next few arrive; at 20 a merge waits for about twenty parts, and rows are
// rewritten about half as often. The cost is more active parts while
// they are young: the server still lowers the base towards 2 as a table partition
// passes 10 and then 50 active parts, and as parts age (from 10 s to an hour), so
// a partition stays below about 50 parts under any insert rate and settles to few
// once inserts pause. A query reads each active part, which matters at hundreds of
// parts, not at tens. docs/benchmarks.md has the measurements.
const MergeSelectorBase = 20

// mergeSettings are the settings MergeSelectorBase stands for, `name = value`, in
// the order the SETTINGS clause lists them.
var mergeSettings = []string{"merge_selector_base = " + strconv.Itoa(MergeSelectorBase)}

// MergeSettings is the SETTINGS list (without the keyword) of the merge settings
// every Sluice table carries beside its deduplication settings; package
// clickhouse appends it to its own tables' clauses.
func MergeSettings() string { return strings.Join(mergeSettings, ", ") }

// ModifyMergeSettings returns the ALTER TABLE … MODIFY SETTING that gives table of
// o's database (on a cluster, its local table, ON CLUSTER), created before Sluice
// set MergeSettings, the ones its engine lacks; engineFull is the table's
// system.tables engine_full, which lists the settings a table was created or
// altered with. A setting the table has at another value (an operator's own
// ALTER) is left as it is. It returns nil when the table has them all. The change
// is metadata only: it applies to the merges the server assigns from then on.
func ModifyMergeSettings(o DDLOptions, table, engineFull string) []string {
	_, tb := o.tables()
	var missing []string
	for _, s := range mergeSettings {
		if !hasSetting(engineFull, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return []string{"ALTER TABLE " + quoteIdent(tb.db) + "." + quoteIdent(table) + tb.onCluster(" ") +
		" MODIFY SETTING " + strings.Join(missing, ", ")}
}

// hasSetting reports whether engineFull's SETTINGS clause (as the server prints it:
// `name = value`, comma-separated) sets the name of setting (`name = value`), at
// any value.
func hasSetting(engineFull, setting string) bool {
	_, list, ok := strings.Cut(engineFull, " SETTINGS ")
	if !ok {
		return false
	}
	name, _, _ := strings.Cut(setting, " = ")
	for s := range strings.SplitSeq(list, ",") {
		if n, _, _ := strings.Cut(strings.TrimSpace(s), " = "); n == name {
			return true
		}
	}
	return false
}
