package schemas

// OffsetsProjection names the projection every raw table keeps: its rows' Kafka
// provenance (_topic, _topic_id, _partition, _offset), event id and _timestamp,
// ordered by provenance. Reading one partition's rows by offset (the
// producer-duplicate filter's rebuild, a check of what a range stored) then reads
// those rows only, not a table ordered by business keys. ClickHouse writes it in the
// same part as the rows, so it holds exactly the rows that are stored.
const OffsetsProjection = "sluice_offsets"

// offsetsProjection is the PROJECTION clause of a raw table whose event id is the
// column eventID ("" for a type without one).
func offsetsProjection(eventID string) string {
	return "PROJECTION " + OffsetsProjection + " (" + offsetsProjectionQuery(eventID) + ")"
}

func offsetsProjectionQuery(eventID string) string {
	cols := "`_topic`, `_topic_id`, `_partition`, `_offset`, "
	if eventID != "" {
		cols += quoteIdent(eventID) + ", "
	}
	return "SELECT " + cols + "`_timestamp` ORDER BY (`_topic`, `_topic_id`, `_partition`, `_offset`)"
}

// AddOffsetsProjection returns the statements that give t's raw table, created
// before raw tables had it, OffsetsProjection: ALTER TABLE … ADD PROJECTION IF NOT
// EXISTS, which new parts get at once, then MATERIALIZE PROJECTION, a mutation the
// server runs in the background to build it for the parts written before (until it
// has, those parts are read without it: slower, never different). On a cluster they
// alter the local table on every server. They are nil when t stores no raw rows.
// Run them only for a table that lacks the projection: MATERIALIZE rebuilds it in
// every part each time.
func AddOffsetsProjection(o DDLOptions, t *EventType) []string {
	if !t.raw {
		return nil
	}
	_, tb := o.tables()
	table := t.table
	if tb.cluster != "" {
		table += LocalSuffix
	}
	alter := "ALTER TABLE " + quoteIdent(tb.db) + "." + quoteIdent(table) + tb.onCluster(" ")
	return []string{
		alter + " ADD PROJECTION IF NOT EXISTS " + OffsetsProjection + " (" + offsetsProjectionQuery(t.EventID()) + ")",
		alter + " MATERIALIZE PROJECTION " + OffsetsProjection,
	}
}
