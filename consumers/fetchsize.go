package consumers

import (
	"math"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// FetchSizes sizes the client's fetches by the memory their records take once
// decoded, the unit the memory budget counts them in (keys, values and
// RecordOverhead per record), rather than by the bytes a broker counts, which are
// compressed: a snappy fetch of JSON events takes about six times its size once
// decoded, a zstd one ten or more, and an uncompressed one about twice. The group
// asks the brokers for these sizes divided by the expansion it observed in the
// batches fetched lately (decoded memory per fetched byte), assuming
// initialExpansion until it has seen resizeWindow fetched bytes.
type FetchSizes struct {
	// Response is the most memory one fetch response may take decoded: all the
	// partitions one broker leads, which the client buffers until they are polled.
	Response int64
	// Partition is the most memory one partition's part of a response may take
	// decoded (a broker still returns one record batch that is larger).
	Partition int64
	// MaxPartition caps one partition's part in bytes as fetched, whatever the
	// expansion (0: no cap).
	MaxPartition int32
}

const (
	// initialExpansion is the expansion assumed before any is observed: that of
	// snappy-compressed JSON events, the producers' default.
	initialExpansion = 6
	// resizeWindow is how many fetched (compressed) bytes one estimate of the
	// expansion averages over.
	resizeWindow = 256 << 10
	// resizeStep is how far, as a fraction, a new estimate must differ from the one
	// in use before the fetch sizes follow it.
	resizeStep = 0.2
	// minAsked is the smallest size asked for one partition.
	minAsked = 1 << 10
)

// asked is what to ask the brokers for at expansion e: the response and partition
// sizes, in bytes as fetched.
func (f FetchSizes) asked(e float64) (response, partition int32) {
	e = max(e, 1)
	part := max(int64(float64(f.Partition)/e), minAsked)
	if f.MaxPartition > 0 {
		part = min(part, int64(f.MaxPartition))
	}
	resp := max(int64(float64(f.Response)/e), part)
	return int32(min(resp, math.MaxInt32)), int32(min(part, math.MaxInt32))
}

// expansion observes the fetched batches (kgo.HookFetchBatchRead): the bytes the
// brokers sent and the memory their records take decoded, as Group.hold counts it.
type expansion struct {
	fetched, decoded atomic.Int64

	// Owned by the poll loop (resize): the totals at the last estimate, and the
	// expansion the sizes asked for now follow.
	seenFetched, seenDecoded int64
	applied                  float64
}

// OnFetchBatchRead implements kgo.HookFetchBatchRead.
func (x *expansion) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	x.fetched.Add(int64(m.CompressedBytes))
	x.decoded.Add(int64(m.UncompressedBytes) + int64(m.NumRecords)*RecordOverhead)
}

// estimate returns the expansion of the batches fetched since the last estimate,
// and false while they are fewer than resizeWindow bytes.
func (x *expansion) estimate() (float64, bool) {
	f, d := x.fetched.Load(), x.decoded.Load()
	df, dd := f-x.seenFetched, d-x.seenDecoded
	if df < resizeWindow {
		return 0, false
	}
	x.seenFetched, x.seenDecoded = f, d
	return float64(dd) / float64(df), true
}

// resize follows the expansion of the latest fetched batches with the sizes the
// client asks the brokers for (Options.Fetch), once it moved by more than
// resizeStep; the poll loop calls it after every poll.
func (g *Group) resize() {
	if g.o.Fetch.Partition <= 0 {
		return
	}
	x := &g.expansion
	e, ok := x.estimate()
	if !ok || math.Abs(e-x.applied) <= resizeStep*x.applied {
		return
	}
	x.applied = e
	resp, part := g.o.Fetch.asked(e)
	g.cl.UpdateFetchMaxBytes(resp, part)
	g.log.Debug("fetch sizes follow the records' expansion", "expansion", math.Round(e*10)/10, "response_bytes", resp, "partition_bytes", part)
}
