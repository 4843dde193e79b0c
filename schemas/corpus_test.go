package schemas

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// namedInput is one record for the differential and comparison tests.
type namedInput struct {
	name string
	data []byte
}

// fuzzSeeds reads the seed corpus of a fuzz target in testdata/fuzz.
func fuzzSeeds(t testing.TB, target string) []namedInput {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []namedInput
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		if len(lines) < 2 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a fuzz seed", e.Name())
		}
		lit := strings.TrimSpace(lines[1])
		lit = strings.TrimSuffix(strings.TrimPrefix(lit, "[]byte("), ")")
		s, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out = append(out, namedInput{"seed/" + e.Name(), []byte(s)})
	}
	return out
}

// hostilePayments are the inputs the comparison table is about: each must be
// rejected under our rules (the reason is in the name).
func hostilePayments() []namedInput {
	p := validPayment
	return []namedInput{
		{"duplicate known key", []byte(`{"event_id":"a",` + p[1:])},
		{"duplicate metadata key", []byte(with(p, "metadata", `{"a":"1","a":"2"}`))},
		{"invalid UTF-8 in string", []byte(with(p, "city", "\"\xff\xfe\""))},
		{"overlong UTF-8", []byte(with(p, "city", "\"\xc0\xaf\""))},
		{"lone high surrogate", []byte(with(p, "city", `"\ud800"`))},
		{"lone low surrogate", []byte(with(p, "city", `"\udc00x"`))},
		{"invalid UTF-8 metadata key", []byte(with(p, "metadata", "{\"\xff\":\"a\"}"))},
		{"1e400 float", []byte(with(p, "risk_score", "1e400"))},
		{"1.0 for integer", []byte(with(p, "amount_minor", "1.0"))},
		{"1e3 for integer", []byte(with(p, "amount_minor", "1e3"))},
		{"string for integer", []byte(with(p, "amount_minor", `"100"`))},
		{"int64 overflow", []byte(with(p, "amount_minor", "9223372036854775808"))},
		{"null required amount", []byte(with(p, "amount_minor", "null"))},
		{"missing amount", []byte(with(p, "amount_minor", ""))},
		{"null metadata value", []byte(with(p, "metadata", `{"a":null}`))},
		{"trailing garbage", []byte(p + "x")},
		{"two objects", []byte(p + p)},
		{"trailing comma", []byte(p[:len(p)-1] + ",}")},
		{"NaN", []byte(with(p, "risk_score", "NaN"))},
		{"leading zero", []byte(with(p, "amount_minor", "012"))},
		{"raw control char", []byte(with(p, "city", "\"a\x01b\""))},
		{"bad escape", []byte(with(p, "city", `"a\qb"`))},
		{"too deep", []byte(with(p, "x", strings.Repeat("[", 40)+strings.Repeat("]", 40)))},
		{"bad unknown-field UTF-8", []byte(with(p, "x", "[\"\xff\"]"))},
		{"timestamp without zone", []byte(with(p, "occurred_at", `"2026-03-01T10:15:30"`))},
		{"bad enum", []byte(with(p, "event_type", `"payment.settled"`))},
		{"risk above 1", []byte(with(p, "risk_score", "1.01"))},
	}
}
