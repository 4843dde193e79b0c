package pipeline

import (
	"testing"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRecordSpanCoversReadFields checks prefetchRecord's span against the
// client's Record layout: every field process and Recycle read lies within it.
func TestRecordSpanCoversReadFields(t *testing.T) {
	var r kgo.Record
	start := recordSpanStart
	for _, f := range []struct {
		name      string
		off, size uintptr
	}{
		{"Value", unsafe.Offsetof(r.Value), unsafe.Sizeof(r.Value)},
		{"Headers", unsafe.Offsetof(r.Headers), unsafe.Sizeof(r.Headers)},
		{"Timestamp", unsafe.Offsetof(r.Timestamp), unsafe.Sizeof(r.Timestamp)},
		{"Offset", unsafe.Offsetof(r.Offset), unsafe.Sizeof(r.Offset)},
		{"Context", unsafe.Offsetof(r.Context), unsafe.Sizeof(r.Context)},
	} {
		if f.off < start || f.off+f.size > start+recordSpan {
			t.Errorf("Record.%s at [%d, %d) is outside the prefetched [%d, %d)", f.name, f.off, f.off+f.size, start, start+recordSpan)
		}
	}
}
