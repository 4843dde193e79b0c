package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// ServerEventNames are the ClickHouse system.events counters Options.CHEvents
// reads over each Sluice and peer run: where the server's CPU goes (inserts,
// projection blocks, merges, selects, its own CPU accounting) and what arrived.
var ServerEventNames = []string{
	"InsertQuery",
	"InsertedRows",
	"InsertQueryTimeMicroseconds",
	"MergeTreeDataWriterBlocks",
	"MergeTreeDataWriterRows",
	"MergeTreeDataProjectionWriterBlocks",
	"MergeTreeDataProjectionWriterRows",
	"InsertedCompactParts",
	"InsertedWideParts",
	"DuplicatedInsertedBlocks",
	"Merge",
	"MergedRows",
	"MergedUncompressedBytes",
	"MergeTotalMilliseconds",
	"MergeProjectionStageTotalMilliseconds",
	"MergedIntoCompactParts",
	"MergedIntoWideParts",
	"SelectQuery",
	"SelectQueryTimeMicroseconds",
	"SelectedRows",
	"UserTimeMicroseconds",
	"SystemTimeMicroseconds",
	"OSCPUVirtualTimeMicroseconds",
	"NetworkReceiveBytes",
	"WriteBufferFromFileDescriptorWriteBytes",
}

// serverEvents reads the server-wide counters called names from system.events (a
// counter the server has not counted yet is missing), or nil if they cannot be read.
func serverEvents(ctx context.Context, conn ch.Conn, names []string) map[string]int64 {
	return countsByName(ctx, conn, "SELECT event, value FROM system.events WHERE event IN ?", names)
}

// countsByName runs query, whose rows are a name and a UInt64, and returns them as a
// map; nil if it fails.
func countsByName(ctx context.Context, conn ch.Conn, query string, args ...any) map[string]int64 {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil
	}
	defer rows.Close()
	m := map[string]int64{}
	for rows.Next() {
		var name string
		var v uint64
		if err := rows.Scan(&name, &v); err != nil {
			return nil
		}
		m[name] = int64(v)
	}
	if rows.Err() != nil {
		return nil
	}
	return m
}

// readEvents is serverEvents when opts.CHEvents asks for them, else nil.
func readEvents(ctx context.Context, conn ch.Conn, opts Options) map[string]int64 {
	if !opts.CHEvents {
		return nil
	}
	return serverEvents(ctx, conn, ServerEventNames)
}

// eventDeltas is after - before of every ServerEventNames counter, nil if either
// reading failed.
func eventDeltas(before, after map[string]int64) map[string]int64 {
	if before == nil || after == nil {
		return nil
	}
	d := make(map[string]int64, len(ServerEventNames))
	for _, n := range ServerEventNames {
		d[n] = after[n] - before[n]
	}
	return d
}

// activeParts counts the active parts of each table of db, read a while after the
// run, when merges have had time to settle; nil if unknown.
func activeParts(ctx context.Context, conn ch.Conn, db string) map[string]int64 {
	return countsByName(ctx, conn, "SELECT table, count() FROM system.parts WHERE database = ? AND active GROUP BY table", db)
}

// printServerEvents writes, when the runs read them (Options.CHEvents), one
// row per server counter with its delta over each Sluice run and each peer run side
// by side, then the active parts of each table a while after the run.
func printServerEvents(w io.Writer, rs []Result) {
	if rs[0].ServerEvents == nil {
		return
	}
	head := []string{"ClickHouse counter"}
	var cols []map[string]int64
	var parts []map[string]int64
	for i, r := range rs {
		head = append(head, "Sluice r"+strconv.Itoa(i+1))
		cols, parts = append(cols, r.ServerEvents), append(parts, r.ActiveParts)
		if r.Peer != nil {
			head = append(head, "peer r"+strconv.Itoa(i+1))
			cols, parts = append(cols, r.Peer.ServerEvents), append(parts, r.Peer.ActiveParts)
		}
	}
	table := [][]string{head}
	row := func(label, key string, of []map[string]int64) {
		line := []string{label}
		for _, m := range of {
			if v, ok := m[key]; ok {
				line = append(line, strconv.FormatInt(v, 10))
			} else {
				line = append(line, "-")
			}
		}
		table = append(table, line)
	}
	for _, n := range ServerEventNames {
		row(n, n, cols)
	}
	var names []string
	for _, m := range parts {
		for t := range m {
			if !slices.Contains(names, t) {
				names = append(names, t)
			}
		}
	}
	slices.Sort(names)
	for _, t := range names {
		row("active parts: "+t, t, parts)
	}
	fmt.Fprintln(w, "\nClickHouse system.events over each run (Sluice: its start until it shut down; the peer alike),")
	fmt.Fprintln(w, "and the active parts of each table once the run is over (Sluice's before the peer runs; then each database is dropped):")
	writeTable(w, table)
}
