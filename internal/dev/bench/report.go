package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// column is one numeric column of the results table.
type column struct {
	head   string
	format string
	value  func(Result) float64
}

// columns are the in-process mode's; processColumns those of the process mode.
var columns = []column{
	{"events/s", "%.0f", Result.EventsPerSec},
	{"consumer ceiling ev/s", "%.0f", func(r Result) float64 { return r.ConsumerCeiling }},
	{"× consumer", "%.2f", func(r Result) float64 { return ratio(r.EventsPerSec(), r.ConsumerCeiling) }},
	{"rows/s", "%.0f", Result.RowsPerSec},
	{"insert ceiling rows/s", "%.0f", func(r Result) float64 { return r.InsertCeiling.RowsPerSec() }},
	{"× insert", "%.2f", func(r Result) float64 { return ratio(r.RowsPerSec(), r.InsertCeiling.RowsPerSec()) }},
	{"CPU-s/M ev", "%.2f", Result.CPUPerMillion},
	{"CH CPU-s/M ev", "%.2f", Result.ClickHouseCPUPerMillion},
	{"peak RSS MB", "%.0f", func(r Result) float64 { return mb(r.PeakRSS) }},
	{"RSS Δ MB", "%.0f", func(r Result) float64 { return mb(r.PeakRSS) - mb(r.BaseRSS) }},
	{"first row ms", "%.0f", func(r Result) float64 { return float64(r.FirstRow.Milliseconds()) }},
	{"parts", "%.0f", func(r Result) float64 { return float64(r.Parts) }},
	{"parts/s", "%.1f", Result.PartsPerSec},
}

var processColumns = []column{
	columns[0], columns[1], columns[2], columns[3], columns[4], columns[5],
	columns[6], // CPU-s/M ev: now `sluice run` alone
	{"kfake CPU-s/M ev", "%.2f", Result.BenchCPUPerMillion},
	columns[7],
	columns[8], // peak RSS MB: now `sluice run` alone
	{"VmHWM MB", "%.0f", func(r Result) float64 { return mb(r.HWM) }},
	columns[10], columns[11], columns[12],
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// Print writes the results table: one row per run and, for several runs, the
// minimum, median and maximum of each column, then the notes the figures need and
// the differences of any inexact run.
func Print(w io.Writer, rs []Result) {
	if len(rs) == 0 {
		return
	}
	cols := columns
	if rs[0].Process {
		cols = processColumns
	}
	head := []string{"run", "mode", "events"}
	for _, c := range cols {
		head = append(head, c.head)
	}
	head = append(head, "exact")
	table := [][]string{head}
	for i, r := range rs {
		row := []string{strconv.Itoa(i + 1), string(r.Mode), strconv.Itoa(r.Events)}
		for _, c := range cols {
			row = append(row, fmt.Sprintf(c.format, c.value(r)))
		}
		table = append(table, append(row, yesNo(r.Exact())))
	}
	allExact := true
	for _, r := range rs {
		allExact = allExact && r.Exact()
	}
	table = append(table, summaryRows(rs, cols, 3, yesNo(allExact))...)
	writeTable(w, table)
	if rs[0].Peer != nil {
		printPeer(w, rs)
	}
	printServerEvents(w, rs)

	r := rs[0]
	for i, r := range rs {
		fmt.Fprintf(w, "\nbare insert ceiling, run %d: %s", i+1, r.InsertCeiling)
		if r.InsertCeilingCHCPU > 0 && r.InsertCeiling.Rows > 0 {
			fmt.Fprintf(w, "; ClickHouse %.2f CPU-s per M rows", r.InsertCeilingCHCPU.Seconds()*1e6/float64(r.InsertCeiling.Rows))
		}
	}
	fmt.Fprintln(w)
	if r.Process {
		fmt.Fprintln(w, "notes: Sluice ran as its own `sluice run` process, timed from its start (process start-up")
		fmt.Fprintln(w, "       included) until the group had committed every record (polled every 50 ms; commits are")
		fmt.Fprintln(w, "       made every SLUICE_KAFKA_COMMIT_INTERVAL, 100ms here). CPU-s is that process's user+sys (/proc/<pid>/stat); kfake CPU-s is")
		fmt.Fprintln(w, "       the bench process meanwhile (the broker and the samplers); CH CPU-s the ClickHouse child.")
		fmt.Fprintln(w, "       Peak RSS is its VmRSS sampled every 100 ms; VmHWM is read before SIGTERM. rows/s counts")
		fmt.Fprintln(w, "       ClickHouse's InsertedRows meanwhile, less the ledger's rows.")
	} else {
		fmt.Fprintln(w, "notes: CPU-s is user+sys of this process, which also runs the kfake broker and the samplers;")
		fmt.Fprintln(w, "       CH CPU-s is the ClickHouse child process. Peak RSS is this process's VmRSS sampled every")
		fmt.Fprintln(w, "       100 ms while Sluice runs; it includes kfake's in-memory copy of the topic (RSS Δ is over")
		fmt.Fprintf(w, "       the RSS just before Sluice started; VmHWM of the whole run: %.0f MB).\n", mb(r.HWM))
	}
	fmt.Fprintln(w, "       parts: the level-0 parts Sluice's inserts created (ClickHouse's MergeTreeDataWriterBlocks")
	fmt.Fprintln(w, "       from its start until it shut down: every table, the ledger included); parts/s over the run's time.")
	if r.Mode == RawAndRollups {
		fmt.Fprintln(w, "       rows/s counts raw and rollup rows (the insert ceiling is raw rows of one table).")
	}
	for i, r := range rs {
		if len(r.Diff) > 0 {
			fmt.Fprintf(w, "\nrun %d is NOT exact:\n  %s\n", i+1, strings.Join(r.Diff, "\n  "))
		}
	}
}

// peerColumns compare Sluice with the peer run after it; every run has a peer.
var peerColumns = []column{
	{"Sluice ev/s", "%.0f", Result.EventsPerSec},
	{"peer ev/s", "%.0f", func(r Result) float64 { return r.Peer.EventsPerSec() }},
	{"× peer", "%.2f", func(r Result) float64 { return ratio(r.EventsPerSec(), r.Peer.EventsPerSec()) }},
	{"Sluice CPU-s/M", "%.2f", Result.CPUPerMillion},
	{"peer CPU-s/M", "%.2f", func(r Result) float64 { return r.Peer.CPUPerMillion() }},
	{"Sluice CH CPU-s/M", "%.2f", Result.ClickHouseCPUPerMillion},
	{"peer CH CPU-s/M", "%.2f", func(r Result) float64 { return r.Peer.ClickHouseCPUPerMillion() }},
	{"Sluice peak RSS MB", "%.0f", func(r Result) float64 { return mb(r.PeakRSS) }},
	{"peer peak RSS MB", "%.0f", func(r Result) float64 { return mb(r.Peer.PeakRSS) }},
	{"Sluice parts", "%.0f", func(r Result) float64 { return float64(r.Parts) }},
	{"peer parts", "%.0f", func(r Result) float64 { return float64(r.Peer.Parts) }},
	{"peer rows", "%.0f", func(r Result) float64 { return float64(r.Peer.Rows) }},
}

// printPeer writes the side-by-side table of Sluice and the peer, one row per run
// and, for several runs, min/median/max, then the differences of an inexact peer.
func printPeer(w io.Writer, rs []Result) {
	head := []string{"run", "mode"}
	for _, c := range peerColumns {
		head = append(head, c.head)
	}
	table := [][]string{append(head, "peer exact")}
	allExact := true
	for i, r := range rs {
		row := []string{strconv.Itoa(i + 1), string(r.Mode)}
		for _, c := range peerColumns {
			row = append(row, fmt.Sprintf(c.format, c.value(r)))
		}
		table = append(table, append(row, yesNo(r.Peer.Exact())))
		allExact = allExact && r.Peer.Exact()
	}
	table = append(table, summaryRows(rs, peerColumns, 2, yesNo(allExact))...)
	fmt.Fprintln(w, "\nSluice beside the peer (clickhouse_sinker, raw table only, run after Sluice in each run):")
	writeTable(w, table)
	for i, r := range rs {
		if len(r.Peer.Diff) > 0 {
			fmt.Fprintf(w, "\nrun %d: the peer is NOT exact:\n  %s\n", i+1, strings.Join(r.Peer.Diff, "\n  "))
		}
	}
}

// summaryRows are the min, median and max rows of cols over rs when there are
// several runs (none for one): lead columns ahead (the stat, the mode and, with 3,
// the events), the column values, then last.
func summaryRows(rs []Result, cols []column, lead int, last string) [][]string {
	if len(rs) < 2 {
		return nil
	}
	var out [][]string
	for _, stat := range []string{"min", "median", "max"} {
		row := []string{stat, string(rs[0].Mode), strconv.Itoa(rs[0].Events)}[:lead]
		for _, c := range cols {
			vs := make([]float64, len(rs))
			for i, r := range rs {
				vs[i] = c.value(r)
			}
			row = append(row, fmt.Sprintf(c.format, pick(vs, stat)))
		}
		out = append(out, append(row, last))
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// pick returns the min, median or max of vs (not empty).
func pick(vs []float64, stat string) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	switch stat {
	case "min":
		return s[0]
	case "max":
		return s[len(s)-1]
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func writeTable(w io.Writer, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))+2))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
