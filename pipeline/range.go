package pipeline

import "strconv"

// Range identifies the records of one partition that one flush stores: the offsets of
// its first and last record, inclusive. A flush's inserts and its deduplication token are
// a pure function of its Range, so replaying the same Range stores nothing twice.
type Range struct {
	Group     string
	Topic     string
	Partition int32
	First     int64
	Last      int64
}

// Token is the deduplication token of the flush of r: group:topic:partition:first-last.
func Token(r Range) string {
	b := make([]byte, 0, len(r.Group)+len(r.Topic)+48)
	b = append(b, r.Group...)
	b = append(b, ':')
	b = append(b, r.Topic...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, r.First, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.Last, 10)
	return string(b)
}
