package pipeline

import (
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// How far ahead of the record it adds, recs[i], process asks for the cache
// lines of a record (prefetchRecord), and for the line of the slice that holds
// recs[i+pointersAhead]: two lines of pointers ahead, so the line that
// recordAhead reads next was asked for a line before. A fetched slice's records
// were decoded by the client long before the worker takes them and are out of
// the core's caches by then, so without the hints each record's first loads
// wait for memory.
const (
	recordAhead   = 4
	pointersAhead = 16
)

// prefetchRecord asks for the cache lines of *r that process and Recycle read,
// from Value to the end of Context (the struct's last field), and for the line
// of next, without loading any of them: a hint only, it changes nothing that
// any load returns. (r's value follows the value before it in the client's
// buffer, which the hardware prefetcher streams.)
func prefetchRecord(r *kgo.Record, next **kgo.Record) {
	// unsafe.Add, not &r.Value: taking a field's address checks r for nil with
	// a load from *r, which would wait for the very line the hint asks for.
	prefetchSpan((*uint64)(unsafe.Add(unsafe.Pointer(r), recordSpanStart)), recordSpan, (*uint64)(unsafe.Pointer(next)))
}

// recordSpanStart is where in a kgo.Record the span prefetchRecord asks for starts.
const recordSpanStart = unsafe.Offsetof(kgo.Record{}.Value)

// recordSpan is the bytes of a kgo.Record that prefetchRecord asks for.
const recordSpan = unsafe.Offsetof(kgo.Record{}.Context) + unsafe.Sizeof(kgo.Record{}.Context) - recordSpanStart
