package schemas

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// TestCheckTimeNanos: the integer fast path decides every event as checkTime
// does, at the limits' edges, with a limit off or at its largest, and with times
// inside, at the edge of and beyond the range it compares as integers.
func TestCheckTimeNanos(t *testing.T) {
	limits := []Limits{
		{MaxLateness: 48 * time.Hour, MaxClockSkew: 10 * time.Minute},
		{MaxLateness: 0, MaxClockSkew: time.Second},
		{MaxLateness: time.Hour, MaxClockSkew: 0},
		{},
		{MaxLateness: math.MaxInt64, MaxClockSkew: math.MaxInt64},
	}
	stamps := []time.Time{
		{},
		time.UnixMilli(0),
		time.UnixMilli(1_764_600_000_123),
		time.Unix(nearSec-1, 999_000_000),
		time.Unix(nearSec, 0),
		time.Unix(-nearSec+1, 0),
		time.Unix(-nearSec, 0),
		time.Unix(3*nearSec, 0), // its UnixNano wraps
		time.Unix(-3*nearSec, 0),
		time.UnixMilli(math.MaxInt64),
		time.UnixMilli(math.MinInt64),
	}
	for _, l := range limits {
		offsets := []int64{0, 1, -1, math.MaxInt64, math.MinInt64}
		for _, lim := range []time.Duration{l.MaxLateness, l.MaxClockSkew, time.Hour} {
			offsets = append(offsets, int64(lim), int64(lim)+1, int64(lim)-1, -int64(lim), -int64(lim)-1, -int64(lim)+1)
		}
		for _, ts := range stamps {
			base := ts.UnixNano()
			for _, off := range offsets {
				for _, occurred := range []int64{base - off, off, nearSec*1e9 - 1, nearSec * 1e9, -nearSec*1e9 + 1, -nearSec * 1e9} {
					m := Meta{Timestamp: ts}
					got := l.checkTimeNanos("occurred_at", occurred, &m)
					want := l.checkTime("occurred_at", time.Unix(0, occurred), &m)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("limits %+v, timestamp %v, event %d ns: fast path %v, checkTime %v", l, ts, occurred, got, want)
					}
				}
			}
		}
	}
}
