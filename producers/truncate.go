package producers

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Upper bounds of a record's framing in a record batch (magic 2), as franz-go
// counts it against ProducerBatchMaxBytes: the batch header with its array length,
// the record's own varints (length, attributes, timestamp and offset deltas, key
// and value lengths, header count), and each header's two length varints.
const (
	batchOverhead  = 65
	recordOverhead = 5 + 1 + 10 + 5 + 5 + 5 + 5
	headerOverhead = 5 + 5
)

// batchSize bounds the size of a record batch holding r alone.
func batchSize(r *kgo.Record) int {
	n := batchOverhead + recordOverhead + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += headerOverhead + len(h.Key) + len(h.Value)
	}
	return n
}

// truncate cuts r's value (and, if that is not enough, its key) so that a batch
// holding r alone takes at most limit bytes, and appends the headers saying so.
func truncate(r *kgo.Record, limit int) {
	sum := sha256.Sum256(r.Value)
	r.Headers = append(r.Headers[:len(r.Headers):len(r.Headers)],
		kgo.RecordHeader{Key: HeaderTruncated, Value: []byte("true")},
		kgo.RecordHeader{Key: HeaderOriginalSize, Value: strconv.AppendInt(nil, int64(len(r.Value)), 10)},
		kgo.RecordHeader{Key: HeaderOriginalSHA256, Value: hex.AppendEncode(nil, sum[:])},
	)
	over := batchSize(r) - limit
	cut := min(over, len(r.Value))
	r.Value = r.Value[:len(r.Value)-cut]
	if over -= cut; over > 0 {
		r.Key = r.Key[:len(r.Key)-min(over, len(r.Key))]
	}
}
