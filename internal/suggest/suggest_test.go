package suggest

import "testing"

func TestDistance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"payments", "payments", 0},
		{"paymnets", "payments", 1}, // a swap is one edit
		{"payment", "payments", 1},
		{"SLUICE_KAFKA_BROKER", "SLUICE_KAFKA_BROKERS", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},
		{"héllo", "hello", 1}, // runes, not bytes
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Distance(c.b, c.a); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", c.b, c.a, got, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	t.Parallel()
	topics := []string{"__consumer_offsets", "payments", "shipments", "sluice.dlq"}
	for _, c := range []struct {
		name, want string
	}{
		{"paymnets", "payments"},
		{"shipment", "shipments"},
		{"payments", ""}, // itself is not a suggestion
		{"orders", ""},   // nothing near
		{"x", ""},
	} {
		got, ok := Closest(c.name, topics)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("Closest(%q) = %q, %v; want %q", c.name, got, ok, c.want)
		}
	}
}
