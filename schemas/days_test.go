package schemas

import (
	"testing"
	"time"
)

func TestDaysSinceEpoch(t *testing.T) {
	for d := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() <= 9999; d = d.AddDate(0, 0, 1) {
		// d is a midnight, so its Unix time is an exact multiple of a day.
		if got, want := daysSinceEpoch(d.Year(), int(d.Month()), d.Day()), d.Unix()/86400; got != want {
			t.Fatalf("%s: got %d, want %d", d.Format(time.DateOnly), got, want)
		}
	}
}
