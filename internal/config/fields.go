package config

import (
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// field is one environment variable as declared by the tags of a Config leaf.
type field struct {
	key        string // full variable name, e.g. SLUICE_WINDOW
	goName     string // leaf Go field name, e.g. Window
	def        string // envDefault
	desc       string
	secret     bool
	allowEmpty bool
	v          reflect.Value // the field in the walked Config
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
	memoryType   = reflect.TypeFor[MemoryLimit]()
	levelType    = reflect.TypeFor[slog.Level]()
	secretType   = reflect.TypeFor[Secret]()
)

// fields lists the variables of *c in declaration order; the values are addressable,
// so callers may set them.
func fields(c *Config) []field {
	var fs []field
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			key, ok := sf.Tag.Lookup("env")
			if !ok {
				if sf.Type.Kind() == reflect.Struct {
					walk(v.Field(i))
				}
				continue
			}
			key, _, _ = strings.Cut(key, ",")
			fs = append(fs, field{
				key:        Prefix + key,
				goName:     sf.Name,
				def:        sf.Tag.Get("envDefault"),
				desc:       sf.Tag.Get("desc"),
				secret:     sf.Tag.Get("secret") == "true" || sf.Type == secretType,
				allowEmpty: sf.Tag.Get("allowEmpty") == "true",
				v:          v.Field(i),
			})
		}
	}
	walk(reflect.ValueOf(c).Elem())
	return fs
}

// Variables returns the names of every environment variable Config reads, in
// declaration order.
func Variables() []string {
	var c Config
	fs := fields(&c)
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.key
	}
	return names
}

// defaultOf returns the declared default of the variable name ("" if it has none).
func defaultOf(name string) string {
	var c Config
	for _, f := range fields(&c) {
		if f.key == name {
			return f.def
		}
	}
	return ""
}

// value formats the field's current value the way it would be written in the
// environment; a set secret prints as "***".
func (f field) value() string {
	if f.secret {
		if f.v.IsZero() {
			return ""
		}
		return redacted
	}
	return formatValue(f.v.Interface())
}

// defaultValue is the declared default, redacted for secrets.
func (f field) defaultValue() string {
	if f.secret && f.def != "" {
		return redacted
	}
	return f.def
}

func formatValue(x any) string {
	switch x := x.(type) {
	case time.Duration:
		return formatDuration(x)
	case []string:
		return strings.Join(x, ",")
	case slog.Level:
		return strings.ToLower(x.String())
	case Secret:
		return x.String()
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// formatDuration prints d as time.Duration does, without trailing zero units
// ("1m" rather than "1m0s", "24h" rather than "24h0m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// quoteIfNeeded quotes s when it would be ambiguous unquoted in a KEY=value list.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"'=") {
		return strconv.Quote(s)
	}
	return s
}
