package schemagen

import (
	"fmt"
	"math/big"
	"slices"
)

// DiffRows compares two sorted row lists (CompareRows order) and describes up to
// limit differences: rows missing from got, extra rows in got, and rows whose
// values differ. Values are compared as text; pass them through Canonical first.
func DiffRows(want, got []Row, limit int) []string {
	var d []string
	i, j := 0, 0
	for (i < len(want) || j < len(got)) && len(d) < limit {
		switch {
		case j >= len(got) || i < len(want) && CompareRows(want[i], got[j]) < 0:
			d = append(d, fmt.Sprintf("missing %s %q %q", want[i].WindowStart.Format("2006-01-02T15:04:05Z"), want[i].Key, want[i].Values))
			i++
		case i >= len(want) || CompareRows(want[i], got[j]) > 0:
			d = append(d, fmt.Sprintf("extra   %s %q %q", got[j].WindowStart.Format("2006-01-02T15:04:05Z"), got[j].Key, got[j].Values))
			j++
		default:
			if !slices.Equal(want[i].Values, got[j].Values) {
				d = append(d, fmt.Sprintf("row %s %q: want %q, got %q", want[i].WindowStart.Format("2006-01-02T15:04:05Z"), want[i].Key, want[i].Values, got[j].Values))
			}
			i++
			j++
		}
	}
	return d
}

// Sum adds decimal numbers exactly and returns the canonical text of the sum; text
// that is not a number counts as 0.
func Sum(vals ...string) string {
	total := new(big.Rat)
	for _, v := range vals {
		if r, ok := new(big.Rat).SetString(v); ok {
			total.Add(total, r)
		}
	}
	return trimZeros(total.FloatString(40))
}
