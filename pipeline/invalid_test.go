package pipeline

import "testing"

// TestInvalidWatch: a window of at least invalidWindow records that is almost all
// invalid warns once, with the top reasons; later bad windows do not warn again
// until a good window ended the incident; batches that do not complete a window
// say nothing.
func TestInvalidWatch(t *testing.T) {
	t.Parallel()
	var v invalidWatch
	bad := map[string]int64{"missing_field": 180, "malformed_json": 15, "bad_enum": 4}
	step := func(n int64, reasons map[string]int64) invalidVerdict {
		verdict, _, _, _ := v.add(n, reasons)
		return verdict
	}
	// Four batches of 200 (199 invalid) are not a window yet.
	for i := range 4 {
		if got := step(200, bad); got != invalidNone {
			t.Fatalf("batch %d: verdict %v before a window completed", i, got)
		}
	}
	verdict, invalid, records, top := v.add(200, bad)
	if verdict != invalidStart || invalid != 995 || records != 1000 {
		t.Fatalf("first window: verdict %v, %d of %d invalid; want a warning, 995 of 1000", verdict, invalid, records)
	}
	if top != "missing_field=900, malformed_json=75, bad_enum=20" {
		t.Errorf("top reasons %q", top)
	}
	// Still bad: no second warning.
	if got := step(1000, map[string]int64{"missing_field": 1000}); got != invalidNone {
		t.Errorf("second bad window: verdict %v, want none (warned once)", got)
	}
	// Mostly valid: the incident ends, and a new one warns again.
	if got := step(1000, map[string]int64{"missing_field": 10}); got != invalidEnd {
		t.Errorf("good window: verdict %v, want the end of the incident", got)
	}
	if got := step(1000, nil); got != invalidNone {
		t.Errorf("second good window: verdict %v, want none", got)
	}
	if got := step(1200, map[string]int64{"too_late": 1150}); got != invalidStart {
		t.Errorf("new bad window: verdict %v, want a warning", got)
	}
	// Just under the share does not warn.
	var u invalidWatch
	if verdict, _, _, _ := u.add(1000, map[string]int64{"x": 949}); verdict != invalidNone {
		t.Errorf("94.9%% invalid: verdict %v, want none", verdict)
	}
}
