package config

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
)

// Describe writes one row per variable: its name, its current value in c (a set
// secret shows as "***"; a variable set empty that took its default says so), its
// default and its meaning. The rows come from Config's struct tags, in declaration
// order. It returns the first write error.
func Describe(w io.Writer, c Config) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tVALUE\tDEFAULT\tMEANING")
	for _, f := range append(fields(&c), tracingFields(&c.Tracing)...) {
		value := quoteIfNeeded(f.value())
		if slices.Contains(c.emptyDefaulted, f.key) {
			value += " (empty: default used)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.key, value, quoteIfNeeded(f.defaultValue()), f.desc)
	}
	return tw.Flush()
}

// String returns c as space-separated VAR=value pairs, secrets redacted.
func (c Config) String() string {
	var b strings.Builder
	for i, f := range fields(&c) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.key)
		b.WriteByte('=')
		b.WriteString(quoteIfNeeded(f.value()))
	}
	return b.String()
}

// GoString is String, so that %#v redacts too.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

// LogValue implements slog.LogValuer: a group with one attribute per variable,
// keyed by its lower-case name without the SLUICE_ prefix (kafka_brokers, window…),
// secrets redacted.
func (c Config) LogValue() slog.Value {
	fs := fields(&c)
	attrs := make([]slog.Attr, len(fs))
	for i, f := range fs {
		attrs[i] = slog.String(strings.ToLower(strings.TrimPrefix(f.key, Prefix)), f.value())
	}
	return slog.GroupValue(attrs...)
}
