package testenv

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// LostBlock is an insert that a non-replicated MergeTree table remembers in its
// deduplication log but whose part the table does not hold: the server died after it
// logged the block's deduplication id and before the part became active, so a retry
// with the same token is deduplicated and the block's rows are gone unless the writer
// stores them again under another token.
type LostBlock struct {
	// Table is the table's name in the test's database.
	Table string
	// Part is the part name the deduplication log gives the block.
	Part string
	// BlockID is the block's deduplication id (its partition and the hash of its
	// insert_deduplication_token).
	BlockID string
}

// TableDirs are the MergeTree tables of a database, by name, with their data
// directories on the server's disk: what LostBlocks audits.
type TableDirs map[string][]string

// TableDirs returns the data directories of the MergeTree tables of the test's
// database. The server must run on this machine (ClickHouse or PrivateClickHouse
// without SLUICE_TEST_CLICKHOUSE_ADDR). Ask while the server is up, after the tables
// were created; the directories stay the same across restarts.
func (ch *CH) TableDirs(ctx context.Context) (TableDirs, error) {
	conn, err := clickhouse.Open(ch.Options())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, "SELECT name, data_paths FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree'", ch.Database)
	if err != nil {
		return nil, fmt.Errorf("testenv: table directories: %w", err)
	}
	defer rows.Close()
	dirs := TableDirs{}
	for rows.Next() {
		var name string
		var paths []string
		if err := rows.Scan(&name, &paths); err != nil {
			return nil, fmt.Errorf("testenv: table directories: %w", err)
		}
		dirs[name] = paths
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("testenv: table directories: %w", err)
	}
	return dirs, nil
}

// LostBlocks reads the tables' deduplication logs and part directories from disk and
// returns the logged blocks whose block numbers no part covers, by table name and in
// log order. It counts, from outside the code under test, whether a server crash hit
// the window between the two, whatever the writer does about it later. Call it while
// the server is down, right after it was killed: once it is up again, a merge of
// the neighbouring parts, or a new part reusing the lost block number, covers the
// lost block. A table without a deduplication window has no log and nothing to
// report.
func (d TableDirs) LostBlocks() ([]LostBlock, error) {
	names := make([]string, 0, len(d))
	for name := range d {
		names = append(names, name)
	}
	slices.Sort(names)
	var lost []LostBlock
	for _, name := range names {
		for _, dir := range d[name] {
			logged, err := readDedupLog(filepath.Join(dir, "deduplication_logs"))
			if err != nil {
				return nil, fmt.Errorf("testenv: lost blocks of %s: %w", name, err)
			}
			if len(logged) == 0 {
				continue
			}
			parts, err := partRanges(dir)
			if err != nil {
				return nil, fmt.Errorf("testenv: lost blocks of %s: %w", name, err)
			}
			for _, e := range logged {
				r, ok := parsePartName(e.part)
				if !ok {
					return nil, fmt.Errorf("testenv: lost blocks of %s: unexpected part name %q in its deduplication log", name, e.part)
				}
				if !slices.ContainsFunc(parts, r.within) {
					lost = append(lost, LostBlock{Table: name, Part: e.part, BlockID: e.blockID})
				}
			}
		}
	}
	return lost, nil
}

// blockRange is a part's partition and block numbers.
type blockRange struct {
	partition string
	min, max  int64
}

// within returns a predicate: whether r lies within the range it is given.
func (r blockRange) within(p blockRange) bool {
	return r.partition == p.partition && p.min <= r.min && r.max <= p.max
}

// partRanges returns the block ranges of the part directories in a table's data
// directory; temporary and detached parts are not parts.
func partRanges(dir string) ([]blockRange, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []blockRange
	for _, e := range entries {
		if r, ok := parsePartName(e.Name()); ok && e.IsDir() {
			out = append(out, r)
		}
	}
	return out, nil
}

// dedupEntry is a block a deduplication log remembers.
type dedupEntry struct{ part, blockID string }

// readDedupLog returns the blocks a MergeTree deduplication log directory remembers,
// oldest first: its files deduplication_log_N.txt in order of N, each line
// "op\tpart\tblock_id" with op 1 (added) or 2 (dropped). A missing directory
// remembers nothing; a torn last line (the server killed while writing it) is
// ignored.
func readDedupLog(dir string) ([]dedupEntry, error) {
	files, err := filepath.Glob(filepath.Join(dir, "deduplication_log_*.txt"))
	if err != nil {
		return nil, err
	}
	number := func(f string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "deduplication_log_"), ".txt"))
		return n
	}
	slices.SortFunc(files, func(a, b string) int { return cmp.Compare(number(a), number(b)) })
	var order []string
	live := map[string]dedupEntry{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(string(b), "\n")
		for _, line := range lines[:len(lines)-1] { // the last is empty or torn
			fields := strings.Split(line, "\t")
			if len(fields) != 3 {
				return nil, fmt.Errorf("%s: unexpected line %q", f, line)
			}
			switch op, part, blockID := fields[0], fields[1], fields[2]; op {
			case "1":
				if _, seen := live[blockID]; !seen {
					order = append(order, blockID)
				}
				live[blockID] = dedupEntry{part: part, blockID: blockID}
			case "2":
				delete(live, blockID)
			default:
				return nil, fmt.Errorf("%s: unexpected operation in %q", f, line)
			}
		}
	}
	out := make([]dedupEntry, 0, len(live))
	for _, id := range order {
		if e, ok := live[id]; ok {
			out = append(out, e)
			delete(live, id)
		}
	}
	return out, nil
}

// parsePartName splits a MergeTree part name, partition_min_max_level[_mutation],
// into its partition id and block number range; other names (temporary parts,
// files) are not part names.
func parsePartName(name string) (blockRange, bool) {
	f := strings.Split(name, "_")
	if len(f) != 4 && len(f) != 5 {
		return blockRange{}, false
	}
	for _, n := range f[1:] {
		if _, err := strconv.ParseUint(n, 10, 64); err != nil {
			return blockRange{}, false
		}
	}
	lo, _ := strconv.ParseInt(f[1], 10, 64)
	hi, _ := strconv.ParseInt(f[2], 10, 64)
	if lo > hi {
		return blockRange{}, false
	}
	return blockRange{partition: f[0], min: lo, max: hi}, true
}
