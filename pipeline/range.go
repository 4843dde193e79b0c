package pipeline

import (
	"encoding/base64"
	"strconv"
)

// Range identifies the records of one partition that one flush stores: the offsets of
// its first and last record, inclusive. A flush's inserts and its deduplication token are
// a pure function of its Range, so replaying the same Range stores nothing twice.
//
// TopicID is the incarnation of Topic the records came from (TopicID), so that a
// topic deleted and created again under the same name, whose offsets start over,
// never matches a Range of the earlier one. It is empty when the broker does not send
// topic ids, and in ranges recorded before topic ids were kept.
type Range struct {
	Group     string
	Topic     string
	TopicID   string
	Partition int32
	First     int64
	Last      int64
}

// Token is the deduplication token of the flush of r:
// group:topic@topic-id:partition:first-last, or group:topic:partition:first-last
// when r has no TopicID (the form of every range recorded before topic ids were
// kept, so that replaying one of them reuses its token).
func Token(r Range) string {
	b := make([]byte, 0, len(r.Group)+len(r.Topic)+len(r.TopicID)+49)
	b = append(b, r.Group...)
	b = append(b, ':')
	b = append(b, r.Topic...)
	if r.TopicID != "" {
		b = append(b, '@')
		b = append(b, r.TopicID...)
	}
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, r.First, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.Last, 10)
	return string(b)
}

// TopicID is the text form of a Kafka topic id, as Kafka's tools print it
// (URL-safe base64 without padding); the zero id, which brokers without topic ids
// send, is "".
func TopicID(id [16]byte) string {
	if id == ([16]byte{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}
