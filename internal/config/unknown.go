package config

import (
	"slices"
	"strings"

	"github.com/sluicehq/sluice/internal/suggest"
)

// toolVariables are SLUICE_* variables that the test tooling reads (the embedded
// ClickHouse's child process, the test stack, the chaos and crash-loop tests,
// scripts/test.sh).
// They are not Sluice's configuration, and not unknown either.
var toolVariables = []string{
	"SLUICE_CHLOCAL_CHILD",
	"SLUICE_TEST_CLICKHOUSE_ADDR",
	"SLUICE_TEST_CLICKHOUSE_HTTP_ADDR",
	"SLUICE_CHAOS_SEED",
	"SLUICE_CHAOS_EXACTLY_ONCE",
	"SLUICE_CRASH_SEED",
	"SLUICE_CRASH_KILLS",
	"SLUICE_FUZZTIME",
}

// UnknownVar is a SLUICE_* variable in the environment that no setting reads: most
// likely a typo, which would otherwise be ignored in silence.
type UnknownVar struct {
	// Name is the variable as set, e.g. SLUICE_KAFKA_BROKER.
	Name string
	// Closest is the known variable it probably meant, e.g. SLUICE_KAFKA_BROKERS;
	// empty when none is near.
	Closest string
}

// String says what is wrong and what to do, in one line.
func (u UnknownVar) String() string {
	s := u.Name + " is not a Sluice variable and is ignored"
	if u.Closest != "" {
		return s + "; did you mean " + u.Closest + "?"
	}
	return s + " (`sluice config` lists them all)"
}

// UnknownVariables returns the SLUICE_* variables of environ that Config does not
// read, by name, each with the known variable nearest to it. `sluice run`,
// `migrate` and `config` warn about each.
func UnknownVariables(environ map[string]string) []UnknownVar {
	known := Variables()
	// Compared without the prefix, which every name shares and which would
	// otherwise make far-fetched names look near.
	bare := make([]string, len(known))
	for i, k := range known {
		bare[i] = strings.TrimPrefix(k, Prefix)
	}
	var out []UnknownVar
	for name := range environ {
		if !strings.HasPrefix(name, Prefix) || slices.Contains(known, name) || slices.Contains(toolVariables, name) {
			continue
		}
		u := UnknownVar{Name: name}
		if closest, ok := suggest.Closest(strings.TrimPrefix(name, Prefix), bare); ok {
			u.Closest = Prefix + closest
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b UnknownVar) int { return strings.Compare(a.Name, b.Name) })
	return out
}
