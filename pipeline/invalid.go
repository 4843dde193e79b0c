package pipeline

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

const (
	// invalidWindow is how many records of a partition invalidWatch judges at a
	// time (at least; a window ends with the flush that completes it).
	invalidWindow = 1000
	// invalidShare is the share of invalid records in a window that warns.
	invalidShare = 0.95
	// invalidTopReasons is how many reasons the warning names.
	invalidTopReasons = 3
)

// invalidWatch tells when (almost) every record of a partition is invalid, most
// likely the wrong topic wired to an event type, instead of dead-lettering them all
// in silence. Flush by flush it adds up windows of at least invalidWindow records;
// a window at least invalidShare invalid warns once, naming the top reasons, and
// the next window below that share ends the incident. It costs nothing per record:
// it reads a stored batch's record count and its dead letters by reason, which the
// worker counts anyway. It belongs to one worker's store stage.
type invalidWatch struct {
	records, invalid int64
	reasons          map[string]int64 // of the current window
	warned           bool             // an incident is under way
}

// invalidVerdict is what a window of invalidWatch said.
type invalidVerdict int

const (
	invalidNone  invalidVerdict = iota // the window is not complete, or nothing changed
	invalidStart                       // the window is almost all invalid: warn
	invalidEnd                         // after an incident, a window below the share
)

// add counts a stored batch of n records and its dead letters by reason. At the
// end of a window it returns the verdict, and for invalidStart the window's counts
// and top reasons ("missing_field=950, malformed_json=40").
func (v *invalidWatch) add(n int64, reasons map[string]int64) (verdict invalidVerdict, invalid, records int64, top string) {
	v.records += n
	for r, c := range reasons {
		if v.reasons == nil {
			v.reasons = make(map[string]int64, len(reasons))
		}
		v.reasons[r] += c
		v.invalid += c
	}
	if v.records < invalidWindow {
		return invalidNone, 0, 0, ""
	}
	invalid, records = v.invalid, v.records
	bad := float64(invalid) >= invalidShare*float64(records)
	switch {
	case bad && !v.warned:
		v.warned, verdict, top = true, invalidStart, topReasons(v.reasons, invalidTopReasons)
	case !bad && v.warned:
		v.warned, verdict = false, invalidEnd
	}
	v.records, v.invalid = 0, 0
	clear(v.reasons)
	return verdict, invalid, records, top
}

// topReasons formats the k most frequent reasons of m, most frequent first.
func topReasons(m map[string]int64, k int) string {
	rs := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	parts := make([]string, 0, k)
	for _, r := range rs[:min(k, len(rs))] {
		parts = append(parts, fmt.Sprintf("%s=%d", r, m[r]))
	}
	return strings.Join(parts, ", ")
}

// checkInvalid runs w's invalidWatch on a stored batch and logs its verdict.
func (w *Worker) checkInvalid(s *slot) {
	switch verdict, invalid, records, top := w.invalid.add(s.n, s.reasons); verdict {
	case invalidStart:
		w.log.Warn("almost every record of this partition is invalid and dead-lettered: is the right topic configured for this event type?",
			"invalid", invalid, "records", records, "top_reasons", top)
	case invalidEnd:
		w.log.Info("records of this partition are mostly valid again")
	}
}
