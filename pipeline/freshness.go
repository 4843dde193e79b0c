package pipeline

import (
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// Flush describes one stored flush to an Observer: which records it stored, when,
// and a sample of their Kafka timestamps. It and its slices are valid only during
// the Observer's call.
type Flush struct {
	Range Range
	Token string
	// Records is how many records the flush covers (valid, invalid and duplicates);
	// Events how many valid events it stored.
	Records int64
	Events  int
	// Blocks are the inserts it stored (raw rows, rollups, event ids).
	Blocks []schemas.Block
	// Stored is when the sink returned.
	Stored time.Time
	// Published are the Kafka timestamps (Unix nanoseconds) of up to SampleSize of the
	// flush's valid events, spread evenly over the batch in offset order and
	// including its first one. Each stands for Events / len(Published) events.
	Published []int64
}

// Observer is told about every flush once its blocks are stored, before its offsets
// are marked. It is called from the workers' store stages, concurrently, once per
// flush (never per event), and must not block.
type Observer interface {
	Stored(f *Flush)
}

// SampleSize is the most Kafka timestamps a Flush carries.
const SampleSize = 32

// sampler keeps the Kafka timestamps of an even spread of a batch's valid events
// without allocating: every 2^shift-th event is kept, and when the sample is full
// every other one is dropped and shift grows by one. Its per-event cost is one mask
// test and an increment. The zero value is empty.
type sampler struct {
	ts    [SampleSize]int64
	n     int   // timestamps held
	seen  int64 // events offered since reset
	shift uint  // events kept are those whose index is a multiple of 1<<shift
}

// add offers the Kafka timestamp of one valid event.
func (s *sampler) add(ts int64) {
	if s.seen&(1<<s.shift-1) == 0 {
		if s.n == SampleSize {
			// seen is then a multiple of 2<<shift, so it is kept below too.
			for i := range SampleSize / 2 {
				s.ts[i] = s.ts[2*i]
			}
			s.n = SampleSize / 2
			s.shift++
		}
		s.ts[s.n] = ts
		s.n++
	}
	s.seen++
}

// sample returns the kept timestamps, in the order they were added.
func (s *sampler) sample() []int64 { return s.ts[:s.n] }

// reset empties the sampler.
func (s *sampler) reset() { s.n, s.seen, s.shift = 0, 0, 0 }

// observe reports a stored flush of slot s to the Observer, if there is one.
func (w *Worker) observe(s *slot, token string, blocks []schemas.Block, stored time.Time) {
	o := w.p.deps.Observer
	if o == nil {
		return
	}
	f := &s.report
	*f = Flush{Range: s.r, Token: token, Records: s.n, Events: int(s.fresh.seen), Blocks: blocks,
		Stored: stored, Published: s.fresh.sample()}
	o.Stored(f)
	*f = Flush{}
}
