package schemas

import (
	"errors"
	"time"
)

// Invalid reports a record that is not a valid event. Reason is short, stable and
// machine-readable (e.g. "missing_field", "bad_enum", "malformed_json"); Field names the
// JSON field at fault when there is one; Detail is free text for people.
type Invalid struct {
	Reason string
	Field  string
	Detail string
}

func (e *Invalid) Error() string {
	s := "invalid event: " + e.Reason
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// ErrDuplicate is returned by Batch.Add for a valid event whose event_id the batch's
// Dedup filter has already admitted: the record is skipped, not dead-lettered.
var ErrDuplicate = errors.New("duplicate event_id")

// Dedup decides whether an event is new. Admit returns true the first time it sees id
// (and remembers it) and false for a repeat. timestamp is the record's Kafka timestamp
// (Meta.Timestamp) in Unix nanoseconds and offset its offset (Meta.Offset): the
// horizon of a repeat is measured on record timestamps, and an admitted id is stored
// with its offset. Admit is called once per valid event, in record order, by the
// goroutine that owns the Batch.
//
// id shares memory with the Batch's string arena (16 KiB chunks): an implementation
// that keeps ids must copy them (strings.Clone), or each kept id pins a chunk.
type Dedup interface {
	Admit(id string, timestamp, offset int64) bool
}

// idPrefetcher is a Dedup that can start fetching what Admit will read for id; a
// Batch calls Prefetch as soon as it has decoded a record's id, and Admit once the
// record has been decoded and validated. It is only a hint.
type idPrefetcher interface{ Prefetch(id string) }

// Options configures a Batch.
type Options struct {
	// Window is the tumbling rollup window width on occurred_at; zero means one minute.
	Window time.Duration
	// Raw enables the raw-table block.
	Raw bool
	// SkipRollups disables the rollup block (raw-only ingestion).
	SkipRollups bool
	// Dedup, when non-nil, filters repeated event_ids (see ErrDuplicate).
	Dedup Dedup
	// Limits bound what a record may hold; zero values take the defaults.
	Limits Limits
}

// Limits bound hostile input. A record beyond any of them is Invalid.
type Limits struct {
	MaxRecordBytes     int // default 64 KiB
	MaxStringBytes     int // default 1 KiB (event_id is always at most 64 bytes)
	MaxMetadataEntries int // default 64
	// MaxLateness rejects (ReasonTooLate) an event whose occurred_at is more than
	// this before its record's Kafka timestamp; MaxClockSkew rejects
	// (ReasonFromFuture) one more than this after it. Zero means no limit (these two
	// have no default here; the configuration supplies 168h and 15m).
	MaxLateness, MaxClockSkew time.Duration
}
