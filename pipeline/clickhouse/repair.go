package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pipeline"
	"github.com/sluicehq/sluice/schemas"
)

// maxRepairRounds bounds the re-inserts of one Repair call. A round whose insert
// succeeded leaves rows missing only when its token was already in the table's
// deduplication log (an earlier repair of the same flush was lost the same way)
// or when something else removed the rows since (a TTL, a DELETE); neither goes
// on for long, so rows still missing after this many rounds are reported rather
// than re-inserted forever.
const maxRepairRounds = 16

// repairToken is the deduplication token of round k (from 1) of a repair of the
// flush token. A later Repair of the same flush (a replay) derives the same
// tokens, so a round stored before is dropped, not stored twice.
func repairToken(token string, k int) string { return token + "#r" + strconv.Itoa(k) }

// Repair makes sure that every row of blocks, the flush of r, is in ClickHouse
// after Store(ctx, pipeline.Token(r), blocks) returned nil, and re-inserts the
// rows that are not. It returns how many rows it found missing at first, and how
// many were still missing after maxRepairRounds re-inserts that ClickHouse
// accepted (rows a TTL or a DELETE removes; retrying does not help). It is meant
// for a flush whose outcome was unknown at some point (a failed Store attempt, or
// a replay of a range an earlier owner may have stored): a non-replicated
// MergeTree writes an insert's token to its deduplication log before the insert's
// part becomes active, so a server killed in between keeps the token and loses
// the part, and storing the token again stores nothing (docs/exactly-once.md).
//
// Only a range the ledger records as repairable and recorded before the server's
// last start (mayHaveLost) can have lost anything; any other costs one query.
// For the others, per block: raw rows (the blocks with _topic, _topic_id,
// _partition and _offset) and event ids (EventIDsTable) are looked up by
// partition and offset; rollup rows by their flush markers
// (schemas.FlushColumn), one per table partition. A block of another shape cannot
// be checked and is taken as stored. The missing rows (raw and ids: those
// offsets; rollups: every row of a partition whose marker is missing) are stored
// under repairToken(token, k), and checked again: a round can itself be lost, or
// be dropped because an earlier repair used its token and was lost, so k grows
// until nothing is missing.
//
// Exact: the server records a token and activates its part under one lock, so
// once the Store of the token returned, any insert of the flush still running
// (an attempt whose reply was lost, an earlier owner's) either committed before
// (the check sees its rows) or is dropped when it commits; a round re-inserts
// only rows absent then. Each round's token is one its flush never used in this
// table before, or it is dropped and the next k is tried, so the rounds end as
// soon as one insert both is new and survives. An error leaves the flush to be
// repaired again by the caller, from k = 1: rounds an earlier call stored are
// found present, rounds it lost are dropped again, and a round it left running
// races the new call's round of the same token, one of which is dropped.
//
// Repair is for one server (no SLUICE_CLICKHOUSE_CLUSTER: replicated tables
// commit the token and the part together). It is safe for concurrent use.
func (c *Client) Repair(ctx context.Context, r pipeline.Range, blocks []schemas.Block) (lost, unrepaired int, err error) {
	if ok, err := c.mayHaveLost(ctx, r); err != nil || !ok {
		return 0, 0, err
	}
	token := pipeline.Token(r)
	for k := 1; ; k++ {
		missing, err := c.missing(ctx, blocks)
		if err != nil {
			return lost, 0, err
		}
		rows := 0
		for _, b := range missing {
			rows += b.Rows
		}
		if k == 1 {
			lost = rows
		}
		if rows == 0 || k > maxRepairRounds {
			return lost, rows, nil
		}
		if err := c.Store(ctx, repairToken(token, k), missing); err != nil {
			return lost, 0, err
		}
	}
}

// restartMargin is how long after the server's start a range recorded is still
// checked. now() − uptime() (whole seconds) is the start or up to a second after
// it, on the clock that wrote the ledger row just before the flush's inserts; the
// margin adds a second for that clock's slew.
const restartMargin = time.Second

// mayHaveLost reports whether the flush of r may have been hit by a server crash:
// the ledger records r as repairable (see Intend) and the server has started since
// shortly before r was recorded. A server up since before a range was recorded
// ran every insert of its flush and has not crashed since, so it lost none of
// them; the check then costs this one query.
func (c *Client) mayHaveLost(ctx context.Context, r pipeline.Range) (bool, error) {
	var n uint64
	q := "SELECT count() FROM " + qualified(c.db, LedgerTable) + " WHERE `group` = ? AND `topic` = ? AND `topic_id` = ?" +
		" AND `partition` = ? AND `first` = ? AND `last` = ? AND `repairable` = 1"
	if !c.checkAll {
		q += fmt.Sprintf(" AND `written_at` < now64(3) - toIntervalSecond(uptime()) + toIntervalMillisecond(%d)", restartMargin.Milliseconds())
	}
	if err := c.conn.QueryRow(ctx, q, r.Group, r.Topic, r.TopicID, r.Partition, r.First, r.Last).Scan(&n); err != nil {
		return false, fmt.Errorf("clickhouse: ledger range of flush %s: %w", pipeline.Token(r), c.redact(err))
	}
	return n > 0, nil
}

// missing returns, for each block with rows ClickHouse does not hold, a block of
// those rows.
func (c *Client) missing(ctx context.Context, blocks []schemas.Block) ([]schemas.Block, error) {
	var out []schemas.Block
	for i := range blocks {
		b := &blocks[i]
		if b.Rows == 0 {
			continue
		}
		var rows []int
		var err error
		switch {
		case slices.Contains(b.Names, schemas.FlushColumn):
			rows, err = c.missingRollup(ctx, b)
		case b.Table == EventIDsTable:
			rows, err = c.missingOffsets(ctx, b, offsetColumns{group: "group", topic: "topic", topicID: "topic_id", partition: "partition", offset: "offset"})
		case hasAll(b.Names, rawOffsets.topic, rawOffsets.topicID, rawOffsets.partition, rawOffsets.offset):
			rows, err = c.missingOffsets(ctx, b, rawOffsets)
		}
		if err != nil {
			return nil, err
		}
		if len(rows) > 0 {
			out = append(out, schemas.SelectRows(*b, rows))
		}
	}
	return out, nil
}

// offsetColumns name the columns that tell which record a row came from; group is
// "" for a table without one (the raw tables).
type offsetColumns struct{ group, topic, topicID, partition, offset string }

// rawOffsets are the raw tables' provenance columns.
var rawOffsets = offsetColumns{topic: "_topic", topicID: "_topic_id", partition: "_partition", offset: "_offset"}

func hasAll(names []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(names, w) {
			return false
		}
	}
	return true
}

// missingOffsets returns the rows of b whose (group, topic, topic id, partition,
// offset) the table lacks. Rows stored without a topic id count when the
// incarnation owns them (ClaimTopics).
func (c *Client) missingOffsets(ctx context.Context, b *schemas.Block, oc offsetColumns) ([]int, error) {
	col := func(name string) any { return b.Columns[slices.Index(b.Names, name)] }
	type source struct {
		group, topic, topicID string
		partition             int32
	}
	str := func(name string, i int) string {
		if name == "" {
			return ""
		}
		return fmt.Sprint(schemas.ColumnValue(col(name), i))
	}
	parts, ok1 := col(oc.partition).([]int32)
	offsets, ok2 := col(oc.offset).([]int64)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: table %s: columns %s and %s are a %T and a %T, not []int32 and []int64",
			ErrInvalidBlock, b.Table, oc.partition, oc.offset, col(oc.partition), col(oc.offset))
	}
	bySource := map[source][]int{}
	for i := range b.Rows {
		s := source{str(oc.group, i), str(oc.topic, i), str(oc.topicID, i), parts[i]}
		bySource[s] = append(bySource[s], i)
	}
	var out []int
	for s, rows := range bySource {
		lo, hi := offsets[rows[0]], offsets[rows[0]]
		for _, r := range rows {
			lo, hi = min(lo, offsets[r]), max(hi, offsets[r])
		}
		id, alt := c.claims.topicIDs(s.topic, s.topicID)
		q := "SELECT DISTINCT " + quote(oc.offset) + " FROM " + qualified(c.db, b.Table) +
			" WHERE " + quote(oc.topic) + " = ? AND " + quote(oc.topicID) + " IN (?, ?) AND " + quote(oc.partition) + " = ?" +
			" AND " + quote(oc.offset) + " BETWEEN ? AND ?"
		args := []any{s.topic, id, alt, s.partition, lo, hi}
		if oc.group != "" {
			q += " AND " + quote(oc.group) + " = ?"
			args = append(args, s.group)
		}
		bounds, err := c.partitionBounds(ctx, b, rows)
		if err != nil {
			return nil, err
		}
		q += bounds
		have := map[int64]bool{}
		if err := c.scan(ctx, q, args, func(scan func(...any) error) error {
			var off int64
			if err := scan(&off); err != nil {
				return err
			}
			have[off] = true
			return nil
		}); err != nil {
			return nil, fmt.Errorf("clickhouse: verify %s rows of %s/%d [%d, %d]: %w", b.Table, s.topic, s.partition, lo, hi, err)
		}
		for _, r := range rows {
			if !have[offsets[r]] {
				out = append(out, r)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// partitionBounds is a filter, " AND col BETWEEN lo AND hi …", that holds for
// the rows of b and bounds every time column of b the table's partition key reads
// (system.tables): ClickHouse then skips the parts outside the rows' time span by
// the partition key's min-max index, where the provenance columns (not in the
// sorting key) would be read from every part. The filter is true of every row
// asked about, so it narrows what is read, never what is found.
func (c *Client) partitionBounds(ctx context.Context, b *schemas.Block, rows []int) (string, error) {
	keyCols, err := c.partitionKeyColumns(ctx, b.Table)
	if err != nil {
		return "", err
	}
	var f strings.Builder
	for i, name := range b.Names {
		if !keyCols[name] {
			continue
		}
		var ms []int64
		switch col := b.Columns[i].(type) {
		case schemas.MillisColumn:
			for _, r := range rows {
				ms = append(ms, col[r])
			}
		case []time.Time:
			for _, r := range rows {
				ms = append(ms, col[r].UnixMilli())
			}
		default:
			continue
		}
		fmt.Fprintf(&f, " AND %s BETWEEN fromUnixTimestamp64Milli(%d, 'UTC') AND fromUnixTimestamp64Milli(%d, 'UTC')",
			quote(name), slices.Min(ms), slices.Max(ms))
	}
	return f.String(), nil
}

// partitionKeyColumns returns the names the partition key of table mentions,
// read from system.tables once per table (a table re-created with another key
// only makes the bounds of partitionBounds prune less).
func (c *Client) partitionKeyColumns(ctx context.Context, table string) (map[string]bool, error) {
	if v, ok := c.partitionKeys.Load(table); ok {
		return v.(map[string]bool), nil
	}
	var key string
	if err := c.scan(ctx, "SELECT partition_key FROM system.tables WHERE database = ? AND name = ?", []any{c.db, table},
		func(scan func(...any) error) error { return scan(&key) }); err != nil {
		return nil, fmt.Errorf("clickhouse: partition key of %s: %w", table, err)
	}
	names := map[string]bool{}
	for _, w := range strings.FieldsFunc(key, func(r rune) bool {
		return !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) {
		names[w] = true
	}
	c.partitionKeys.Store(table, names)
	return names, nil
}

// missingRollup returns the rows of rollup block b in the table partitions whose
// flush marker the table lacks (schemas.FlushColumn).
func (c *Client) missingRollup(ctx context.Context, b *schemas.Block) ([]int, error) {
	wins := b.Columns[slices.Index(b.Names, "window_start")]
	flush, ok := b.Columns[slices.Index(b.Names, schemas.FlushColumn)].([]uint64)
	if !ok {
		return nil, fmt.Errorf("%w: table %s: column %s is a %T, not []uint64", ErrInvalidBlock, b.Table, schemas.FlushColumn, b.Columns[slices.Index(b.Names, schemas.FlushColumn)])
	}
	month := func(i int) int32 { return schemas.RollupMonth(schemas.ColumnValue(wins, i).(time.Time)) }
	markers := map[uint64]int32{} // flush id → its partition
	var ids, windows []string
	for i, f := range flush {
		if f != 0 {
			markers[f] = month(i)
			ids = append(ids, strconv.FormatUint(f, 10))
			windows = append(windows, strconv.FormatInt(schemas.ColumnValue(wins, i).(time.Time).Unix(), 10))
		}
	}
	if len(markers) == 0 {
		return nil, nil
	}
	// window_start leads the sorting key and decides the partition: the markers
	// are found without reading other partitions.
	q := "SELECT DISTINCT " + quote(schemas.FlushColumn) + " FROM " + qualified(c.db, b.Table) +
		" WHERE `window_start` IN (" + strings.Join(windows, ", ") + ") AND " + quote(schemas.FlushColumn) + " IN (" + strings.Join(ids, ", ") + ")"
	if err := c.scan(ctx, q, nil, func(scan func(...any) error) error {
		var f uint64
		if err := scan(&f); err != nil {
			return err
		}
		delete(markers, f)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("clickhouse: verify %s flush markers: %w", b.Table, err)
	}
	if len(markers) == 0 {
		return nil, nil
	}
	lostMonths := map[int32]bool{}
	for _, m := range markers {
		lostMonths[m] = true
	}
	var out []int
	for i := range b.Rows {
		if lostMonths[month(i)] {
			out = append(out, i)
		}
	}
	return out, nil
}

// scan runs q with args and calls row for each result row with its Scan.
func (c *Client) scan(ctx context.Context, q string, args []any, row func(scan func(...any) error) error) error {
	rows, err := c.conn.Query(ctx, q, args...)
	if err != nil {
		return c.redact(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return c.redact(err)
	}
	return nil
}
