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

// LostBlocks audits every MergeTree table of the test's database: it reads each
// table's deduplication log from the server's data directory and returns the logged
// blocks whose block numbers no active part covers. It counts, from outside the code
// under test, how many server crashes hit the window between the two, whatever the
// writer did about it. The server must run on this machine (ClickHouse or
// PrivateClickHouse without SLUICE_TEST_CLICKHOUSE_ADDR); a table without a
// deduplication window has no log and nothing to report.
func (ch *CH) LostBlocks(ctx context.Context) ([]LostBlock, error) {
	conn, err := clickhouse.Open(ch.Options())
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	// Active parts: per table and partition, the block ranges they cover.
	type span struct{ min, max int64 }
	covered := map[string]map[string][]span{}
	rows, err := conn.Query(ctx, "SELECT table, partition_id, min_block_number, max_block_number FROM system.parts WHERE database = ? AND active", ch.Database)
	if err != nil {
		return nil, fmt.Errorf("testenv: lost blocks: system.parts: %w", err)
	}
	for rows.Next() {
		var table, partition string
		var s span
		if err := rows.Scan(&table, &partition, &s.min, &s.max); err != nil {
			rows.Close()
			return nil, fmt.Errorf("testenv: lost blocks: system.parts: %w", err)
		}
		if covered[table] == nil {
			covered[table] = map[string][]span{}
		}
		covered[table][partition] = append(covered[table][partition], s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("testenv: lost blocks: system.parts: %w", err)
	}

	rows, err = conn.Query(ctx, "SELECT name, data_paths FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree' ORDER BY name", ch.Database)
	if err != nil {
		return nil, fmt.Errorf("testenv: lost blocks: system.tables: %w", err)
	}
	type table struct {
		name  string
		paths []string
	}
	var tables []table
	for rows.Next() {
		var tb table
		if err := rows.Scan(&tb.name, &tb.paths); err != nil {
			rows.Close()
			return nil, fmt.Errorf("testenv: lost blocks: system.tables: %w", err)
		}
		tables = append(tables, tb)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("testenv: lost blocks: system.tables: %w", err)
	}

	var lost []LostBlock
	for _, tb := range tables {
		for _, dir := range tb.paths {
			logged, err := readDedupLog(filepath.Join(dir, "deduplication_logs"))
			if err != nil {
				return nil, fmt.Errorf("testenv: lost blocks of %s: %w", tb.name, err)
			}
			for _, e := range logged {
				partition, lo, hi, ok := parsePartName(e.part)
				if !ok {
					return nil, fmt.Errorf("testenv: lost blocks of %s: unexpected part name %q in its deduplication log", tb.name, e.part)
				}
				if !slices.ContainsFunc(covered[tb.name][partition], func(s span) bool { return s.min <= lo && hi <= s.max }) {
					lost = append(lost, LostBlock{Table: tb.name, Part: e.part, BlockID: e.blockID})
				}
			}
		}
	}
	return lost, nil
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
// into its partition id and block number range.
func parsePartName(name string) (partition string, lo, hi int64, ok bool) {
	f := strings.Split(name, "_")
	if len(f) != 4 && len(f) != 5 {
		return "", 0, 0, false
	}
	lo, err1 := strconv.ParseInt(f[1], 10, 64)
	hi, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || lo > hi {
		return "", 0, 0, false
	}
	return f[0], lo, hi, true
}
