package config

import "slices"

// VarError is one problem with one variable, printed "VAR=value: problem", e.g.
// "SLUICE_BATCH_MAX_ROWS=0: must be ≥ 1". Load and Validate return every problem as
// one error joined with errors.Join; Problems splits it again, and errors.As finds
// the variable a problem concerns without reading its text.
type VarError struct {
	// Var is the variable's full name, e.g. SLUICE_BATCH_MAX_ROWS.
	Var string
	// Value is the value as shown to people: quoted where needed, "***" for a secret.
	Value string
	// Problem says what is wrong and what to write instead.
	Problem string
}

func (e *VarError) Error() string {
	return e.Var + "=" + e.Value + ": " + e.Problem
}

// Problems returns the problems joined in an error of Load or Validate, one per
// element, in the order they were found: each a *VarError, apart from the rare
// problem that concerns several variables at once. A nil error has none.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// IsKafkaSecurity reports whether name is one of the Kafka TLS and SASL variables,
// the settings every Kafka client of Sluice shares (the publishers of loadgen and
// produce as well as the consumer).
func IsKafkaSecurity(name string) bool {
	return slices.Contains(kafkaSecurityVars, name)
}
