package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
)

// FromEnv loads the configuration from the process environment; see Load.
func FromEnv() (Config, error) {
	return Load(Environ())
}

// Environ returns the SLUICE_* (and OTEL_*) variables of the process environment, for a caller
// that sets some of them itself before Load (`sluice demo` and `bench` point Sluice
// at their embedded stack).
func Environ() map[string]string {
	m := env.ToMap(os.Environ())
	maps.DeleteFunc(m, func(k, _ string) bool { return !strings.HasPrefix(k, Prefix) && !strings.HasPrefix(k, OTelPrefix) })
	return m
}

// DevFromEnv returns the development tooling's settings from the process
// environment, for the tools that need no other setting (`sluice dev`, the test
// stack). No Dev value is invalid, and the other variables' problems are not those
// tools' concern, so it has no error.
func DevFromEnv() Dev {
	c, _ := FromEnv()
	return c.Dev
}

// Load parses the configuration from environ (variable name to value; a nil map
// is an empty environment, never the process's) and validates it.
//
// The error joins every problem found, parse errors and Validate's alike, one per
// line, each naming the variable and what to write instead. Secrets are never
// included. Even on error, Load returns the Config it could build, with defaults in
// place of values that did not parse, so that `sluice config` can still show it.
func Load(environ map[string]string) (Config, error) {
	if environ == nil {
		environ = map[string]string{}
	}
	c, err := parse(environ)
	tracing, tracingProblems := loadTracing(environ)
	c.Tracing = tracing
	if err == nil {
		return c, errors.Join(append(Problems(c.Validate()), tracingProblems...)...)
	}
	problems, bad, err := parseProblems(err, environ)
	if err != nil {
		return c, err
	}
	// Parse again without the values that did not parse, so the rest of the
	// configuration is still checked and the caller gets defaults in their place.
	clean := maps.Clone(environ)
	for _, k := range bad {
		delete(clean, k)
	}
	c, err = parse(clean)
	c.Tracing = tracing
	if err != nil {
		return c, errors.Join(append(problems, err)...)
	}
	return c, errors.Join(append(append(problems, c.problems()...), tracingProblems...)...)
}

// parse runs the env parser and applies the rules its tags cannot express.
func parse(environ map[string]string) (Config, error) {
	c, err := env.ParseAsWithOptions[Config](env.Options{
		Environment: environ,
		Prefix:      Prefix,
	})
	for _, f := range fields(&c) {
		if v, ok := environ[f.key]; ok && v == "" && f.allowEmpty {
			f.v.SetZero()
		} else if ok && v == "" && f.def != "" {
			c.emptyDefaulted = append(c.emptyDefaulted, f.key)
		}
		if list, ok := f.v.Interface().([]string); ok {
			f.v.Set(reflect.ValueOf(splitList(list)))
		}
	}
	c.Pipeline.overrides = builtinOverrides(environ)
	if c.Pipeline.Workers == 0 {
		c.Pipeline.Workers = runtime.GOMAXPROCS(0)
	}
	return c, err
}

// splitList trims the elements of a comma-separated list and drops empty ones, so
// "a:1, b:2," means two addresses.
func splitList(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseProblems turns the env package's errors into one VarError per variable and
// returns the variables that failed. Errors that do not concern a value (a bad tag,
// an unsupported type) are programming errors and come back as err.
func parseProblems(parseErr error, environ map[string]string) (problems []error, bad []string, err error) {
	var agg env.AggregateError
	if !errors.As(parseErr, &agg) {
		return nil, nil, fmt.Errorf("config: %w", parseErr)
	}
	var c Config
	byName := map[string]field{}
	for _, f := range fields(&c) {
		byName[f.goName] = f
	}
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			return nil, nil, fmt.Errorf("config: %w", e)
		}
		f, ok := byName[pe.Name]
		if !ok {
			return nil, nil, fmt.Errorf("config: %w", e)
		}
		raw := environ[f.key]
		shown := strconv.Quote(raw)
		if f.secret {
			shown = redacted
		}
		problems = append(problems, &VarError{Var: f.key, Value: shown, Problem: parseHint(f, pe.Err)})
		if !slices.Contains(bad, f.key) {
			bad = append(bad, f.key)
		}
	}
	return problems, bad, nil
}

// parseHint says what kind of value f expects, in words a person can act on.
func parseHint(f field, err error) string {
	example := f.def
	switch f.v.Type() {
	case durationType:
		return "not a duration; use e.g. 1m or 30s"
	case byteSizeType:
		if errors.Is(err, strconv.ErrRange) {
			return "size out of range"
		}
		return "not a size; use bytes (e.g. 67108864) or a unit (e.g. 64MiB, 512KiB, 1GiB)"
	case memoryType:
		if errors.Is(err, errNoBudget) {
			return "the memory budget cannot be switched off; use auto (75% of the container's memory limit, else 256MiB) or a size ≥ 64MiB (e.g. 1GiB)"
		}
		return "not a size; use auto (75% of the container's memory limit, else 256MiB) or a size ≥ 64MiB (e.g. 1GiB)"
	case levelType:
		return "not a log level; use debug, info, warn or error"
	}
	switch f.v.Kind() {
	case reflect.Bool:
		return "not a boolean; use true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if errors.Is(err, strconv.ErrRange) {
			return "integer out of range; use e.g. " + example
		}
		return "not an integer; use e.g. " + example
	}
	if f.secret {
		return "cannot be parsed"
	}
	return err.Error()
}
