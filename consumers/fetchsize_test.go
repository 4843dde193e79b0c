package consumers

import (
	"math"
	"testing"
)

func TestFetchSizesAsked(t *testing.T) {
	f := FetchSizes{Response: 12 << 20, Partition: 600 << 10}
	for _, tc := range []struct {
		name       string
		f          FetchSizes
		expansion  float64
		resp, part int32
	}{
		{"divided by the expansion", f, 6, 2 << 20, 100 << 10},
		{"an expansion below one counts as one", f, 0.5, 12 << 20, 600 << 10},
		{"capped as fetched", FetchSizes{Response: f.Response, Partition: f.Partition, MaxPartition: 64 << 10}, 6, 2 << 20, 64 << 10},
		{"at least minAsked", FetchSizes{Response: 4 << 10, Partition: 4 << 10}, 1000, minAsked, minAsked},
		{"the response holds one partition's fetch", FetchSizes{Response: 100 << 10, Partition: 600 << 10}, 6, 100 << 10, 100 << 10},
		{"within int32", FetchSizes{Response: 1 << 40, Partition: 1 << 40}, 1, math.MaxInt32, math.MaxInt32},
	} {
		resp, part := tc.f.asked(tc.expansion)
		if resp != tc.resp || part != tc.part {
			t.Errorf("%s: asked(%v) = %d, %d; want %d, %d", tc.name, tc.expansion, resp, part, tc.resp, tc.part)
		}
	}
}
