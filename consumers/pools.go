package consumers

import (
	"bytes"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchPools lends the client the two buffers every fetched record batch needs,
// the bytes it is decompressed into and the Records it is decoded into
// (kgo.WithPools), so that consuming does not allocate them afresh per batch: a
// stream of small records otherwise allocates about twice its decompressed size,
// and under the memory budget's soft limit every allocated byte brings the next
// garbage collection nearer. A batch's buffers come back once each of its records
// is recycled (kgo.Record.Recycle, see Worker); a record never recycled is left to
// the garbage collector with its buffers. Idle buffers are the sync.Pools', which
// the collector empties.
//
// Buffers are kept in size classes of a quarter octave, so a buffer is at most a
// quarter larger than what it was taken for.
type fetchPools struct {
	bytes   [poolClasses]sync.Pool // []byte of capacity classSize(i)
	records [poolClasses]sync.Pool // []kgo.Record of capacity classSize(i)
}

const (
	poolClasses  = 4 * 27 // classes up to 2^27: far beyond a fetch's largest batch
	minPoolClass = 4 * 6  // 64: smaller requests are rounded up
)

// classSize is the capacity of size class i: (4 + i%4) << (i/4 - 2).
func classSize(i int) int { return (4 + i%4) << (i/4 - 2) }

// classFor is the smallest class whose size is at least n, or -1 beyond the last.
func classFor(n int) int {
	if n <= classSize(minPoolClass) {
		return minPoolClass
	}
	i := classBelow(n)
	if classSize(i) < n {
		i++
	}
	if i >= poolClasses {
		return -1
	}
	return i
}

// classBelow is the largest class whose size is at most n (n ≥ 4).
func classBelow(n int) int {
	k := bits.Len(uint(n)) - 1 // 2^k ≤ n < 2^(k+1)
	sub := (n >> (k - 2)) & 3  // the two bits below the top one
	return 4*k + sub
}

// GetDecompressBytes implements kgo.PoolDecompressBytes. A snappy batch says how
// large it decompresses to; for the other codecs the guess is four times the
// compressed size, and a buffer that turns out too small is grown by the codec
// and comes back to the class of its new size.
func (p *fetchPools) GetDecompressBytes(compressed []byte, codec kgo.CompressionCodecType) []byte {
	n := 4 * len(compressed)
	if codec == kgo.CodecSnappy && !bytes.HasPrefix(compressed, xerialPrefix) {
		if l, err := s2.DecodedLen(compressed); err == nil {
			n = l
		}
	}
	i := classFor(n)
	if i < 0 {
		return nil
	}
	if b, ok := p.bytes[i].Get().([]byte); ok {
		return b
	}
	return make([]byte, 0, classSize(i))
}

// xerialPrefix starts snappy batches framed the way the Java producer writes them,
// whose decoded size the first block does not tell.
var xerialPrefix = []byte{130, 83, 78, 65, 80, 80, 89, 0}

// PutDecompressBytes implements kgo.PoolDecompressBytes.
func (p *fetchPools) PutDecompressBytes(b []byte) {
	if c := cap(b); c >= classSize(minPoolClass) {
		if i := classBelow(c); i < poolClasses {
			p.bytes[i].Put(b[:0]) //nolint:staticcheck // a slice header per batch, not per record
		}
	}
}

// GetRecords implements kgo.PoolRecords.
func (p *fetchPools) GetRecords(n int) []kgo.Record {
	i := classFor(n)
	if i < 0 {
		return nil
	}
	if r, ok := p.records[i].Get().([]kgo.Record); ok {
		return r
	}
	return make([]kgo.Record, 0, classSize(i))
}

// PutRecords implements kgo.PoolRecords.
func (p *fetchPools) PutRecords(r []kgo.Record) {
	if c := cap(r); c >= classSize(minPoolClass) {
		if i := classBelow(c); i < poolClasses {
			p.records[i].Put(r[:0]) //nolint:staticcheck // a slice header per batch, not per record
		}
	}
}
